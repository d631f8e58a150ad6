"""Two CPU processes under torchrun (gloo): Caffe's multi-GPU semantics, checked against one process.

Each rank reads every other record with the prototxt's batch (10) and the gradients are averaged, so two
ranks equal one process with batch 20 on the same records. Only rank 0 logs and snapshots."""
from __future__ import annotations

import numpy as np

from fer_caffe_compat.io.blob import blob_to_array
from fer_caffe_compat.proto import caffe_pb2, read_binary

from .train_workspace import torchrun, train_inproc, workspace, write_solver


def _weights(path):
    net = read_binary(path, caffe_pb2.NetParameter())
    return [blob_to_array(b) for layer in net.layer for b in layer.blobs]


def _ddp_and_one(tmp_path, max_iter: int, extra: str):
    """Two workspaces with the same solver: "ddp" (batch 10 per rank) and "one" (batch 20)."""
    (tmp_path / "ddp").mkdir()
    (tmp_path / "one").mkdir()
    ddp = workspace(tmp_path / "ddp")
    one = workspace(tmp_path / "one", batch=20)
    for run in (ddp, one):
        write_solver(run, max_iter=max_iter, extra=extra)
    return ddp, one


def test_two_gloo_processes_train_like_one_with_twice_the_batch(tmp_path, monkeypatch, capsys):
    ddp, one = _ddp_and_one(tmp_path, max_iter=3, extra="test_iter: 1\ntest_interval: 3\ntest_initialization: false\n")
    p = torchrun(ddp, 2, "--solver", "solver.prototxt", "--gpu", "cpu", "--weights", "lenet_iter_0.caffemodel",
                 "--log_file", "train.log")
    assert p.returncode == 0, p.stderr[-3000:]
    # Rank 0 alone logs: one of each line, and the file is rank 0's stderr.
    assert p.stderr.count("] Solving FER_LeNet") == 1
    assert p.stderr.count("Snapshotting to binary proto file lenet_iter_3.caffemodel") == 1
    assert p.stderr.count("Creating training net") == 1
    assert p.stderr.count("Iteration 3, Testing net (#0)") == 1
    assert (ddp / "train.log").read_text().count("Iteration 2, lr = 0.01") == 1
    written = sorted(x.name for x in ddp.glob("lenet_iter_*") if x.name != "lenet_iter_0.caffemodel")
    assert written == ["lenet_iter_3.caffemodel", "lenet_iter_3.solverstate"]
    assert train_inproc(one, monkeypatch, capsys, "--solver", "solver.prototxt", "--weights",
                        "lenet_iter_0.caffemodel").returncode == 0
    for i, (a, b) in enumerate(zip(_weights(ddp / "lenet_iter_3.caffemodel"), _weights(one / "lenet_iter_3.caffemodel"))):
        d = np.abs(a - b).max() / np.abs(b).max()
        assert d < 1e-4, f"blob {i} {a.shape}: two ranks vs batch 20 differ by {d:.3g} of max|w|"


def test_two_ranks_first_update_equals_one_rank_with_twice_the_batch_float64(tmp_path, monkeypatch, capsys):
    """No --weights: each rank fills its own (random_seed + rank, as Caffe seeds solvers), and
    DistributedDataParallel starts both from rank 0's, as Caffe's P2PSync copies the root solver's. In
    float64, 2 ranks x batch 10 give one process's first update with batch 20 to round-off."""
    ddp, one = _ddp_and_one(tmp_path, max_iter=1, extra="snapshot_after_train: true\n")
    p = torchrun(ddp, 2, "--solver", "solver.prototxt", "--gpu", "cpu", "--float64")
    assert p.returncode == 0, p.stderr[-3000:]
    assert train_inproc(one, monkeypatch, capsys, "--solver", "solver.prototxt", "--float64").returncode == 0
    a, b = _weights(ddp / "lenet_iter_1.caffemodel"), _weights(one / "lenet_iter_1.caffemodel")
    assert len(a) == len(b) == 8
    for i, (x, y) in enumerate(zip(a, b)):
        d = np.abs(x - y).max() / np.abs(y).max()
        assert d < 1e-12, f"blob {i} {x.shape}: two ranks vs batch 20 differ by {d:.3g} of max|w|"
