"""Helpers for the tests that replay Caffe's reference runs (tests/fixtures/lenet, tests/fixtures/solvers)."""
from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
import torch

from fer_caffe_compat import log
from fer_caffe_compat.io.blob import blob_to_array
from fer_caffe_compat.proto import caffe_pb2, read_binary, read_prototxt

RE_LOSS = re.compile(r"\] Iteration (\d+)(?: \([^)]*\))?, loss = (\S+)$")
RE_TEST = re.compile(r"\] +Test net output #(\d+): (\S+) = (\S+)")


def run(fixture_dir: Path, solver_file: str, out_dir: Path, monkeypatch, weights: str | None = None,
        snapshot: str | None = None, dtype=torch.float32, edit=None):
    """Run a solver as Caffe ran it in ``fixture_dir`` (relative paths), snapshots into ``out_dir``.

    Returns (solver, log lines)."""
    from fer_caffe_compat.solver.solver import Solver

    monkeypatch.chdir(fixture_dir)
    p = read_prototxt(solver_file, caffe_pb2.SolverParameter())
    p.snapshot_prefix = str(out_dir / p.snapshot_prefix)
    if weights:
        p.weights.append(weights)
    if edit:
        edit(p)
    path = out_dir / "run.log"
    f = log.add_file(path)
    try:
        s = Solver(p, solver_file, dtype=dtype)
        if snapshot:
            s.restore(snapshot)
        s.solve()
    finally:
        log.remove_file(f)
    return s, path.read_text().splitlines()


def logged_losses(lines: list[str]) -> dict[int, float]:
    out = {}
    for line in lines:
        m = RE_LOSS.search(line)
        if m:
            out[int(m.group(1))] = float(m.group(2))
    return out


def test_outputs(lines: list[str]) -> list[tuple[str, float]]:
    return [(m.group(2), float(m.group(3))) for m in map(RE_TEST.search, lines) if m]


def caffe_losses(tsv: Path) -> dict[int, float]:
    with open(tsv) as f:
        return {int(r["iter"]): float(r["loss"]) for r in csv.DictReader(f, delimiter="\t")}


def max_rel_loss_diff(ours: dict[int, float], caffe: dict[int, float]) -> tuple[float, int]:
    """README metric: max over iterations of |ours - caffe| / max(|caffe|, 1e-3); and the worst iteration."""
    assert sorted(ours) == sorted(caffe), f"iterations differ: {sorted(ours)} vs {sorted(caffe)}"
    worst = max(caffe, key=lambda i: abs(ours[i] - caffe[i]) / max(abs(caffe[i]), 1e-3))
    return abs(ours[worst] - caffe[worst]) / max(abs(caffe[worst]), 1e-3), worst


def model_blobs(path: Path) -> list[np.ndarray]:
    net = read_binary(path, caffe_pb2.NetParameter())
    return [blob_to_array(b) for layer in net.layer for b in layer.blobs]


def state_history(path: Path) -> list[np.ndarray]:
    st = read_binary(path, caffe_pb2.SolverState())
    return [blob_to_array(b) for b in st.history]


def subset(a: np.ndarray) -> np.ndarray:
    """The deterministic subset stored in *_subset.npz: all of a small blob, every 10th value of a large one."""
    a = np.asarray(a).ravel()
    return a if a.size <= 30000 else a[::10]


def weight_report(ours: list[np.ndarray], caffe: list[np.ndarray], names: list[str] | None = None
                  ) -> tuple[float, int, str]:
    """(max over blobs of max|w - caffe| / max|caffe|, number of values off by > 1e-4 of their blob's
    max|caffe|, a text naming the worst blob and its shape)."""
    worst, off, where = 0.0, 0, ""
    for i, (a, b) in enumerate(zip(ours, caffe)):
        a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
        assert a.shape == b.shape, f"blob {i}: shape {a.shape} vs Caffe {b.shape}"
        scale = max(np.abs(b).max(), 1e-30)
        d = np.abs(a - b)
        rel = d.max() / scale
        off += int((d > 1e-4 * scale).sum())
        if rel >= worst:
            worst = rel
            where = f"blob {names[i] if names else i} ({b.size} values): max diff {d.max():.3g}, max|w| {scale:.3g}"
    return worst, off, where


def finite(x: float) -> bool:
    return math.isfinite(x)
