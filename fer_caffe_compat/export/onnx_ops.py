"""ONNX translations that torch's exporter lacks for ops our layers use.

``aten::avg_pool2d`` with ``divisor_override``: onnxscript's torchlib ignores the override and emits a plain
AveragePool, which divides by the window size. Caffe's AVE pooling over an explicitly padded input (see
layers/pooling.py) uses the override to get window sums, so that translation would be silently wrong.
Here a window sum is a depthwise Conv with a kernel of ones, divided by the override.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from onnxscript import ir
from onnxscript import opset20 as op
from onnxscript.function_libs.torch_lib.ops.nn import aten_avg_pool2d

from ..errors import CaffeError


def _pair(v: Sequence[int] | int, default: Sequence[int]) -> list[int]:
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    if not v:
        v = list(default)
    return v * 2 if len(v) == 1 else v


def avg_pool2d(self, kernel_size: Sequence[int], stride: Sequence[int] = (), padding: Sequence[int] = (0, 0),
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None):
    if divisor_override is None:
        return aten_avg_pool2d(self, kernel_size, stride, padding, ceil_mode, count_include_pad)
    k = _pair(kernel_size, ())
    s = _pair(stride, k)
    p = _pair(padding, (0, 0))
    channels = self.shape[1] if self.shape is not None and len(self.shape) == 4 else None
    if ceil_mode or not isinstance(channels, int):
        raise CaffeError("avg_pool2d with divisor_override needs a 4-D input with a known channel count and "
                         "floor windows to be exported")
    ones = op.Constant(value=ir.tensor(np.ones((channels, 1, k[0], k[1]), np.float32)))
    ones = op.CastLike(ones, self)
    sums = op.Conv(self, ones, group=channels, kernel_shape=k, strides=s, pads=[p[0], p[1], p[0], p[1]])
    return op.Div(sums, op.CastLike(op.Constant(value_float=float(divisor_override)), self))


TRANSLATIONS = {torch.ops.aten.avg_pool2d.default: avg_pool2d}


def sort_stable(self, *, stable: bool | None = None, dim: int = -1, descending: bool = False):
    """``aten::sort.stable`` (ArgMax's Caffe tie order): ONNX TopK over the whole axis keeps equal values
    in index order, which is a stable sort, ascending or descending."""
    axis = dim % len(self.shape)
    k = self.shape[axis]
    if not isinstance(k, int):
        raise CaffeError("a stable sort needs a known size on its axis to be exported")
    values, indices = op.TopK(self, op.Constant(value_ints=[k]), axis=axis, largest=descending, sorted=True)
    return values, indices


TRANSLATIONS[torch.ops.aten.sort.stable] = sort_stable
