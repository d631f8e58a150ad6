"""A Caffe-default 2-D convolution on oneDNN's channels-last kernel, where its NCHW kernel pads the channels.

PyTorch hands an NCHW float32 convolution on the CPU to oneDNN, which reorders it into blocks of channels as
wide as the SIMD register (16 floats with AVX-512, 8 with AVX2) and pads the channels up to whole blocks.
LeNet-FER's conv2 (20 -> 50 channels) is computed as 32 -> 64: twice its arithmetic. oneDNN's channels-last
kernels pad nothing. So a convolution whose blocks would be at least 30% padding (``padded_work`` >= 1.3)
runs on NHWC views of its input and weights, and its top comes back in NCHW, the layout of Caffe's blobs.

Measured on the 2-core AVX-512 machine (forward and backward, batch 64, 2 threads, NCHW = 1): 20 -> 50
channels 0.63-0.74x, 24 -> 56 0.85x, 20 -> 64 0.83x, 40 -> 40 0.99x; the shapes the rule leaves alone were
1.02-1.28x (16 -> 64, 32 -> 50, 32 -> 64, 64 -> 64). Inputs of fewer than 8 channels (a first layer: 1 grey,
3 colour) keep NCHW, where oneDNN reads the plain input without padding it. Grouped convolutions keep NCHW.

The choice depends on the shapes and the CPU's vector width only, never on a timing: a net on a machine
always takes the same kernels. The values are a convolution's, with its sums in another order, as between
any two float32 kernels (tests/layers/test_convolution.py holds the top and gradients to float64).
"""
from __future__ import annotations

import functools
import math
import platform

import torch
import torch.nn.functional as F

_NHWC = torch.channels_last
MIN_PADDED_WORK = 1.3   # padded / real multiply-adds at which the NHWC kernel is taken
MIN_CHANNELS = 8        # below this oneDNN's first-layer kernel reads the plain NCHW input


@functools.cache
def simd_block() -> int:
    """oneDNN's channel block for float32 on this CPU: 16 (AVX-512), 8 (AVX2), 0 (no rule: other CPUs)."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not torch.backends.mkldnn.is_available():
        return 0
    cap = torch.backends.cpu.get_cpu_capability()
    return 16 if cap.startswith("AVX512") else 8 if cap == "AVX2" else 0


def padded_work(in_channels: int, out_channels: int, block: int) -> float:
    """How much larger the blocked NCHW convolution's arithmetic is than the convolution's own."""
    def up(c: int) -> int:
        return math.ceil(c / block) * block
    return up(in_channels) * up(out_channels) / (in_channels * out_channels)


def wants_nhwc(in_channels: int, out_channels: int, group: int, block: int | None = None) -> bool:
    """The rule, from the layer's shapes: an ungrouped convolution of 8 or more input channels whose
    blocked NCHW form would do at least 1.3x its multiply-adds."""
    block = simd_block() if block is None else block
    return (block > 0 and group == 1 and in_channels >= MIN_CHANNELS
            and padded_work(in_channels, out_channels, block) >= MIN_PADDED_WORK)


def applies(x: torch.Tensor) -> bool:
    """A contiguous NCHW float32 CPU tensor, with oneDNN on, outside autocast: the tensors the NCHW kernel would
    have taken. Exported and traced graphs keep the plain op; torch.compile traces the same ops as eager."""
    return (x.device.type == "cpu" and x.dim() == 4 and x.dtype == torch.float32
            and x.is_contiguous() and not x.is_contiguous(memory_format=_NHWC)
            and torch.backends.mkldnn.enabled and not torch.is_autocast_enabled("cpu")
            and not torch.compiler.is_exporting() and not torch.jit.is_tracing())


def conv2d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, stride, pad, dilation) -> torch.Tensor:
    """``F.conv2d(x, w, b, stride, pad, dilation)`` computed channels-last; the top is NCHW-contiguous, and
    autograd returns the gradients of x and w in their own (NCHW) layout."""
    y = F.conv2d(x.contiguous(memory_format=_NHWC), w.contiguous(memory_format=_NHWC), b, stride, pad, dilation)
    return y.contiguous()
