"""A Caffe-default 2-D convolution on oneDNN's channels-last kernel, where its NCHW kernel pads the input channels.

PyTorch hands an NCHW float32 convolution on the CPU to oneDNN, which reorders it into blocks of channels as
wide as the SIMD register (16 floats with AVX-512, 8 with AVX2) and pads the channels up to whole blocks.
LeNet-FER's conv2 reads 20 channels and is computed on 32. oneDNN's channels-last kernels pad nothing. So a
convolution whose input channels the blocks would pad by 20% or more runs on NHWC views of its input and
weights, and its top comes back in NCHW, the layout of Caffe's blobs.

Measured on the 2-core AVX-512 machine (forward and backward, 2 threads, batch 64 unless said; the NHWC
time over the NCHW time): 20 -> 50 channels 0.63-0.83x (LeNet-FER's conv2), 20 -> 64 0.83x, 24 -> 56 0.85x,
24 -> 64 0.84x (GoogLeNet's inception_4b/5x5, batch 10), 40 -> 40 0.99x. What the rule leaves alone: whole
input blocks were 1.02-1.28x (16 -> 64, 32 -> 50, 32 -> 64, 64 -> 64), and padded output channels alone
1.03x (512 -> 24, 1x1, batch 10). With AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``) 20 -> 50 was 0.89x. Inputs of
fewer than 8 channels (a first layer: 1 grey, 3 colour) keep NCHW, where oneDNN reads the plain input
without padding it; so do grouped convolutions.

The choice depends on the shapes and the CPU's vector width only, never on a timing: a net on a machine
always takes the same kernels. The values are a convolution's, with its sums in another order, as between
any two float32 kernels (tests/layers/test_conv_nhwc.py holds the top and gradients to float64).
"""
from __future__ import annotations

import functools
import platform

import torch
import torch.nn.functional as F

_NHWC = torch.channels_last
PADDING = (6, 5)     # the NHWC kernel is taken when padded / real input channels >= 6/5
MIN_CHANNELS = 8     # below this oneDNN's first-layer kernel reads the plain NCHW input


@functools.cache
def simd_block() -> int:
    """oneDNN's channel block for float32 on this CPU: 16 (AVX-512), 8 (AVX2), 0 (no rule: other CPUs)."""
    if platform.machine().lower() not in ("x86_64", "amd64") or not torch.backends.mkldnn.is_available():
        return 0
    cap = torch.backends.cpu.get_cpu_capability()
    return 16 if cap.startswith("AVX512") else 8 if cap == "AVX2" else 0


def padded_channels(channels: int, block: int) -> int:
    """The channels oneDNN's blocked layout holds for ``channels``: whole blocks."""
    return -(-channels // block) * block


def wants_nhwc(in_channels: int, group: int, block: int | None = None) -> bool:
    """The rule, from the layer's shapes: an ungrouped convolution of 8 or more input channels that the
    blocked NCHW layout would pad by at least a fifth."""
    block = simd_block() if block is None else block
    if block <= 0 or group != 1 or in_channels < MIN_CHANNELS:
        return False
    num, den = PADDING
    return padded_channels(in_channels, block) * den >= in_channels * num


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
