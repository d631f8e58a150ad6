"""Agreement of an exported file with the PyTorch net: the largest difference relative to the output's
largest magnitude (so a softmax near 1/K and logits of any scale are judged alike)."""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch

from ..errors import CaffeError


def max_relative_error(got: np.ndarray | torch.Tensor, want: np.ndarray | torch.Tensor) -> float:
    """max |got - want| / max |want| (0 when both are all zeros); shapes must agree."""
    g = np.asarray(got.detach().cpu() if isinstance(got, torch.Tensor) else got, np.float64)
    w = np.asarray(want.detach().cpu() if isinstance(want, torch.Tensor) else want, np.float64)
    if g.shape != w.shape:
        raise CaffeError(f"shape {list(g.shape)} differs from the PyTorch net's {list(w.shape)}")
    scale = np.abs(w).max() if w.size else 0.0
    diff = np.abs(g - w).max() if w.size else 0.0
    if not np.isfinite(diff):
        return float("inf")
    return float(diff / scale) if scale > 0 else float(diff)


def run_onnx(path: str | os.PathLike, inputs: Sequence[torch.Tensor]) -> list[np.ndarray]:
    """The outputs onnxruntime (CPU) computes for ``inputs``; onnxruntime is an optional dependency."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise CaffeError("checking an ONNX file needs onnxruntime (pip install onnxruntime)") from None
    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # warnings from the graph optimiser are not ours to print
    opts.intra_op_num_threads = 1  # the same sums in the same order on every machine
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feeds = {i.name: x.detach().cpu().numpy() for i, x in zip(sess.get_inputs(), inputs)}
    return sess.run(None, feeds)
