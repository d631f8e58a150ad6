"""Weight averaging (extension ``ema_decay``): its arithmetic, what tests and snapshots see, exact resume."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.caffemodel import read_caffemodel
from fer_caffe_compat.proto import caffe_pb2, read_binary, read_prototxt
from fer_caffe_compat.solver.ema import net_blobs

from ..conftest import FIXTURES

LENET = FIXTURES / "lenet"


def _solver(tmp_path, monkeypatch, **kw):
    from fer_caffe_compat.solver.solver import Solver
    monkeypatch.chdir(LENET)
    p = read_prototxt("lenet_solver.prototxt", caffe_pb2.SolverParameter())
    p.snapshot_prefix = str(tmp_path / "lenet")
    p.weights.append("lenet_iter_0.caffemodel")
    p.ema_decay = 0.9
    for k, v in kw.items():
        setattr(p, k, v)
    return Solver(p, "lenet_solver.prototxt")


def test_average_follows_the_formula_with_warm_up(tmp_path, monkeypatch):
    s = _solver(tmp_path, monkeypatch, max_iter=5, snapshot=0, test_interval=100, snapshot_after_train=False)
    blobs = net_blobs(s.net)
    expected = [b.detach().clone().double() for b in blobs]
    seen = []
    s.on_iteration = lambda it, loss: seen.append([b.detach().clone().double() for b in blobs])
    s.solve()
    for it, weights in enumerate(seen):
        d = min(0.9, (1 + it) / (10 + it))  # 0.1, 0.1818..., 0.25, ...
        expected = [d * e + (1 - d) * w for e, w in zip(expected, weights)]
    for e, a in zip(expected, s.ema.average):
        assert torch.allclose(a.double(), e, rtol=1e-5, atol=1e-7)
    # BatchNorm-free LeNet: every learnable blob is averaged, and the raw weights moved away from it
    assert len(blobs) == len(s.params) and not torch.equal(blobs[0], s.ema.average[0])


def test_tests_and_snapshots_see_the_average_solverstate_keeps_the_raw(tmp_path, monkeypatch):
    s = _solver(tmp_path, monkeypatch, max_iter=4, snapshot=4, test_interval=2, snapshot_after_train=False)
    tested = []
    real_test = s.test
    s.test = lambda i: (tested.append(all(torch.equal(b, a) for b, a in zip(s.ema.blobs, s.ema.average))),
                        real_test(i))
    s.solve()
    assert tested and all(tested)
    model = read_caffemodel(tmp_path / "lenet_iter_4.caffemodel")
    saved = [np.asarray(b.data, np.float32) for layer in model.layer for b in layer.blobs]
    assert all(np.array_equal(x.reshape(-1), a.reshape(-1).numpy()) for x, a in zip(saved, s.ema.average))
    state = read_binary(tmp_path / "lenet_iter_4.solverstate", caffe_pb2.SolverState())
    raw = [np.asarray(b.data, np.float32) for b in state.raw_weights]
    assert len(raw) == len(s.ema.blobs)
    assert all(np.array_equal(r, b.detach().reshape(-1).numpy()) for r, b in zip(raw, s.ema.blobs))


def test_resume_is_exact(tmp_path, monkeypatch):
    straight = _solver(tmp_path / "a", monkeypatch, max_iter=6, snapshot=3)
    straight.solve()
    resumed = _solver(tmp_path / "a", monkeypatch, max_iter=6, snapshot=0)
    resumed.restore(str(tmp_path / "a" / "lenet_iter_3.solverstate"))
    resumed.skip_data_to_iteration()
    resumed.solve()
    for x, y in zip(straight.ema.blobs + straight.ema.average, resumed.ema.blobs + resumed.ema.average):
        assert torch.equal(x, y)


def test_decay_out_of_range_is_refused(tmp_path, monkeypatch):
    with pytest.raises(CaffeError, match=r"ema_decay must be in \(0, 1\), got 1.5"):
        _solver(tmp_path, monkeypatch, ema_decay=1.5)
