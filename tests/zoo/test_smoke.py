"""Each zoo model trains: its own solver (update rule, rates) on a few demo faces (fer_caffe_compat.data.demo,
resized to the model's input) for a few iterations, and the training loss falls: the mean loss of the last
pass over the faces is below 0.9 x that of the first. InfogainLoss nets read the balanced H matrix of those
faces (fer_caffe_compat.data.class_weights, as tools/class_weights writes it). SGD rates are scaled to the
smoke's small batch by the linear scaling rule (rate x batch / the solver's batch); Adam and RMSProp keep
theirs."""
from __future__ import annotations

import numpy as np
import pytest

from fer_caffe_compat.data.class_weights import balanced_weights, db_labels, infogain_matrix, write_infogain
from fer_caffe_compat.proto import caffe_pb2
from fer_caffe_compat.solver.solver import Solver

from .expected import ZOO
from .zoo_nets import MODELS, demo_lmdb, on_demo_data, solver_param, train_val, with_infogain

# (records, batch, iterations) per input size: seconds on one core. The big nets see one repeated batch.
PLAN = {48: (32, 8, 24), 42: (32, 8, 24), 150: (4, 4, 8), 227: (2, 2, 5)}
ITERS = {"cnn2x2": 120, "cnn2x2_weighted": 120}  # five 2x2 convs learn slowly at RMSProp's 0.001


@pytest.fixture(scope="module")
def demo_dbs(tmp_path_factory):
    made = {}

    def get(chw):
        if chw not in made:
            folder = tmp_path_factory.mktemp(f"demo{chw[0]}x{chw[1]}")
            made[chw] = demo_lmdb(folder, chw, PLAN[chw[1]][0])
        return made[chw]
    return get


def _data_shape(name: str) -> tuple[int, int, int]:
    """What the LMDB holds: the model's input before its crop (Tang: 48x48, cropped to 42x42)."""
    c, h, w = ZOO[name]["input"]
    return (c, 48, 48) if h == 42 else (c, h, w)


def _train_batch(net) -> int:
    return next(lp.data_param.batch_size for lp in net.layer
                if lp.type == "Data" and lp.include[0].phase == caffe_pb2.TRAIN)


@pytest.mark.parametrize("name", MODELS)
def test_zoo_model_loss_falls_on_demo_faces(name, demo_dbs, tmp_path):
    e = ZOO[name]
    db, mean = demo_dbs(_data_shape(name))
    n, batch, iters = PLAN[e["input"][1]]
    iters = ITERS.get(name, iters)
    net = on_demo_data(train_val(name), db, mean, batch)
    if any(lp.type == "InfogainLoss" for lp in net.layer):
        h = tmp_path / "h.binaryproto"
        write_infogain(h, infogain_matrix(balanced_weights(db_labels(db), e["classes"])))
        net = with_infogain(net, h, e["classes"])
    p = solver_param(name)
    if p.type == "SGD":
        p.base_lr *= batch / _train_batch(train_val(name))
    p.ClearField("net")
    p.net_param.CopyFrom(net)
    p.max_iter, p.display, p.snapshot, p.snapshot_after_train = iters, 0, 0, False
    p.test_iter[:] = [n // batch]
    p.test_interval = iters
    p.snapshot_prefix = str(tmp_path / name)
    p.solver_mode = p.CPU
    s = Solver(p, name)
    losses: list[float] = []
    s.on_iteration = lambda it, loss: losses.append(loss)
    s.solve()
    per_pass = n // batch
    first, last = np.mean(losses[:per_pass]), np.mean(losses[-per_pass:])
    assert np.isfinite(losses).all() and last < 0.9 * first, f"{name}: losses {np.round(losses, 3)}"
