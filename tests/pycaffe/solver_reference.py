"""Shared helpers of the pycaffe solver tests: the reference run's files (fixtures/pycaffe/solvers, copied from
real pycaffe's run), a working copy of them per test, the weights of a net, and the glog lines of a call."""
from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from .. import glog

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "pycaffe" / "solvers"
J = json.loads((HERE / "solvers.json").read_text())
R = dict(np.load(HERE / "solvers.npz"))
TYPES = ["SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"]


@pytest.fixture()
def work(tmp_path, monkeypatch) -> Path:
    """A copy of the reference folder as the working directory (solver files name paths relative to it)."""
    dst = tmp_path / "solvers"
    shutil.copytree(HERE, dst)
    for old in (dst / "snap").glob("*_iter_5.*"):
        old.unlink()
    monkeypatch.chdir(dst)
    return dst


def weights(net) -> dict[str, np.ndarray]:
    return {f"{k}/{i}": b.data.copy() for k, v in net.params.items() for i, b in enumerate(v)}


def diffs(net) -> dict[str, np.ndarray]:
    return {f"{k}/{i}": b.diff.copy() for k, v in net.params.items() for i, b in enumerate(v)}


def reference_weights(prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v for k, v in R.items() if k.startswith(prefix)}


def assert_weights(got: dict, want: dict, what: str) -> None:
    assert sorted(got) == sorted(want), what
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-6, err_msg=f"{what}: {k}")


@contextlib.contextmanager
def glog_lines(path: Path):
    """Collect the glog lines written inside the block as [severity, src, message] (the JSON's form)."""
    from fer_caffe_compat import log

    got: list[list[str]] = []
    f = log.add_file(path)
    try:
        yield got
    finally:
        log.remove_file(f)
        got.extend([g.severity, g.src, g.msg] for g in glog.lines(path.read_text()))
        path.unlink()


def without_iter_s(lines: list) -> list:
    """Glog lines minus what depends on the clock (iter/s and seconds of the display line) and the data
    layer's "Restarting data prefetching" (printed by Caffe's prefetch thread, in no fixed place)."""
    out = []
    for sev, src, msg in lines:
        if src.startswith("data_layer.cpp"):
            continue
        if src == "solver.cpp:239":
            msg = msg.split(" (")[0] + ", loss = " + msg.split("loss = ")[1]
        out.append([sev, src, msg])
    return out
