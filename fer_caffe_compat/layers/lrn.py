"""LRN: local response normalisation as Caffe computes it."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..proto import caffe_pb2
from .base import Layer
from .registry import register


@register("LRN")
class LRN(Layer):
    """ACROSS_CHANNELS: ``y = x * (k + alpha/n * sum_{n channels} x^2)^-beta`` (zero-padded across channels).

    WITHIN_CHANNEL: ``y = x * (1 + alpha * avg_{n x n}(x^2))^-beta``; Caffe builds it from Split, Power,
    AVE Pooling (pad (n-1)/2, so every window divides by n*n) and Eltwise PROD, with the 1 hard-coded: ``k``
    is not used.
    """
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        lp = param.lrn_param
        shape = self.bottom_shapes[0]
        self.size = int(lp.local_size)
        if self.size % 2 == 0:
            raise self.fail(f"LRN only supports odd values for local_size (got {self.size})")
        if len(shape) != 4:
            raise self.fail(f"input must have 4 axes (num, channels, height, width), got shape {shape}")
        self.alpha, self.beta, self.k = float(lp.alpha), float(lp.beta), float(lp.k)
        self.across = lp.norm_region == caffe_pb2.LRNParameter.ACROSS_CHANNELS
        self.top_shapes = [shape]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        pre = (self.size - 1) // 2
        sq = x * x
        if self.across:
            n, c, h, w = x.shape
            # zero-padded across channels; the divisor is local_size everywhere (count_include_pad)
            avg = F.avg_pool2d(sq.reshape(n, 1, c, h * w), (self.size, 1), stride=1, padding=(pre, 0))
            scale = self.k + self.alpha * avg.reshape(x.shape)
        else:
            scale = 1.0 + self.alpha * F.avg_pool2d(sq, self.size, stride=1, padding=pre, count_include_pad=True)
        return [x * scale.pow(-self.beta)]
