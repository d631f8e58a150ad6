"""tools/train as a user runs it: logs, --log, snapshots, resume, fine-tuning, and the one-line errors."""
from __future__ import annotations

import re

import numpy as np
import pytest

from fer_caffe_compat.io.blob import blob_to_array
from fer_caffe_compat.proto import caffe_pb2, read_binary

from .train_workspace import assert_error_last_line, train, train_inproc, workspace, write_solver


def _weights(path):
    net = read_binary(path, caffe_pb2.NetParameter())
    return [blob_to_array(b) for layer in net.layer for b in layer.blobs]


@pytest.fixture
def run(tmp_path):
    return workspace(tmp_path)


def test_train_logs_to_stderr_and_file_and_snapshots(run):
    write_solver(run, max_iter=4, snapshot=2)
    p = train(run, "-solver", "solver.prototxt", "-weights", "lenet_iter_0.caffemodel", "--log", "train.log")
    assert p.returncode == 0, p.stderr[-2000:]
    assert (run / "train.log").read_text() == p.stderr
    body = [line.split("] ", 1)[1] for line in p.stderr.splitlines() if re.match(r"^[IWEF]\d{4} ", line)]
    assert body[0] == "Use CPU." and body[-1] == "Optimization Done."
    assert "Solving FER_LeNet" in body and "Learning Rate Policy: step" in body
    assert "Iteration 0, lr = 0.01" in body
    assert "    Train net output #0: loss = 1.93359 (* 1 = 1.93359 loss)" in body
    assert "Snapshotting to binary proto file lenet_iter_2.caffemodel" in body
    assert "Snapshotting solver state to binary proto file lenet_iter_4.solverstate" in body
    st = read_binary(run / "lenet_iter_4.solverstate", caffe_pb2.SolverState())
    assert (st.iter, st.learned_net, len(st.history)) == (4, "lenet_iter_4.caffemodel", 8)


def test_train_resume_continues_from_our_snapshot(run, monkeypatch, capsys):
    write_solver(run, max_iter=4, snapshot=2)
    assert train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", "--weights", "lenet_iter_0.caffemodel").returncode == 0
    straight = _weights(run / "lenet_iter_4.caffemodel")
    (run / "lenet_iter_4.caffemodel").unlink()
    p = train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", "--snapshot",
                     "lenet_iter_2.solverstate", "--log", "resume.log")
    assert p.returncode == 0, p.stderr[-2000:]
    text = (run / "resume.log").read_text()
    assert "caffe.cpp:235] Resuming from lenet_iter_2.solverstate" in text
    assert "Iteration 1 (" not in text and "Iteration 2 (" in text
    # Caffe restarts the data cursor at 0 on resume: iterations 2, 3 read batches 0, 1 instead of 2, 3.
    resumed = _weights(run / "lenet_iter_4.caffemodel")
    assert any(not np.array_equal(a, b) for a, b in zip(straight, resumed))


def test_missing_net_file_is_one_line_error(run, monkeypatch, capsys):
    write_solver(run)
    (run / "lenet_train_test.prototxt").unlink()
    assert_error_last_line(train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt"), "lenet_train_test.prototxt", "does not exist")


def test_missing_solver_file_is_one_line_error(run):
    p = train(run, "--solver", "nope.prototxt")
    assert_error_last_line(p, "nope.prototxt")
    assert len(p.stderr.strip().splitlines()) == 1


def test_unknown_lr_policy_is_one_line_error(run, monkeypatch, capsys):
    write_solver(run, policy="cosine")
    assert_error_last_line(train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt"), 'unknown lr_policy "cosine"')


def test_unknown_solver_type_is_one_line_error(run, monkeypatch, capsys):
    write_solver(run, type="Adamax")
    assert_error_last_line(train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt"), 'unknown solver type "Adamax"')


def test_solverstate_of_another_solver_type_is_one_line_error(run, monkeypatch, capsys):
    write_solver(run, max_iter=1, snapshot=1)
    assert train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt").returncode == 0
    write_solver(run, "adam.prototxt", type="Adam", base_lr=0.001, max_iter=2)
    p = train_inproc(run, monkeypatch, capsys, "--solver", "adam.prototxt", "--snapshot", "lenet_iter_1.solverstate")
    assert_error_last_line(p, "lenet_iter_1.solverstate", "8 history blobs", "need 16")


def test_solverstate_of_another_net_is_one_line_error(run, monkeypatch, capsys):
    write_solver(run, max_iter=1, snapshot=1)
    assert train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt").returncode == 0
    net = run / "lenet_train_test.prototxt"
    net.write_text(net.read_text().replace("num_output: 50", "num_output: 40"))
    p = train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", "--snapshot", "lenet_iter_1.solverstate")
    assert_error_last_line(p, "lenet_iter_1.solverstate", "history[2]", "(40, 20, 5, 5)")


def test_gpu_without_gpu_is_one_line_error_suggesting_cpu(run):
    write_solver(run)
    p = train(run, "--solver", "solver.prototxt", "--gpu", "0")
    assert_error_last_line(p, "--gpu 0", "no GPU", "--gpu cpu")
    assert len(p.stderr.strip().splitlines()) == 1


def test_nan_loss_stops_naming_iteration_and_keeps_last_snapshot(run):
    write_solver(run, base_lr=1e30, momentum=0.0, policy="fixed", max_iter=10, snapshot=1)
    p = train(run, "--solver", "solver.prototxt", "--weights", "lenet_iter_0.caffemodel")
    last = assert_error_last_line(p, "loss is NaN")
    it = int(re.search(r"iteration (\d+)", last).group(1))
    assert f"last snapshot kept: lenet_iter_{it}.caffemodel" in last
    assert (run / f"lenet_iter_{it}.caffemodel").exists() and not (run / f"lenet_iter_{it + 1}.caffemodel").exists()


def test_weights_and_snapshot_together_is_an_error(run, monkeypatch, capsys):
    write_solver(run)
    p = train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", "--weights", "a.caffemodel", "--snapshot", "b.solverstate")
    assert_error_last_line(p, "not both")
