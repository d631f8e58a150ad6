"""Softmax, ArgMax and Reduction: layers that work along (or from) one axis."""
from __future__ import annotations

import torch

from ..proto import caffe_pb2
from .base import Layer, canonical_axis, count
from .common import check_bottom_count
from .registry import register


def caffe_softmax(x: torch.Tensor, axis: int) -> torch.Tensor:
    """Caffe's Softmax arithmetic: subtract the max along ``axis``, exp, divide by the sum."""
    e = torch.exp(x - x.amax(dim=axis, keepdim=True).detach())
    return e / e.sum(dim=axis, keepdim=True)


@register("Softmax")
class Softmax(Layer):
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        shape = self.bottom_shapes[0]
        self.axis = canonical_axis(int(param.softmax_param.axis), len(shape), self)
        self.top_shapes = [shape]

    def forward(self, *bottoms):
        return [caffe_softmax(bottoms[0], self.axis)]


def topk_caffe(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top ``k`` (values, indices) along the last axis in Caffe's order: std::partial_sort of
    (value, index) pairs with std::greater, so equal values come larger index first."""
    d = x.shape[-1]
    vals, idx = torch.sort(x.flip(-1), dim=-1, descending=True, stable=True)
    return vals[..., :k], (d - 1 - idx[..., :k])


@register("ArgMax")
class ArgMax(Layer):
    """Indices (or values with out_max_val) of the top_k entries; without ``axis`` each item's
    count(1) values are ranked and the top is (N, 1 or 2, top_k) padded to Caffe's at least 3 axes."""

    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        p = param.argmax_param
        shape = self.bottom_shapes[0]
        self.k = int(p.top_k)
        self.out_max_val = bool(p.out_max_val)
        self.check(self.k >= 1, "argmax_param.top_k must be >= 1")
        self.axis = canonical_axis(int(p.axis), len(shape), self) if p.HasField("axis") else None
        if self.axis is not None:
            self.check(self.k <= shape[self.axis], f"top_k {self.k} exceeds the {shape[self.axis]} "
                                                   f"entries of axis {self.axis}")
            top = list(shape)
            top[self.axis] = self.k
        else:
            self.check(len(shape) >= 1 and self.k <= count(shape[1:]),
                       f"top_k {self.k} exceeds the {count(shape[1:])} values per item")
            top = [1] * max(len(shape), 3)
            top[0] = shape[0]
            top[1] = 2 if self.out_max_val else 1
            top[2] = self.k
        self.top_shapes = [tuple(top)]

    def forward(self, *bottoms):
        x = bottoms[0].detach()  # Caffe's ArgMax has no backward
        if self.axis is not None:
            vals, idx = topk_caffe(x.movedim(self.axis, -1), self.k)
            out = vals if self.out_max_val else idx.to(x.dtype)
            return [out.movedim(-1, self.axis).contiguous()]
        vals, idx = topk_caffe(x.reshape(x.shape[0], -1), self.k)
        parts = [idx.to(x.dtype)] + ([vals] if self.out_max_val else [])
        out = torch.stack(parts, dim=1)  # (N, 1 or 2, k)
        return [out.reshape(out.shape + (1,) * (len(self.top_shapes[0]) - 3))]


@register("Reduction")
class Reduction(Layer):
    """Reduces all axes from ``axis`` on (SUM, ASUM, SUMSQ, MEAN), times coeff; top shape = shape[:axis]."""

    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        p = param.reduction_param
        shape = self.bottom_shapes[0]
        self.axis = canonical_axis(int(p.axis), len(shape), self)
        self.op = p.operation
        self.coeff = float(p.coeff)
        self.top_shapes = [shape[:self.axis]]

    def forward(self, *bottoms):
        x = bottoms[0]
        flat = x.reshape(tuple(x.shape[:self.axis]) + (-1,))
        R = caffe_pb2.ReductionParameter
        if self.op == R.ASUM:
            y = flat.abs().sum(-1)
        elif self.op == R.SUMSQ:
            y = (flat * flat).sum(-1)
        else:
            y = flat.sum(-1)
        coeff = self.coeff / flat.shape[-1] if self.op == R.MEAN else self.coeff
        return [y if coeff == 1 else y * coeff]
