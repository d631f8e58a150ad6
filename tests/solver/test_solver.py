"""The loop's bookkeeping on short LeNet runs: signals, test schedule, several test nets, test_compute_loss,
average_loss, snapshot_after_train, solver checks."""
from __future__ import annotations

import os

import numpy as np
import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2, read_prototxt

from .. import glog
from ..conftest import FIXTURES
from . import reference as R

LENET = FIXTURES / "lenet"


def _edit(**kw):
    def f(p):
        for k, v in kw.items():
            if isinstance(v, list):
                del getattr(p, k)[:]
                getattr(p, k).extend(v)
            else:
                setattr(p, k, v)
    return f




def _run_with_signal(tmp_path, monkeypatch, action, at, **kw):
    from fer_caffe_compat import log
    from fer_caffe_compat.solver.solver import Solver
    monkeypatch.chdir(LENET)
    p = read_prototxt("lenet_solver.prototxt", caffe_pb2.SolverParameter())
    p.snapshot_prefix = str(tmp_path / "lenet")
    p.weights.append("lenet_iter_0.caffemodel")
    _edit(**kw)(p)
    f = log.add_file(tmp_path / "run.log")
    try:
        s = Solver(p, "lenet_solver.prototxt")
        s.on_iteration = lambda it, loss: s.signals.pending.append(action) if it == at else None
        s.solve()
    finally:
        log.remove_file(f)
    return s, (tmp_path / "run.log").read_text()


def test_sigint_stop_snapshots_and_stops_early(tmp_path, monkeypatch):
    s, text = _run_with_signal(tmp_path, monkeypatch, "stop", 3, max_iter=10, snapshot=0)
    assert s.iter == 3 and "Optimization stopped early." in text and "Optimization Done." not in text
    assert sorted(x.name for x in tmp_path.glob("lenet_iter_*")) == ["lenet_iter_3.caffemodel",
                                                                      "lenet_iter_3.solverstate"]


def test_sighup_snapshot_snapshots_and_goes_on(tmp_path, monkeypatch):
    s, text = _run_with_signal(tmp_path, monkeypatch, "snapshot", 2, max_iter=4, snapshot=0)
    assert s.iter == 4 and "Optimization Done." in text
    assert sorted(x.name for x in tmp_path.glob("*.caffemodel")) == ["lenet_iter_2.caffemodel",
                                                                     "lenet_iter_4.caffemodel"]


def test_signal_effect_none_is_ignored(tmp_path, monkeypatch):
    s, _ = _run_with_signal(tmp_path, monkeypatch, "none", 1, max_iter=3, snapshot=0, snapshot_after_train=False)
    assert s.iter == 3 and not list(tmp_path.glob("*.caffemodel"))


def test_tests_at_multiples_of_interval_and_max_iter_with_two_test_nets(tmp_path, monkeypatch):
    _, lines = R.run(LENET, "lenet_solver.prototxt", tmp_path, monkeypatch, weights="lenet_iter_0.caffemodel",
                     edit=_edit(max_iter=5, test_interval=2, test_iter=[1, 2], snapshot=0,
                                test_initialization=False, test_compute_loss=True))
    tests = [msg for msg in glog.messages(lines) if "Testing net" in msg]
    assert tests == ["Iteration 2, Testing net (#0)", "Iteration 2, Testing net (#1)",
                     "Iteration 4, Testing net (#0)", "Iteration 4, Testing net (#1)"]
    # max_iter 5 is not a multiple of 2: no last test (Caffe tests after training only when it is)
    first = lines.index(next(line for line in lines if line.endswith("Iteration 2, Testing net (#0)")))
    assert "] Test loss: " in lines[first + 1]
    assert lines[first + 2].endswith("    Test net output #0: accuracy = " + lines[first + 2].rsplit("= ", 1)[1])


def test_average_loss_smooths_the_displayed_loss(tmp_path, monkeypatch):
    _, lines = R.run(LENET, "lenet_solver.prototxt", tmp_path, monkeypatch, weights="lenet_iter_0.caffemodel",
                     edit=_edit(max_iter=3, average_loss=2, test_interval=0, test_iter=[], snapshot=0))
    smoothed = R.logged_losses(lines)
    raw = [float(line.split("loss = ")[1].split(" ")[0]) for line in lines if "Train net output" in line]
    # Caffe's losses.tsv: iteration 0, 1, 2 raw losses 1.93359, 3.37862, 3.04138
    assert raw == pytest.approx([1.93359, 3.37862, 3.04138], rel=1e-4)
    assert [smoothed[i] for i in range(3)] == pytest.approx([1.93359, (1.93359 + 3.37862) / 2,
                                                             (3.37862 + 3.04138) / 2], rel=1e-4)


def test_test_iter_count_must_match_test_nets(tmp_path, monkeypatch):
    with pytest.raises(CaffeError, match="test_interval must be > 0"):
        R.run(LENET, "lenet_solver.prototxt", tmp_path, monkeypatch, edit=_edit(test_interval=0))
    with pytest.raises(CaffeError, match="exactly one of net"):
        R.run(LENET, "lenet_solver.prototxt", tmp_path, monkeypatch, edit=_edit(train_net="x.prototxt"))


def test_random_seed_makes_fillers_reproducible(tmp_path, monkeypatch):
    from fer_caffe_compat.solver.solver import Solver
    monkeypatch.chdir(LENET)
    weights = []
    for _ in range(2):
        p = read_prototxt("lenet_solver.prototxt", caffe_pb2.SolverParameter())
        s = Solver(p, "lenet_solver.prototxt")
        weights.append([lp.param.detach().numpy().copy() for lp in s.params])
    assert all(np.array_equal(a, b) for a, b in zip(*weights))
    assert os.getcwd() == str(LENET)
