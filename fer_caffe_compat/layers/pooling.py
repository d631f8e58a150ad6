"""Pooling and SPP with Caffe's geometry.

Caffe differs from PyTorch's pooling in three places, all reproduced here:
* the output size rounds up by default (``round_mode: CEIL``), and with padding the last window is dropped
  when it would start at or beyond ``H + pad``;
* AVE divides by the window clipped to the padded input (padding counts, overhang beyond it does not);
* MAX ignores padding, and its optional second top is the argmax as the flat index ``h * W + w`` (float).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..proto import caffe_pb2
from . import max_pool_nhwc as _nhwc
from .base import Layer
from .registry import register

MAX, AVE, STOCHASTIC = (caffe_pb2.PoolingParameter.MAX, caffe_pb2.PoolingParameter.AVE,
                        caffe_pb2.PoolingParameter.STOCHASTIC)
_FLT_MIN = 1.17549435e-38
_NEG_FLT_MAX = -3.4028234663852886e38  # Caffe's MAX starts from -FLT_MAX


@dataclass(frozen=True)
class PoolGeometry:
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int]
    ceil: bool = True

    def pooled(self, h: int, w: int) -> tuple[int, int]:
        """Caffe's PoolingLayer::Reshape output size, including the drop of a window starting in the pad."""
        out = []
        for x, k, s, p in zip((h, w), self.kernel, self.stride, self.pad):
            r = (x + 2 * p - k) / s
            n = (math.ceil(r) if self.ceil else math.floor(r)) + 1
            if p > 0 and (n - 1) * s >= x + p:
                n -= 1
            out.append(n)
        return out[0], out[1]


def _native(g: PoolGeometry, h: int, w: int, pooled: tuple[int, int]) -> bool:
    """Whether PyTorch's own padding and ceil_mode give Caffe's windows: its output size agrees and the pad
    is at most half the kernel (PyTorch's limit). Its AVE divisor is then Caffe's (count_include_pad clips
    the window at H + pad), and its MAX indices are Caffe's mask."""
    for x, k, s, p, n in zip((h, w), g.kernel, g.stride, g.pad, pooled):
        o = (x + 2 * p - k + (s - 1 if g.ceil else 0)) // s + 1
        if g.ceil and (o - 1) * s >= x + p:
            o -= 1
        if 2 * p > k or o != n:
            return False
    return True


def _pad_to_windows(x: torch.Tensor, g: PoolGeometry, pooled: tuple[int, int], value: float) -> torch.Tensor:
    """Pad (or crop) H and W so that plain windows of size kernel, step stride give exactly ``pooled``."""
    h, w = x.shape[-2:]
    ends = [(n - 1) * s + k for n, s, k in zip(pooled, g.stride, g.kernel)]
    right = [e - size - p for e, size, p in zip(ends, (h, w), g.pad)]
    # past the last window's end the input is unused: crop it (negative pad)
    return F.pad(x, (g.pad[1], right[1], g.pad[0], right[0]), value=value)


def _window_sizes(n: int, size: int, k: int, s: int, p: int, device) -> torch.Tensor:
    start = torch.arange(n, device=device) * s - p
    return (start + k).clamp(max=size + p) - start


def pool2d(x: torch.Tensor, method: int, g: PoolGeometry, want_mask: bool = False) -> list[torch.Tensor]:
    """Caffe's Pooling forward on a (N, C, H, W) tensor: [top] or [top, argmax mask] for MAX."""
    h, w = x.shape[-2:]
    pooled = g.pooled(h, w)
    native = method != STOCHASTIC and _native(g, h, w, pooled)
    if native and g.ceil and torch.compiler.is_exporting():
        # An exported graph (ONNX, .pt2) never relies on ceil_mode: ONNX's shape rule keeps a window that
        # starts in the padding, and runtimes differ on the AVE divisor of an overhanging window. Floor
        # windows where they are Caffe's windows, else the explicit padding below: Caffe's windows and
        # divisors either way (tools/export; training never takes this branch).
        floor = PoolGeometry(g.kernel, g.stride, g.pad, ceil=False)
        native = floor.pooled(h, w) == pooled
        g = floor if native else g
    if native:
        if method == AVE:
            return [F.avg_pool2d(x, g.kernel, g.stride, g.pad, ceil_mode=g.ceil, count_include_pad=True)]
        if _nhwc.applies(x):  # the same top, mask and gradient, several times faster (max_pool_nhwc.py)
            out = _nhwc.max_pool(x, g.kernel, g.stride, g.pad, g.ceil, want_mask)
            return [out[0], out[1].to(x.dtype)] if want_mask else out
        if not want_mask:
            return [F.max_pool2d(x, g.kernel, g.stride, g.pad, ceil_mode=g.ceil)]
        y, idx = F.max_pool2d(x, g.kernel, g.stride, g.pad, ceil_mode=g.ceil, return_indices=True)
        return [y, idx.to(x.dtype)]
    # Caffe's geometry PyTorch cannot express (a pad over half the kernel, a window starting past the
    # input without padding): pad explicitly to the windows Caffe visits
    if method == MAX:
        xp = _pad_to_windows(x, g, pooled, _NEG_FLT_MAX)
        if not want_mask:
            return [F.max_pool2d(xp, g.kernel, g.stride)]
        y, idx = F.max_pool2d(xp, g.kernel, g.stride, return_indices=True)
        wp = xp.shape[-1]
        mask = (idx // wp - g.pad[0]) * w + (idx % wp - g.pad[1])
        return [y, mask.to(x.dtype)]
    if method == AVE:
        sums = F.avg_pool2d(_pad_to_windows(x, g, pooled, 0.0), g.kernel, g.stride, divisor_override=1)
        div = torch.outer(*(_window_sizes(n, size, k, s, p, x.device) for n, size, k, s, p in
                            zip(pooled, (h, w), g.kernel, g.stride, g.pad)))
        return [sums / div.to(x.dtype)]
    # STOCHASTIC at test time (Caffe's GPU code; no padding allowed): sum(x^2) / sum(x) per window
    xp = _pad_to_windows(x, g, pooled, 0.0)
    num = F.avg_pool2d(xp * xp, g.kernel, g.stride, divisor_override=1)
    den = F.avg_pool2d(xp, g.kernel, g.stride, divisor_override=1) + _FLT_MIN
    return [num / den]


def _pair(pp, name: str) -> tuple[bool, tuple[int, int]]:
    """(given, (h, w)) for kernel/stride/pad of a PoolingParameter; validated by the caller."""
    single = "kernel_size" if name == "kernel" else name
    if pp.HasField(single):
        v = int(getattr(pp, single))
        return True, (v, v)
    return pp.HasField(f"{name}_h") or pp.HasField(f"{name}_w"), (int(getattr(pp, f"{name}_h")),
                                                                   int(getattr(pp, f"{name}_w")))


@register("Pooling")
class Pooling(Layer):
    min_bottoms = max_bottoms = 1
    min_tops, max_tops = 1, 2

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        pp = param.pooling_param
        shape = self.bottom_shapes[0]
        if len(shape) != 4:
            raise self.fail(f"input must have 4 axes (num, channels, height, width), got shape {shape}")
        self.method = pp.pool
        if len(param.top) > 1 and self.method != MAX:
            raise self.fail("only MAX pooling has a second top (the argmax mask)")
        if self.method == STOCHASTIC and phase == caffe_pb2.TRAIN:
            raise self.fail("STOCHASTIC pooling is not implemented on CPU by Caffe (TRAIN phase)")
        self.global_pooling = pp.global_pooling
        has_k, kernel = _pair(pp, "kernel")
        for name in ("pad", "stride"):
            if pp.HasField(name) and (pp.HasField(f"{name}_h") or pp.HasField(f"{name}_w")):
                raise self.fail(f"{name} is {name} OR {name}_h and {name}_w; not both")
            if pp.HasField(f"{name}_h") != pp.HasField(f"{name}_w"):
                raise self.fail(f"{name}_h and {name}_w are required together")
        pad = _pair(pp, "pad")[1]
        has_s, stride = _pair(pp, "stride")
        if not has_s:
            stride = (int(pp.stride), int(pp.stride))
        if self.global_pooling:
            if has_k:
                raise self.fail("with global_pooling: true the filter size cannot be specified")
            if pad != (0, 0) or stride != (1, 1):
                raise self.fail("with global_pooling: true only pad = 0 and stride = 1 are allowed")
            kernel = shape[2], shape[3]
        else:
            if pp.HasField("kernel_size") and (pp.HasField("kernel_h") or pp.HasField("kernel_w")):
                raise self.fail("filter size is kernel_size OR kernel_h and kernel_w; not both")
            if not pp.HasField("kernel_size") and not (pp.HasField("kernel_h") and pp.HasField("kernel_w")):
                raise self.fail("kernel_size (or both kernel_h and kernel_w) is required")
        if min(kernel) <= 0:
            raise self.fail(f"filter dimensions cannot be zero (kernel {kernel[0]}x{kernel[1]})")
        if min(stride) <= 0:
            raise self.fail(f"stride must be > 0 (stride {stride[0]}x{stride[1]})")
        if max(pad) > 0:
            if self.method not in (MAX, AVE):
                raise self.fail("padding is implemented only for average and max pooling")
            if pad[0] >= kernel[0] or pad[1] >= kernel[1]:
                raise self.fail(f"pad {pad[0]}x{pad[1]} must be smaller than the kernel {kernel[0]}x{kernel[1]}")
        self.geometry = PoolGeometry(kernel, stride, pad, pp.round_mode == caffe_pb2.PoolingParameter.CEIL)
        ph, pw = self.geometry.pooled(shape[2], shape[3])
        if ph <= 0 or pw <= 0:
            raise self.fail(f"kernel {kernel[0]}x{kernel[1]} does not fit the input shape {shape}")
        self.top_shapes = [(shape[0], shape[1], ph, pw)] * max(len(param.top), 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        g = self.geometry
        if self.global_pooling and g.kernel != tuple(x.shape[-2:]):
            g = PoolGeometry((x.shape[2], x.shape[3]), (1, 1), (0, 0))
        return pool2d(x, self.method, g, want_mask=len(self.param.top) > 1)


def spp_geometry(level: int, h: int, w: int) -> PoolGeometry:
    """Caffe's SPPLayer::GetPoolingParam: 2^level bins, kernel ceil(H / bins), centred padding."""
    bins = 2 ** level
    kernel, pad = [], []
    for size in (h, w):
        k = math.ceil(size / bins)
        kernel.append(k)
        pad.append((k * bins - size + 1) // 2)
    return PoolGeometry((kernel[0], kernel[1]), (kernel[0], kernel[1]), (pad[0], pad[1]))


@register("SPP")
class SPP(Layer):
    """Spatial pyramid pooling: each level pooled, flattened and concatenated (one level: pooled as is)."""
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        sp = param.spp_param
        shape = self.bottom_shapes[0]
        if len(shape) != 4:
            raise self.fail(f"input must have 4 axes (num, channels, height, width), got shape {shape}")
        self.height = int(sp.pyramid_height)
        if self.height < 1:
            raise self.fail("spp_param.pyramid_height must be given and > 0")
        self.method = sp.pool
        if self.method == STOCHASTIC and phase == caffe_pb2.TRAIN:
            raise self.fail("STOCHASTIC pooling is not implemented on CPU by Caffe (TRAIN phase)")
        total = 0
        for level in range(self.height):
            g = spp_geometry(level, shape[2], shape[3])
            if g.pad[0] >= g.kernel[0] or g.pad[1] >= g.kernel[1]:
                raise self.fail(f"pyramid level {level} needs pad {g.pad} >= kernel {g.kernel}: the input "
                                f"shape {shape} is too small for pyramid_height {self.height}")
            ph, pw = g.pooled(shape[2], shape[3])
            total += shape[1] * ph * pw
            if self.height == 1:
                self.top_shapes = [(shape[0], shape[1], ph, pw)]
        if self.height > 1:
            self.top_shapes = [(shape[0], total)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h, w = x.shape[-2:]
        levels = [pool2d(x, self.method, spp_geometry(l, h, w))[0] for l in range(self.height)]
        if self.height == 1:
            return levels
        return [torch.cat([y.flatten(1) for y in levels], dim=1)]
