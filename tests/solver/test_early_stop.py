"""Early stopping (extension): the patience count, the checks, the best snapshot and the stop, on LeNet."""
from __future__ import annotations

import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2, read_prototxt
from fer_caffe_compat.solver.early_stop import EarlyStop

from ..conftest import FIXTURES

LENET = FIXTURES / "lenet"
MAX, MIN = caffe_pb2.SolverParameter.MAX, caffe_pb2.SolverParameter.MIN


def _watcher(patience=2, mode=MAX, output="accuracy", test_net=0, outputs=(("accuracy", "loss"),)):
    p = caffe_pb2.SolverParameter(early_stop_patience=patience, early_stop_output=output, early_stop_mode=mode,
                                  early_stop_test_net=test_net, snapshot_prefix="snap/x")
    return EarlyStop.from_param(p, "s.prototxt", [list(o) for o in outputs])


@pytest.mark.parametrize("mode,values,expected", [
    (MAX, [0.3, 0.4, 0.4, 0.35, 0.5, 0.5, 0.5],
     [(True, False), (True, False), (False, False), (False, True), (True, False), (False, False), (False, True)]),
    (MIN, [2.0, 1.5, 1.6, 1.4, 1.4, 1.45],
     [(True, False), (True, False), (False, False), (True, False), (False, False), (False, True)]),
])
def test_only_a_strict_improvement_resets_the_patience(mode, values, expected):
    es = _watcher(patience=2, mode=mode)
    assert [es.update(i, v) for i, v in enumerate(values)] == expected


def test_patience_zero_is_off_and_the_best_file_is_named_after_the_prefix():
    assert _watcher(patience=0) is None
    assert _watcher().best_file == "snap/x_best.caffemodel"


@pytest.mark.parametrize("kw,fragment", [
    ({"patience": -1}, "early_stop_patience must be >= 0"),
    ({"output": "acc"}, 'early_stop_output "acc" is not an output of test net #0 (its outputs: accuracy, loss)'),
    ({"test_net": 1}, "early_stop_test_net 1: the solver has 1 test net(s)"),
    ({"outputs": ()}, "early_stop_test_net 0: the solver has 0 test net(s)"),
])
def test_bad_settings_are_one_line_errors(kw, fragment):
    with pytest.raises(CaffeError, match="^s.prototxt: ") as e:
        _watcher(**kw)
    assert fragment in str(e.value)


def _run(tmp_path, monkeypatch, **kw):
    from fer_caffe_compat import log
    from fer_caffe_compat.solver.solver import Solver
    monkeypatch.chdir(LENET)
    p = read_prototxt("lenet_solver.prototxt", caffe_pb2.SolverParameter())
    p.snapshot_prefix = str(tmp_path / "lenet")
    p.weights.append("lenet_iter_0.caffemodel")
    p.test_iter[:] = [7]  # 7 x 10 = the 70 faces of the LMDB: every test pass sees the same data
    p.test_interval, p.snapshot, p.display = 1, 0, 0
    for k, v in kw.items():
        setattr(p, k, v)
    f = log.add_file(tmp_path / "run.log")
    try:
        s = Solver(p, "lenet_solver.prototxt")
        s.solve()
    finally:
        log.remove_file(f)
    return s, (tmp_path / "run.log").read_text()


def test_a_run_that_stops_improving_stops_and_keeps_the_best_net(tmp_path, monkeypatch):
    # base_lr 0: every test pass gives the same accuracy, so only the first (iteration 0) is an improvement
    s, text = _run(tmp_path, monkeypatch, base_lr=0.0, max_iter=20, early_stop_patience=3)
    assert s.iter == 3 and "Optimization stopped early." in text and "Optimization Done." not in text
    best = tmp_path / "lenet_best.caffemodel"
    assert best.is_file() and (tmp_path / "lenet_iter_3.caffemodel").is_file()
    assert "early stopping on test net #0 output accuracy (MAX), patience 3 test passes" in text
    assert "Early stopping: best accuracy = " in text and f"at iteration 0; saved {best}" in text
    assert (f"Early stopping at iteration 3: accuracy has not improved for 3 test passes; best "
            in text) and f"at iteration 0 ({best})" in text
    assert text.index("Early stopping at iteration 3") < text.index("Optimization stopped early.")


def test_the_best_file_holds_the_net_of_the_best_test_pass(tmp_path, monkeypatch):
    from fer_caffe_compat.io.caffemodel import read_caffemodel
    s, text = _run(tmp_path, monkeypatch, max_iter=4, early_stop_patience=10, early_stop_output="loss",
                   early_stop_mode=MIN)
    assert s.iter == 4 and "Optimization Done." in text
    best_iter = s.early_stop.best_iter
    assert f"at iteration {best_iter}; saved" in text
    # the same run stopped at best_iter snapshots the net that test pass saw
    again = tmp_path / "again"
    again.mkdir()
    _run(again, monkeypatch, max_iter=best_iter)
    best = read_caffemodel(tmp_path / "lenet_best.caffemodel")
    assert best.SerializeToString() == read_caffemodel(again / f"lenet_iter_{best_iter}.caffemodel").SerializeToString()


def test_two_gloo_processes_stop_together(tmp_path):
    """Rank 0 tests and decides; rank 1 must leave the loop at the same iteration, or the run would hang."""
    from ..cli.train_workspace import torchrun, workspace, write_solver
    run = workspace(tmp_path)
    write_solver(run, base_lr=0.0, max_iter=20, extra="test_iter: 7\ntest_interval: 1\nearly_stop_patience: 2\n")
    p = torchrun(run, 2, "--solver", "solver.prototxt", "--gpu", "cpu", "--weights", "lenet_iter_0.caffemodel")
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stderr.count("Early stopping at iteration 2: accuracy has not improved for 2 test passes") == 1
    assert p.stderr.count("Optimization stopped early.") == 1
    assert (run / "lenet_best.caffemodel").is_file() and (run / "lenet_iter_2.caffemodel").is_file()


def test_a_best_net_that_cannot_be_written_is_an_error_line_and_training_goes_on(tmp_path, monkeypatch):
    (tmp_path / "lenet_best.caffemodel").mkdir()  # a folder where the file should go: the write fails
    s, text = _run(tmp_path, monkeypatch, max_iter=2, early_stop_patience=5)
    assert s.iter == 2 and "Optimization Done." in text
    assert "] Early stopping: best accuracy = " in text and "but the net could not be saved: " in text
