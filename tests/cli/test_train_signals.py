"""Real signals to a real tools/train process: SIGTERM (snapshot and stop, or Caffe's plain termination),
SIGINT while training and while the tool is still starting (torch importing)."""
from __future__ import annotations

import re
import signal
import time

import pytest

from .. import glog
from .train_process import TrainProcess
from .train_workspace import workspace, write_solver

LONG = 100000  # max_iter of a run that only a signal ends


@pytest.fixture
def run(tmp_path):
    return workspace(tmp_path)


def _stopped(p, sig: signal.Signals) -> int:
    """The one line and exit status of a run a signal stopped; returns the iteration it names."""
    assert p.returncode == 128 + sig, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr
    lines = p.stderr.strip().splitlines()
    assert not any(x.startswith("train: ") for x in lines[:-1]), lines[-5:]
    m = re.fullmatch(rf"train: stopped by {sig.name} at iteration (\d+); last snapshot: (\S+)", lines[-1])
    assert m, lines[-1]
    assert m[2] == f"lenet_iter_{m[1]}.caffemodel"
    assert "Optimization stopped early." in glog.messages(lines)
    return int(m[1])


def test_sigterm_writes_a_snapshot_and_stops(run):
    """The extension's default: what a preempting cluster needs before its SIGKILL (even with
    snapshot_after_train off, which Caffe's SIGINT stop would honour)."""
    write_solver(run, max_iter=LONG, extra="snapshot_after_train: false\n")
    t = TrainProcess(run, "--solver", "solver.prototxt", "--weights", "lenet_iter_0.caffemodel")
    t.wait_for_line(lambda x: "] Iteration 2 (" in x)
    t.signal(signal.SIGTERM)
    it = _stopped(t.finish(), signal.SIGTERM)
    assert it >= 2 and sorted(x.name for x in run.glob("lenet_iter_*")) == \
        sorted(["lenet_iter_0.caffemodel", f"lenet_iter_{it}.caffemodel", f"lenet_iter_{it}.solverstate"])


def test_sigterm_effect_none_is_caffes_plain_termination(run):
    write_solver(run, max_iter=LONG)
    t = TrainProcess(run, "--solver", "solver.prototxt", "--sigterm_effect", "none")
    t.wait_for_line(lambda x: "] Iteration 1 (" in x)
    t.signal(signal.SIGTERM)
    p = t.finish()
    assert p.returncode == -signal.SIGTERM and not list(run.glob("lenet_iter_*.solverstate"))
    assert "Traceback" not in p.stderr and "train: " not in p.stderr


def test_sigint_stops_with_a_snapshot_one_line_and_status_130(run):
    write_solver(run, max_iter=LONG)
    t = TrainProcess(run, "--solver", "solver.prototxt")
    t.wait_for_line(lambda x: "] Iteration 1 (" in x)
    t.signal(signal.SIGINT)
    it = _stopped(t.finish(), signal.SIGINT)
    assert (run / f"lenet_iter_{it}.solverstate").exists()


@pytest.mark.parametrize("when", ["at once", "0.3 s", "1 s", "after the first log line"])
def test_ctrl_c_while_the_tool_starts_is_one_line_and_never_lost(run, when):
    """Whatever it interrupts (the interpreter starting, torch importing, the nets being built), Ctrl-C ends
    the run: one line and status 130, or, before any Python runs, death by SIGINT with nothing printed.
    Never a traceback, never a run that trains on (it would run for LONG iterations)."""
    write_solver(run, max_iter=LONG)
    t = TrainProcess(run, "--solver", "solver.prototxt")
    try:
        if when == "after the first log line":
            t.wait_for_line(lambda x: glog.parse(x) is not None)
        elif when != "at once":
            time.sleep(float(when.split()[0]))
        t.signal(signal.SIGINT)
        p = t.finish(timeout=60)
    finally:
        t.signal(signal.SIGKILL)
    assert "Traceback" not in p.stderr and "KeyboardInterrupt" not in p.stderr, p.stderr
    lines = p.stderr.strip().splitlines()
    if p.returncode == -signal.SIGINT:
        assert lines == []
        return
    assert p.returncode == 130, (p.returncode, lines[-5:])
    assert not any(x.startswith("train: ") for x in lines[:-1]), lines[-5:]
    assert lines[-1] == "train: interrupted" or lines[-1].startswith("train: stopped by SIGINT at iteration 0;")
