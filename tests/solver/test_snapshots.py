"""Snapshots worth keeping: never non-finite, a failed write logged and retried with the previous snapshot
intact (on a real file system that fills up), the umask's mode, stale temporaries removed, the NaN stop
naming a snapshot whose weights gave a finite loss."""
from __future__ import annotations

import hashlib
import math
import os

import pytest
import torch

from fer_caffe_compat import log
from fer_caffe_compat.proto import caffe_pb2, read_prototxt
from fer_caffe_compat.solver.snapshots import SnapshotRecord

from .. import glog
from ..conftest import FIXTURES
from ..fsfaults import tmpfs

LENET = FIXTURES / "lenet"
SNAPSHOT_BYTES = 914524 + 914035  # one LeNet .caffemodel and its .solverstate


def _solver(prefix, monkeypatch, **kw):
    from fer_caffe_compat.solver.solver import Solver

    monkeypatch.chdir(LENET)
    p = read_prototxt("lenet_solver.prototxt", caffe_pb2.SolverParameter())
    p.snapshot_prefix = str(prefix)
    p.weights.append("lenet_iter_0.caffemodel")
    p.test_interval = 0
    del p.test_iter[:]
    for k, v in kw.items():
        setattr(p, k, v)
    return Solver(p, "lenet_solver.prototxt")


@pytest.fixture
def logged(tmp_path):
    f = log.add_file(tmp_path / "run.log")
    yield lambda: glog.lines((tmp_path / "run.log").read_text())
    log.remove_file(f)


@pytest.mark.parametrize("where", ["weights", "history"])
def test_non_finite_values_are_never_written(tmp_path, monkeypatch, logged, where):
    s = _solver(tmp_path / "lenet", monkeypatch)
    s.iter = 3
    with torch.no_grad():
        (s.net.learnable_params[0].param if where == "weights" else s.history[0][2]).view(-1)[7] = math.inf
    s.snapshot()
    assert not list(tmp_path.glob("lenet_iter_*")) and s.last_snapshot is None
    bad = "layer conv1 blob 0" if where == "weights" else "history blob 2"
    assert [(g.severity, g.msg) for g in logged() if g.severity == "E"] == [
        ("E", f"Snapshot at iteration 3 failed: {tmp_path}/lenet_iter_3.caffemodel: not written: {bad} is not "
              f"finite (the run diverged); training goes on and tries again at the next snapshot (last snapshot: "
              f"none)")]


@pytest.mark.parametrize("fails", ["caffemodel", "solverstate"])
def test_a_snapshot_the_disk_cannot_hold_is_logged_and_retried_and_the_last_one_kept(tmp_path, monkeypatch,
                                                                                    logged, fails):
    """A 4 MiB file system holds two snapshots. A filler written after the snapshot at 2 leaves room for
    neither file (or only the .caffemodel) of the one at 4; it is removed before 6, which is written."""
    with tmpfs(tmp_path, size="4m") as fs:
        s = _solver(fs / "lenet", monkeypatch, max_iter=6, snapshot=2)
        kept = {}
        filler = fs / "filler"

        def hook(it, loss):
            if it == 3:
                kept["sha"] = hashlib.sha256((fs / "lenet_iter_2.caffemodel").read_bytes()).hexdigest()
                free = os.statvfs(fs).f_bavail * os.statvfs(fs).f_frsize
                room = SNAPSHOT_BYTES // 2 // 2 if fails == "caffemodel" else SNAPSHOT_BYTES * 3 // 4
                filler.write_bytes(b"\0" * (free - room))
            if it == 5:
                filler.unlink()
        s.on_iteration = hook
        s.solve()
        assert sorted(x.name for x in fs.iterdir()) == [f"lenet_iter_{i}.{e}" for i in (2, 6)
                                                        for e in ("caffemodel", "solverstate")]
        assert hashlib.sha256((fs / "lenet_iter_2.caffemodel").read_bytes()).hexdigest() == kept["sha"]
        assert s.snapshots.failed is None and s.last_snapshot == f"{fs}/lenet_iter_6.caffemodel"
    errors = [g.msg for g in logged() if g.severity == "E"]
    assert errors == [f"Snapshot at iteration 4 failed: {fs}/lenet_iter_4.{fails}: No space left on device; "
                      f"training goes on and tries again at the next snapshot (last snapshot: "
                      f"{fs}/lenet_iter_2.caffemodel)"]


@pytest.mark.parametrize("fault", ["read-only file system", "parent is a file"])
def test_a_snapshot_an_os_error_stops_is_logged_naming_the_file_and_reason(tmp_path, monkeypatch, logged, fault):
    if fault == "parent is a file":
        (tmp_path / "snaps").write_text("")
        where, reason = tmp_path / "snaps", f"{tmp_path}/snaps: is a file, not a directory"
        s = _solver(where / "lenet", monkeypatch)
        s.snapshot()
    else:
        with tmpfs(tmp_path, read_only=True) as fs:
            s = _solver(fs / "lenet", monkeypatch)
            s.snapshot()
            assert list(fs.iterdir()) == []
        reason = f"{fs}/lenet_iter_0.caffemodel: Read-only file system"
    assert s.snapshots.failed == (0, reason)
    assert [g.msg for g in logged() if g.severity == "E"] == [
        f"Snapshot at iteration 0 failed: {reason}; training goes on and tries again at the next snapshot "
        f"(last snapshot: none)"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_snapshots_get_the_mode_the_umask_gives(tmp_path, monkeypatch, umask, mode):
    s = _solver(tmp_path / "lenet", monkeypatch, max_iter=1)
    old = os.umask(umask)
    try:
        s.snapshot()
    finally:
        os.umask(old)
    for ext in ("caffemodel", "solverstate"):
        assert (tmp_path / f"lenet_iter_0.{ext}").stat().st_mode & 0o777 == mode


def test_a_run_removes_the_stale_temporaries_of_its_own_prefix(tmp_path, monkeypatch, logged):
    stale = [tmp_path / ".lenet_iter_20.caffemodel.a1b2c3d4.tmp", tmp_path / ".lenet_iter_20.solverstate.1f2e3d4c.tmp"]
    others = [tmp_path / ".other_iter_3.caffemodel.a1b2c3d4.tmp", tmp_path / ".lenet_iter_20.caffemodel",
              tmp_path / "lenet_iter_20.caffemodel"]
    for f in stale + others:
        f.write_bytes(b"x" * 10)
    _solver(tmp_path / "lenet", monkeypatch)
    assert [f.exists() for f in stale + others] == [False, False, True, True, True]
    assert [g.msg for g in logged() if g.msg.startswith("Removed ")] == [
        f"Removed {f}, the temporary file of a snapshot whose write was interrupted" for f in stale]


def test_nan_message_names_the_newest_snapshot_whose_weights_gave_a_finite_loss():
    r = SnapshotRecord()
    assert r.nan_message(3) == "no good snapshot to resume from"
    r.wrote(2, "a_iter_2.caffemodel")
    r.wrote(4, "a_iter_4.caffemodel")
    assert r.nan_message(5) == "last good snapshot: a_iter_4.caffemodel"
    assert r.nan_message(4) == ("last good snapshot: a_iter_2.caffemodel (a_iter_4.caffemodel holds the weights "
                                "that gave this loss)")
    assert r.nan_message(2) == ("no good snapshot to resume from (a_iter_2.caffemodel holds the weights that gave "
                                "this loss)")
