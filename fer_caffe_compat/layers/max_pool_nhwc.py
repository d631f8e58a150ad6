"""MAX pooling of a contiguous NCHW CPU tensor, computed channels-last: the same values and argmax.

PyTorch's CPU max_pool2d on NCHW runs a scalar loop per output; on NHWC it runs vectorised across the
channels. For LeNet-FER's pool1 (64x20x44x44 -> 22x22, batch 64) on one core of the 2-core machine:
NCHW 14 ms forward, NHWC 2 ms plus 2.4 ms for the transposing copy; with its backward (kept NCHW,
PyTorch's own max_pool2d_with_indices_backward on the NHWC pass's indices), 10 ms against 16.6 ms.
Both kernels scan each window in row order and keep the first maximum (a NaN takes the place, as in
max_pool2d), and store the argmax as the flat index h * W + w, so the top, Caffe's mask and the gradient
are bit for bit those of the NCHW kernel: only the speed differs (tests/layers/test_pooling.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

_NHWC = torch.channels_last


def applies(x: torch.Tensor) -> bool:
    """A contiguous NCHW float tensor on the CPU, outside torch.compile, export and tracing (the plain op)."""
    return (x.device.type == "cpu" and x.dim() == 4 and x.is_floating_point() and x.shape[1] > 1
            and x.is_contiguous() and not x.is_contiguous(memory_format=_NHWC)
            and not torch.compiler.is_compiling() and not torch.jit.is_tracing())


def max_pool(x: torch.Tensor, kernel, stride, pad, ceil: bool, want_mask: bool) -> list[torch.Tensor]:
    """[top] or [top, argmax as int64], as ``F.max_pool2d(x, ..., return_indices=want_mask)``, in NCHW."""
    if torch.is_grad_enabled() and x.requires_grad:
        y, idx = _MaxPoolNHWC.apply(x, tuple(kernel), tuple(stride), tuple(pad), ceil)
        return [y, idx] if want_mask else [y]
    out = F.max_pool2d(x.contiguous(memory_format=_NHWC), kernel, stride, pad, ceil_mode=ceil,
                       return_indices=want_mask)
    return [t.contiguous() for t in out] if want_mask else [out.contiguous()]


class _MaxPoolNHWC(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, pad, ceil):  # type: ignore[override]
        y, idx = F.max_pool2d(x.contiguous(memory_format=_NHWC), kernel, stride, pad, ceil_mode=ceil,
                              return_indices=True)
        idx = idx.contiguous()
        ctx.save_for_backward(x, idx)
        ctx.geometry = (list(kernel), list(stride), list(pad), ceil)
        ctx.mark_non_differentiable(idx)
        return y.contiguous(), idx

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, _gidx):  # type: ignore[override]
        x, idx = ctx.saved_tensors
        kernel, stride, pad, ceil = ctx.geometry
        gx = torch.ops.aten.max_pool2d_with_indices_backward(gy.contiguous(), x, kernel, stride, pad, [1, 1],
                                                             ceil, idx)
        return gx, None, None, None, None
