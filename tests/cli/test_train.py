"""tools/train as a user runs it: logs, --log, snapshots, resume, fine-tuning, and the one-line errors."""
from __future__ import annotations

import re

import numpy as np
import pytest

from fer_caffe_compat.io.blob import blob_to_array
from fer_caffe_compat.proto import caffe_pb2, read_binary

from .. import glog
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
    body = glog.messages(p.stderr)
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
    write_solver(run, policy="triangular")
    assert_error_last_line(train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt"), 'unknown lr_policy "triangular"')


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


def test_nan_loss_stops_naming_the_last_good_snapshot(run, monkeypatch, capsys):
    """From iteration 4 the step policy multiplies the rate by 1e30: the snapshot at 5 holds the weights that
    give the NaN loss at 5 (tools/test scores NaN on it), the one at 4 still gives a finite loss."""
    write_solver(run, policy="step", gamma=1e30, stepsize=4, max_iter=10, snapshot=1)
    p = train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", "--weights", "lenet_iter_0.caffemodel")
    last = assert_error_last_line(p, "loss is NaN, training stopped; last good snapshot: ")
    it = int(re.search(r"iteration (\d+)", last).group(1))
    good = re.search(r"last good snapshot: (\S+)", last).group(1)
    assert it >= 5 and good == f"lenet_iter_{it - 1}.caffemodel"
    assert f"(lenet_iter_{it}.caffemodel holds the weights that gave this loss)" in last
    assert not list(run.glob(f"lenet_iter_{it + 1}.*"))
    from fer_caffe_compat import log
    from fer_caffe_compat.cli.test import main as score
    monkeypatch.chdir(run)
    for snap, finite in ((good, True), (f"lenet_iter_{it}.caffemodel", False)):
        assert score(["--model", "lenet_train_test.prototxt", "--weights", snap, "--iterations", "1",
                      "--log", f"{snap}.log"]) == 0
        loss = [g.msg for g in glog.lines((run / f"{snap}.log").read_text()) if g.msg.startswith("Loss: ")]
        assert (loss[0] not in ("Loss: nan", "Loss: -nan")) == finite, (snap, loss)
    assert not log._files


def test_nan_at_the_first_snapshot_says_there_is_no_good_one(run, monkeypatch, capsys):
    """The issue's case: base_lr 1000 with a snapshot every 2 iterations diverges before any snapshot that
    gave a finite loss."""
    write_solver(run, base_lr=1000, policy="fixed", max_iter=10, snapshot=2)
    last = assert_error_last_line(train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", "--weights",
                                               "lenet_iter_0.caffemodel"), "loss is NaN")
    it = int(re.search(r"iteration (\d+)", last).group(1))
    if it < 4:  # no snapshot was taken before the NaN iteration
        assert "no good snapshot to resume from" in last
    else:
        assert f"last good snapshot: lenet_iter_{(it - 1) // 2 * 2}.caffemodel" in last


def test_a_run_whose_last_snapshot_failed_exits_1_naming_it(run, monkeypatch, capsys, tmp_path):
    from ..fsfaults import tmpfs
    with tmpfs(tmp_path, size="512k") as fs:  # smaller than one LeNet .caffemodel
        write_solver(run, max_iter=2, snapshot=1, prefix=f"{fs}/lenet")
        p = train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", "--log", "t.log")
        assert_error_last_line(p, f"the snapshot at iteration 2 failed: {fs}/lenet_iter_2.caffemodel: No space "
                                  "left on device; last snapshot: none")
        assert list(fs.iterdir()) == []
    errors = [g.msg for g in glog.lines((run / "t.log").read_text()) if g.severity == "E"]
    assert [e.split(" failed:")[0] for e in errors] == ["Snapshot at iteration 1", "Snapshot at iteration 2"]


def test_weights_and_snapshot_together_is_an_error(run, monkeypatch, capsys):
    write_solver(run)
    p = train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", "--weights", "a.caffemodel", "--snapshot", "b.solverstate")
    assert_error_last_line(p, "not both")
