"""BatchNorm, Scale, Bias and MVN with Caffe's arithmetic."""
from __future__ import annotations

import math

import torch

from ..proto import caffe_pb2
from .base import Layer, Shape, canonical_axis
from .registry import register


@register("BatchNorm")
class BatchNorm(Layer):
    """Caffe's BatchNorm: blobs mean, variance (both summed with moving_average_fraction) and the factor.

    With global stats: ``y = (x - m/f) / sqrt(v/f + eps)`` (f = 0 gives 0 for both). Otherwise the batch
    statistics are used and, in forward, the blobs are updated as Caffe does:
    ``f = maf*f + 1; m = mean + maf*m; v = m/(m-1) * var + maf*v`` (unbiased, m = values per channel).
    Caffe forces lr_mult 0 on the three blobs: they are Parameters with requires_grad False.
    """
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        bp = param.batch_norm_param
        shape = self.bottom_shapes[0]
        self.use_global_stats = bp.use_global_stats if bp.HasField("use_global_stats") else phase == caffe_pb2.TEST
        self.maf = float(bp.moving_average_fraction)
        self.eps = float(bp.eps)
        if len(shape) == 0:
            raise self.fail("input must have at least one axis")
        self.channels = 1 if len(shape) == 1 else shape[1]
        for i, spec in enumerate(param.param[:3]):
            if spec.lr_mult != 0:
                raise self.fail(f"cannot configure batch normalization statistics as layer parameters "
                                f"(param {i} has lr_mult {spec.lr_mult:g}; it must be 0)")
        # as Caffe's LayerSetUp: the statistics get an explicit lr_mult 0 (stored so in a saved .caffemodel)
        p = caffe_pb2.LayerParameter()
        p.CopyFrom(param)
        while len(p.param) < 3:
            p.param.add().lr_mult = 0.0
        self.param = p
        self.add_blob((self.channels,), requires_grad=False)
        self.add_blob((self.channels,), requires_grad=False)
        self.add_blob((1,), requires_grad=False)
        self.top_shapes = [shape]
        object.__setattr__(self, "folded_scale", None)  # a Scale layer applied inside (fold_scale), not a child

    def _bcast(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return v.reshape((1, -1) + (1,) * (x.dim() - 2)) if x.dim() > 1 else v

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() > 1 and (self.use_global_stats or (x.numel() > self.channels and self.eps > 0)):
            return [self._fused(x)]
        y = self._by_hand(x)
        if self.folded_scale is not None:
            y = self.folded_scale.scale(y)
        return [y]

    def _affine(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        sc = self.folded_scale
        if sc is None:
            return None, None
        return sc.blobs[0], (sc.blobs[1] if sc.bias_term else None)

    def _global_stats(self, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.blobs[2].to(dtype)[0]
        factor = torch.where(f == 0, torch.zeros_like(f), 1.0 / torch.where(f == 0, torch.ones_like(f), f))
        return self.blobs[0].to(dtype) * factor, self.blobs[1].to(dtype) * factor

    def _fused(self, x: torch.Tensor) -> torch.Tensor:
        """torch's batch_norm kernel (one pass, any memory format, float accumulation for bfloat16 inputs)
        with Caffe's statistics: with momentum 1 its running buffers receive the batch mean and the
        unbiased batch variance, which is what Caffe adds to its blobs."""
        stat_dtype = self.blobs[0].dtype
        weight, bias = self._affine()
        if self.use_global_stats:
            mean, var = self._global_stats(stat_dtype)
            return torch.nn.functional.batch_norm(x, mean, var, weight, bias, False, 0.0, self.eps)
        mean = torch.zeros(self.channels, dtype=stat_dtype, device=x.device)
        var = torch.zeros_like(mean)
        y = torch.nn.functional.batch_norm(x, mean, var, weight, bias, True, 1.0, self.eps)
        with torch.no_grad():
            b0, b1, b2 = self.blobs
            b2.mul_(self.maf).add_(1.0)
            b0.mul_(self.maf).add_(mean)
            b1.mul_(self.maf).add_(var)
        return y

    def _by_hand(self, x: torch.Tensor) -> torch.Tensor:
        """Caffe's arithmetic written out, for what torch's kernel does not take: 1-D inputs, one value per
        channel (where Caffe's correction m / (m - 1) is 1), and eps 0 in training."""
        dims = [d for d in range(x.dim()) if d != 1]
        if self.use_global_stats:
            mean, var = self._global_stats(x.dtype)
        else:
            mean = x.mean(dim=dims) if x.dim() > 1 else x.mean().reshape(1)
            centred = x - self._bcast(mean, x)
            var = (centred * centred).mean(dim=dims) if x.dim() > 1 else (centred * centred).mean().reshape(1)
            with torch.no_grad():
                m = x.numel() // self.channels
                correction = m / (m - 1) if m > 1 else 1.0
                b0, b1, b2 = self.blobs
                b2.mul_(self.maf).add_(1.0)
                b0.mul_(self.maf).add_(mean.detach().to(b0.dtype))
                b1.mul_(self.maf).add_(var.detach().to(b1.dtype) * correction)
        return (x - self._bcast(mean, x)) / self._bcast(torch.sqrt(var + self.eps), x)


def _param_extent(layer: Layer, shape: Shape, axis: int, num_axes: int, what: str) -> tuple[int, Shape]:
    """(axis, blob shape) of a learnable Scale/Bias blob covering num_axes of bottom[0] from axis."""
    axis = canonical_axis(axis, len(shape), layer)
    if num_axes < -1:
        raise layer.fail("num_axes must be non-negative, or -1 to extend to the end of bottom[0]")
    if num_axes != -1 and len(shape) < axis + num_axes:
        raise layer.fail(f"{what} blob's shape extends past bottom[0]'s shape {shape} when applied "
                         f"starting with bottom[0] axis = {axis}")
    end = len(shape) if num_axes == -1 else axis + num_axes
    return axis, tuple(shape[axis:end])


def _apply_axis(layer: Layer, shape: Shape, axis: int, operand: Shape, what: str) -> int:
    """Caffe's Scale/Bias Reshape check: operand dims must equal bottom[0]'s from axis (0 for a scalar)."""
    axis = 0 if len(operand) == 0 else canonical_axis(axis, len(shape), layer)
    if len(shape) < axis + len(operand) or tuple(shape[axis:axis + len(operand)]) != tuple(operand):
        raise layer.fail(f"{what} shape {operand} does not match bottom[0] shape {shape} from axis {axis}")
    return axis


def _broadcast(v: torch.Tensor, axis: int, ndim: int) -> torch.Tensor:
    return v.reshape((1,) * axis + tuple(v.shape) + (1,) * (ndim - axis - v.dim()))


@register("Bias")
class Bias(Layer):
    """``y = x + b``, b learnable (shape from axis/num_axes; filler default constant 0) or bottom[1]."""
    min_bottoms, max_bottoms = 1, 2
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        bp = param.bias_param
        shape = self.bottom_shapes[0]
        if len(self.bottom_shapes) > 1:
            operand = self.bottom_shapes[1]
        else:
            _, operand = _param_extent(self, shape, bp.axis, bp.num_axes, "bias")
            self.add_blob(operand, bp.filler)  # unset filler = constant 0
        self.axis = _apply_axis(self, shape, bp.axis, operand, "bias")
        self.top_shapes = [shape]

    def forward(self, x: torch.Tensor, *other: torch.Tensor) -> list[torch.Tensor]:
        b = other[0] if other else self.blobs[0]
        return [x + _broadcast(b, self.axis, x.dim())]


@register("Scale")
class Scale(Layer):
    """``y = x * s (+ b)``: s learnable (filler default constant 1) or bottom[1]; blobs [s,] [b]."""
    min_bottoms, max_bottoms = 1, 2
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        sp = param.scale_param
        shape = self.bottom_shapes[0]
        if len(self.bottom_shapes) > 1:
            operand = self.bottom_shapes[1]
        else:
            _, operand = _param_extent(self, shape, sp.axis, sp.num_axes, "scale")
            filler = sp.filler
            if not sp.HasField("filler"):
                filler = caffe_pb2.FillerParameter(type="constant", value=1.0)
            self.add_blob(operand, filler)
        self.axis = _apply_axis(self, shape, sp.axis, operand, "scale")
        self.bias_term = sp.bias_term
        if self.bias_term:  # Caffe's internal Bias layer: same axis, the scale's number of axes
            self.add_blob(operand, sp.bias_filler)
        self.top_shapes = [shape]

    folded = False  # set by fold_scale: the BatchNorm before it applies it, this layer passes x on

    def forward(self, x: torch.Tensor, *other: torch.Tensor) -> list[torch.Tensor]:
        if self.folded:
            return [x]
        if other:
            return [self.scale(x, other[0])]
        return [self.scale(x)]

    def scale(self, x: torch.Tensor, s: torch.Tensor | None = None) -> torch.Tensor:
        s = self.blobs[0] if s is None else s
        b = self.blobs[-1] if self.bias_term else None
        if x.dtype in (torch.bfloat16, torch.float16):  # under autocast: stay in the half type
            s, b = s.to(x.dtype), (b.to(x.dtype) if b is not None else None)
        if b is None:
            return x * _broadcast(s, self.axis, x.dim())
        return torch.addcmul(_broadcast(b, self.axis, x.dim()), x, _broadcast(s, self.axis, x.dim()))


def fold_scale(bn: BatchNorm, scale: Scale) -> bool:
    """Let ``bn`` apply ``scale`` inside torch's batch_norm kernel (its weight and bias), the pair Caffe
    writes as BatchNorm + Scale, when the Scale is a learned per-channel one on axis 1. The result is
    the same arithmetic in one pass instead of three; the caller makes sure nothing reads the blob
    between the two (they are in place on one blob). Returns whether it folded."""
    sc_shape = tuple(scale.blobs[0].shape) if len(scale.blobs) else ()
    if (len(scale.bottom_shapes) != 1 or scale.axis != 1 or sc_shape != (bn.channels,)
            or len(bn.bottom_shapes[0]) < 2):
        return False
    object.__setattr__(bn, "folded_scale", scale)
    scale.folded = True
    return True


class _MVNFunction(torch.autograd.Function):
    """Caffe's MVN backward: ``(g - mean(g) - y * mean(g * y)) / (std + eps)``, not the exact derivative
    of ``(x - mean) / (std + eps)`` when eps matters."""

    @staticmethod
    def forward(ctx, x2d: torch.Tensor, eps: float) -> torch.Tensor:
        centred = x2d - x2d.mean(dim=1, keepdim=True)
        denom = torch.sqrt((centred * centred).mean(dim=1, keepdim=True)) + eps
        y = centred / denom
        ctx.save_for_backward(y, denom)
        return y

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        y, denom = ctx.saved_tensors
        gx = g - g.mean(dim=1, keepdim=True) - y * (g * y).mean(dim=1, keepdim=True)
        return gx / denom, None


@register("MVN")
class MVN(Layer):
    """Mean-variance normalisation per (num, channel) or per num (across_channels); eps is added to the
    standard deviation (population variance), as Caffe does."""
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        mp = param.mvn_param
        shape = self.bottom_shapes[0]
        if len(shape) == 0:
            raise self.fail("input must have at least one axis")
        self.normalize_variance, self.across, self.eps = mp.normalize_variance, mp.across_channels, float(mp.eps)
        self.top_shapes = [shape]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        lead = 1 if self.across or x.dim() < 2 else 2  # Caffe's num() or num() * channels()
        x2d = x.reshape(math.prod(x.shape[:lead]), -1)
        if self.normalize_variance:
            y = _MVNFunction.apply(x2d, self.eps)
        else:
            y = x2d - x2d.mean(dim=1, keepdim=True)
        return [y.reshape(x.shape)]
