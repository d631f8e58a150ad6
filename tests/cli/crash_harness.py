"""The crash harness: SIGKILL a real tools/train run at random moments and inside snapshot writes, then check
that the newest snapshot loads and the newest solverstate resumes, and resume from it; the last run trains to
the end. Kill moments are chosen from what the run shows (its Nth log line, the start of a snapshot write, a
temporary file appearing), never from wall-clock times: where exactly SIGKILL lands varies from run to run,
the checks hold for every landing.

    make crashtest            # 30 kills (python -m tests.cli.crash_harness --kills 30)
    tests/cli/test_train_crash.py runs a short version in `make test`.
"""
from __future__ import annotations

import argparse
import contextlib
import random
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .train_process import TrainProcess
from .train_workspace import workspace, write_solver

SNAPSHOT_EVERY = 2
EVENTS = ("display line", "caffemodel write", "solverstate write", "temporary file")


@dataclass
class Report:
    kills: list[tuple[str, int, int | None]] = field(default_factory=list)  # (event, n, resumable iteration)
    inside_writes: int = 0  # kills that left a temporary snapshot file (SIGKILL landed inside a write)
    stale_removed: int = 0  # such files the next run removed at its start
    final_iter: int = 0

    def summary(self) -> str:
        return (f"{len(self.kills)} kills ({', '.join(f'{e} #{n}' for e, n, _ in self.kills)}); "
                f"{self.inside_writes} landed inside a snapshot write and left a temporary file, "
                f"{self.stale_removed} such files removed by the next run; every newest snapshot loaded and "
                f"resumed; the last run resumed and finished at iteration {self.final_iter}")


def _iter_of(p: Path) -> int:
    return int(re.search(r"_iter_(\d+)\.", p.name).group(1))


def check_newest(run: Path) -> int | None:
    """Load the newest .caffemodel into the net (every layer, finite values) and check that the newest
    .solverstate fits the net and names a .caffemodel that loads; returns that solverstate's iteration."""
    from fer_caffe_compat import log
    from fer_caffe_compat.net import Net
    from fer_caffe_compat.net_weights import load_weights
    from fer_caffe_compat.proto import caffe_pb2
    from fer_caffe_compat.solver.state import read_state

    old, log.quiet = log.quiet, True
    try:
        with contextlib.chdir(run):  # the net's Data layers read ../imageset
            net = Net.from_file("lenet_train_test.prototxt", phase=caffe_pb2.TEST)
        models = sorted(run.glob("lenet_iter_*.caffemodel"), key=_iter_of)
        load_weights(net, str(models[-1]))
        assert all(np.isfinite(lp.param.detach().numpy()).all() for lp in net.learnable_params), models[-1]
        states = sorted(run.glob("lenet_iter_*.solverstate"), key=_iter_of)
        if not states:
            return None
        shapes = [tuple(lp.param.shape) for lp in net.learnable_params]
        st = read_state(states[-1], shapes)
        assert st.iter == _iter_of(states[-1]) and (run / st.learned_net).is_file(), st.learned_net
        load_weights(net, str(run / st.learned_net))
        return st.iter
    finally:
        log.quiet = old


def _kill_at(t: TrainProcess, run: Path, event: str, n: int, stale: list[Path]) -> None:
    if event == "display line":
        seen = []
        t.wait_for_line(lambda x: "] Iteration " in x and " iter/s, " in x and (seen.append(x) or len(seen) >= n))
    elif event in ("caffemodel write", "solverstate write"):
        needle = "Snapshotting to binary proto file" if event == "caffemodel write" else \
            "Snapshotting solver state to binary proto file"
        seen = []
        t.wait_for_line(lambda x: needle in x and (seen.append(x) or len(seen) >= n))
    else:
        t.wait_for_file(run, ".lenet_iter_*.tmp", exclude=frozenset(stale))  # a new one: a write under way
    t.signal()


def crash_and_resume(tmp: Path, kills: int, seed: int, last_run: int = 2 * SNAPSHOT_EVERY) -> Report:
    """``kills`` runs killed at random events (each resuming from the newest solverstate), then one that
    resumes and trains ``last_run`` more iterations to its end. The killed runs have no end in sight
    (max_iter 10**6), so each event surely comes."""
    run = workspace(tmp)
    write_solver(run, max_iter=10**6, snapshot=SNAPSHOT_EVERY)
    rng = random.Random(seed)
    report = Report()
    resume: int | None = None
    for k in range(kills + 1):
        start = ["--snapshot", f"lenet_iter_{resume}.solverstate"] if resume is not None else \
            ["--weights", "lenet_iter_0.caffemodel"]
        stale = sorted(run.glob(".lenet_iter_*.tmp"))
        if k == kills:  # the last run trains to its end
            end = (resume or 0) + last_run
            write_solver(run, max_iter=end, snapshot=SNAPSHOT_EVERY)
            p = TrainProcess(run, "--solver", "solver.prototxt", *start).finish()
            assert p.returncode == 0, p.stderr[-3000:]
            report.stale_removed += sum(f"Removed {x.name}," in p.stderr for x in stale)
            assert not list(run.glob(".lenet_iter_*.tmp")), "temporary snapshot files left behind"
            report.final_iter = check_newest(run)
            assert report.final_iter == end
            return report
        t = TrainProcess(run, "--solver", "solver.prototxt", *start)
        event = EVENTS[rng.randrange(len(EVENTS))]
        n = rng.randint(1, 3) if event != "display line" else rng.randint(1, 2 * SNAPSHOT_EVERY + 1)
        n = 1 if event == "temporary file" else n  # the first new one
        try:
            _kill_at(t, run, event, n, stale)
        finally:
            t.signal()
            p = t.finish()
        assert p.returncode == -9, (event, n, p.returncode, p.stderr[-3000:])
        report.stale_removed += sum(f"Removed {x.name}," in p.stderr for x in stale)
        assert not [x for x in stale if x.exists()], "the run did not remove the stale temporary files"
        report.inside_writes += bool(list(run.glob(".lenet_iter_*.tmp")))
        resume = check_newest(run)
        report.kills.append((event, n, resume))
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--seed", type=int, default=8)
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        report = crash_and_resume(Path(tmp), a.kills, a.seed)
    print(f"crashtest: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
