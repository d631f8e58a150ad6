"""Neuron layers: one bottom, one top of the same shape, element-wise (Caffe's NeuronLayer family)."""
from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

from ..proto import caffe_pb2
from .base import Layer, Shape
from .common import check_bottom_count
from .registry import register


class Neuron(Layer):
    """Element-wise layer: subclasses implement ``f(x)``."""

    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param: caffe_pb2.LayerParameter, bottom_shapes: Sequence[Shape],
                 phase: int = caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        self.top_shapes = [self.bottom_shapes[0]]

    def f(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, *bottoms: torch.Tensor) -> list[torch.Tensor]:
        return [self.f(bottoms[0])]


@register("ReLU")
class ReLU(Neuron):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.slope = float(param.relu_param.negative_slope)

    def f(self, x):
        if self.slope == 0:
            return torch.relu(x)
        # Caffe's gradient at x == 0 is negative_slope (x > 0 selects the identity)
        return torch.where(x > 0, x, x * self.slope)


@register("PReLU")
class PReLU(Neuron):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        shape = self.bottom_shapes[0]
        self.check(len(shape) >= 2, f"bottom must have at least 2 axes, got shape {list(shape)}")
        p = param.prelu_param
        self.shared = bool(p.channel_shared)
        filler = p.filler if p.HasField("filler") else caffe_pb2.FillerParameter(type="constant", value=0.25)
        # Caffe: one slope per channel (axis 1), or a 0-axis blob when channel_shared
        self.add_blob(() if self.shared else (shape[1],), filler)

    def f(self, x):
        a = self.blobs[0]
        if not self.shared:
            a = a.view((1, -1) + (1,) * (x.dim() - 2))
        return torch.where(x > 0, x, a.to(x.dtype) * x)


@register("ELU")
class ELU(Neuron):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.alpha = float(param.elu_param.alpha)

    def f(self, x):
        # exp of the clamped input: the unselected branch must not overflow into a NaN gradient
        neg = torch.where(x > 0, torch.zeros_like(x), x)
        return torch.where(x > 0, x, self.alpha * (torch.exp(neg) - 1))


@register("Sigmoid")
class Sigmoid(Neuron):
    def f(self, x):
        return torch.sigmoid(x)


@register("TanH")
class TanH(Neuron):
    def f(self, x):
        return torch.tanh(x)


@register("AbsVal")
class AbsVal(Neuron):
    def f(self, x):
        return torch.abs(x)


@register("BNLL")
class BNLL(Neuron):
    def f(self, x):
        # log(1 + exp(x)) in Caffe's overflow-free form; gradient sigmoid(x)
        return F.softplus(x)


@register("Power")
class Power(Neuron):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        p = param.power_param
        self.power, self.scale, self.shift = float(p.power), float(p.scale), float(p.shift)

    def f(self, x):
        if self.power == 0 or self.scale == 0:
            # Caffe: a constant output, zero gradient
            return torch.full_like(x, 1.0 if self.power == 0 else self.shift ** self.power)
        y = x * self.scale + self.shift
        return y if self.power == 1 else torch.pow(y, self.power)


class _LogBase(Neuron):
    """Shared parameter check of Exp and Log: base -1 means e, otherwise strictly positive."""

    def _base(self, base: float) -> float:
        self.check(base == -1 or base > 0, f"base must be strictly positive or -1 (for e), got {base:g}")
        return math.e if base == -1 else base


@register("Exp")
class Exp(_LogBase):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        p = param.exp_param
        base = self._base(float(p.base))
        log_base = 1.0 if p.base == -1 else math.log(base)
        self.inner = log_base * float(p.scale)
        self.outer = 1.0 if p.shift == 0 else (math.exp(p.shift) if p.base == -1 else base ** float(p.shift))

    def f(self, x):
        y = torch.exp(x * self.inner)
        return y if self.outer == 1 else y * self.outer


@register("Log")
class Log(_LogBase):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        p = param.log_param
        base = self._base(float(p.base))
        self.check(base != 1, "base 1 has no logarithm")
        self.base_scale = 1.0 if p.base == -1 else 1.0 / math.log(base)
        self.scale, self.shift = float(p.scale), float(p.shift)

    def f(self, x):
        y = torch.log(x * self.scale + self.shift)
        return y if self.base_scale == 1 else y * self.base_scale


@register("Threshold")
class Threshold(Neuron):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.threshold = float(param.threshold_param.threshold)

    def f(self, x):
        # not differentiable: Caffe's Backward is NOT_IMPLEMENTED
        return (x.detach() > self.threshold).to(x.dtype)


@register("Clip")
class Clip(Neuron):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.check(param.HasField("clip_param"), "clip_param { min: .. max: .. } is required")
        self.lo, self.hi = float(param.clip_param.min), float(param.clip_param.max)
        self.check(self.lo <= self.hi, f"clip_param.min {self.lo:g} exceeds max {self.hi:g}")

    def f(self, x):
        # Caffe passes the gradient at the bounds too (torch.clamp does not)
        inside = (x >= self.lo) & (x <= self.hi)
        return torch.where(inside, x, torch.clamp(x.detach(), self.lo, self.hi))


@register("Swish")
class Swish(Neuron):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.beta = float(param.swish_param.beta)

    def f(self, x):
        return x * torch.sigmoid(x * self.beta)


@register("Dropout")
class Dropout(Neuron):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.ratio = float(param.dropout_param.dropout_ratio)
        self.check(0 <= self.ratio < 1, f"dropout_ratio must be in [0, 1), got {self.ratio:g}")

    def f(self, x):
        if self.phase != caffe_pb2.TRAIN or self.ratio == 0:
            return x
        # Caffe keeps a unit with probability 1 - ratio and scales kept units by 1 / (1 - ratio)
        keep = torch.rand(x.shape, device=x.device) >= self.ratio
        return x * keep.to(x.dtype) * (1.0 / (1.0 - self.ratio))
