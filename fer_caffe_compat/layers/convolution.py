"""Convolution, Deconvolution and Im2col (Caffe's BaseConvolutionLayer parameters)."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from ..proto import caffe_pb2
from . import conv_nhwc as _nhwc
from .base import Layer, Shape, canonical_axis
from .registry import register

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_DECONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _per_axis(layer: Layer, name: str, values: Sequence[int], n: int, default: int) -> list[int]:
    """A repeated field given once (shared by every spatial axis), once per axis, or not at all."""
    if len(values) == 0:
        return [default] * n
    if len(values) == 1:
        return [int(values[0])] * n
    if len(values) != n:
        raise layer.fail(f"{name} must be specified once, or once per spatial dimension "
                         f"({name} given {len(values)} times; {n} spatial dims)")
    return [int(v) for v in values]


def _hw(layer: Layer, cp: caffe_pb2.ConvolutionParameter, name: str, n: int, default: int,
        repeated: bool = True) -> list[int]:
    """kernel/stride/pad: either the ``<name>_h``/``<name>_w`` pair (2-D only) or the repeated field."""
    has_h, has_w = cp.HasField(f"{name}_h"), cp.HasField(f"{name}_w")
    values = getattr(cp, name if name != "kernel" else "kernel_size")
    if has_h or has_w:
        if n != 2:
            raise layer.fail(f"{name}_h & {name}_w can only be used for 2D convolution")
        if len(values):
            raise layer.fail(f"either {name if name != 'kernel' else 'kernel_size'} or {name}_h/w "
                             "should be specified; not both")
        return [int(getattr(cp, f"{name}_h")), int(getattr(cp, f"{name}_w"))]
    if name == "kernel" and len(values) == 0:
        raise layer.fail("kernel_size (or kernel_h and kernel_w) is required")
    return _per_axis(layer, name if name != "kernel" else "kernel_size", values, n, default)


class _ConvGeometry(Layer):
    """Parses the shared ConvolutionParameter geometry: axis, kernel, stride, pad, dilation."""

    def _geometry(self, cp: caffe_pb2.ConvolutionParameter, shape: Shape) -> None:
        self.channel_axis = canonical_axis(cp.axis, len(shape), self)
        self.num_spatial = len(shape) - self.channel_axis - 1
        if self.num_spatial < 1:
            raise self.fail(f"bottom shape {shape} has no spatial axis after axis {cp.axis}")
        n = self.num_spatial
        self.kernel = _hw(self, cp, "kernel", n, 0)
        self.stride = _hw(self, cp, "stride", n, 1)
        self.pad = _hw(self, cp, "pad", n, 0)
        self.dilation = _per_axis(self, "dilation", cp.dilation, n, 1)
        if any(k <= 0 for k in self.kernel):
            raise self.fail(f"filter dimensions must be nonzero (kernel {self.kernel})")
        if any(s <= 0 for s in self.stride):
            raise self.fail(f"stride dimensions must be nonzero (stride {self.stride})")
        if any(d <= 0 for d in self.dilation):
            raise self.fail(f"dilation dimensions must be nonzero (dilation {self.dilation})")

    def _conv_out(self, spatial: Sequence[int]) -> list[int]:
        out = [(x + 2 * p - (d * (k - 1) + 1)) // s + 1
               for x, k, s, p, d in zip(spatial, self.kernel, self.stride, self.pad, self.dilation)]
        if any(o <= 0 for o in out):
            raise self.fail(f"kernel {self.kernel} (dilation {self.dilation}, pad {self.pad}) does not fit "
                            f"the input's spatial shape {tuple(spatial)}")
        return out

    def _flatten(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
        """Caffe treats every axis before the channel axis as the batch (num_ = count(0, axis))."""
        lead = tuple(x.shape[:self.channel_axis])
        return x.reshape((-1,) + tuple(x.shape[self.channel_axis:])), lead


class _Conv(_ConvGeometry):
    min_bottoms = 1
    min_tops = 1
    transposed = False

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        cp = param.convolution_param
        shape = self.bottom_shapes[0]
        for s in self.bottom_shapes[1:]:
            if s != shape:
                raise self.fail(f"all inputs must have the same shape: {shape} vs {s}")
        if len(param.top) and len(param.top) != len(bottom_shapes):
            raise self.fail(f"needs one top per bottom ({len(bottom_shapes)} bottoms, {len(param.top)} tops)")
        self._geometry(cp, shape)
        if self.num_spatial > 3:
            raise self.fail(f"{self.num_spatial} spatial axes: only 1-D, 2-D and 3-D are supported")
        self.channels = shape[self.channel_axis]
        self.num_output = int(cp.num_output)
        self.group = int(cp.group)
        if not cp.HasField("num_output") or self.num_output <= 0:
            raise self.fail("num_output must be given and > 0")
        if self.group <= 0:
            raise self.fail("group must be > 0")
        if self.channels % self.group:
            raise self.fail(f"group {self.group} does not divide the {self.channels} input channels")
        if self.num_output % self.group:
            raise self.fail(f"group {self.group} does not divide num_output {self.num_output}")
        if self.transposed:  # Caffe's Deconvolution weight: (in, out / group, k...)
            wshape = [self.channels, self.num_output // self.group, *self.kernel]
        else:
            wshape = [self.num_output, self.channels // self.group, *self.kernel]
        self.add_blob(wshape, cp.weight_filler)
        self.bias_term = cp.bias_term
        if self.bias_term:
            self.add_blob([self.num_output], cp.bias_filler)
        # oneDNN's NCHW kernel would pad these input channels: compute channels-last (conv_nhwc.py)
        self.nhwc_kernel = not self.transposed and self.num_spatial == 2 and _nhwc.wants_nhwc(self.channels,
                                                                                              self.group)
        spatial = shape[self.channel_axis + 1:]
        out = self._out_shape(spatial)
        top = tuple(shape[:self.channel_axis]) + (self.num_output,) + tuple(out)
        self.top_shapes = [top] * len(bottom_shapes)

    def _out_shape(self, spatial: Sequence[int]) -> list[int]:
        return self._conv_out(spatial)

    def forward(self, *bottoms: torch.Tensor) -> list[torch.Tensor]:
        w = self.blobs[0]
        b = self.blobs[1] if self.bias_term else None
        tops = []
        for x in bottoms:
            if self.channel_axis == 1:  # (N, C, spatial...): PyTorch's layout as it is
                tops.append(self._conv(x, w, b))
                continue
            xf, lead = self._flatten(x)
            y = self._conv(xf, w, b)
            tops.append(y.reshape(lead + tuple(y.shape[1:])))
        return tops

    def _conv(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        if self.nhwc_kernel and _nhwc.applies(x):  # the same convolution, without the padded channels
            return _nhwc.conv2d(x, w, b, self.stride, self.pad, self.dilation)
        if self.transposed:
            return _DECONV[self.num_spatial](x, w, b, self.stride, self.pad, 0, self.group, self.dilation)
        return _CONV[self.num_spatial](x, w, b, self.stride, self.pad, self.dilation, self.group)


@register("Convolution")
class Convolution(_Conv):
    pass


@register("Deconvolution")
class Deconvolution(_Conv):
    transposed = True

    def _out_shape(self, spatial: Sequence[int]) -> list[int]:
        out = [s * (x - 1) + d * (k - 1) + 1 - 2 * p
               for x, k, s, p, d in zip(spatial, self.kernel, self.stride, self.pad, self.dilation)]
        if any(o <= 0 for o in out):
            raise self.fail(f"output spatial shape {tuple(out)} is empty for input {tuple(spatial)}")
        return out


@register("Im2col")
class Im2col(_ConvGeometry):
    """Caffe's column buffer as a blob: (N, C*kh*kw, out_h, out_w), rows ordered (c, kh, kw)."""
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        shape = self.bottom_shapes[0]
        self._geometry(param.convolution_param, shape)
        if self.num_spatial != 2:
            raise self.fail(f"only 2-D im2col is supported (bottom shape {shape}, axis {self.channel_axis})")
        c = shape[self.channel_axis]
        out = self._conv_out(shape[self.channel_axis + 1:])
        self.top_shapes = [tuple(shape[:self.channel_axis]) + (c * self.kernel[0] * self.kernel[1],) + tuple(out)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        xf, lead = self._flatten(x)
        cols = F.unfold(xf, self.kernel, self.dilation, self.pad, self.stride)
        out = self._conv_out(tuple(x.shape[self.channel_axis + 1:]))
        return [cols.reshape(lead + (cols.shape[1],) + tuple(out))]
