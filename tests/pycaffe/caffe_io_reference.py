"""The caffe_io reference (real pycaffe's outputs, tests/fixtures/pycaffe/caffe_io/) for the caffe.io,
Classifier and Detector tests: the arrays, the JSON facts, and the comparison at the pack's tolerance."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DIR = Path(__file__).resolve().parents[1] / "fixtures" / "pycaffe" / "caffe_io"
NPZ = dict(np.load(DIR / "caffe_io.npz"))
JSON = json.loads((DIR / "caffe_io.json").read_text())
ATOL = 1e-5  # image ops: same scikit-image / scipy, float32 arithmetic


def keys(prefix: str) -> list[str]:
    return sorted(k for k in NPZ if k.startswith(prefix))


def assert_matches(key: str, got: np.ndarray) -> None:
    """Shape and dtype exactly, values to ATOL, naming the case and the largest difference."""
    want = NPZ[key]
    got = np.asarray(got)
    assert (got.shape, got.dtype) == (want.shape, want.dtype), \
        f"{key}: {got.shape} {got.dtype}, pycaffe {want.shape} {want.dtype}"
    diff = float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
    assert diff <= ATOL, f"{key}: largest difference {diff:.3g}"


def error_record(fn) -> list[str] | None:
    """[exception type, message] as the pack records them, or None when ``fn`` returns."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the record is the point
        mod = type(e).__module__
        return [f"{mod}.{type(e).__qualname__}", str(e)]
    return None
