"""Caffe's fillers (include/caffe/filler.hpp): ``fill(tensor, FillerParameter)`` fills in place.

The formulas are Caffe's, not PyTorch's: ``xavier`` is uniform(-sqrt(3/n), sqrt(3/n)) (not Glorot's
sqrt(6/(fan_in+fan_out))), ``msra`` is gaussian with std sqrt(2/n), where n is fan_in = count/shape[0],
fan_out = count/shape[1] or their average (``variance_norm``). Random numbers come from torch's generator.
"""
from __future__ import annotations

import math

import torch

from ..errors import CaffeError
from ..proto import caffe_pb2

FILLER_TYPES = ("constant", "gaussian", "positive_unitball", "uniform", "xavier", "msra", "bilinear")


def _legacy_dim(t: torch.Tensor, i: int) -> int:
    """Caffe's Blob::LegacyShape: axes past the blob's count as 1 (num(), channels(), ...)."""
    return int(t.shape[i]) if i < t.dim() else 1


def _fan_n(t: torch.Tensor, p: caffe_pb2.FillerParameter) -> float:
    count = t.numel()
    fan_in = count // _legacy_dim(t, 0)
    fan_out = count // _legacy_dim(t, 1)
    if p.variance_norm == caffe_pb2.FillerParameter.AVERAGE:
        return (fan_in + fan_out) / 2.0
    if p.variance_norm == caffe_pb2.FillerParameter.FAN_OUT:
        return float(fan_out)
    return float(fan_in)


def bilinear_kernel(t: torch.Tensor) -> torch.Tensor:
    """Caffe 1.0's bilinear weights for a (.., .., K, K) blob, every (out, in) slice the same."""
    width = t.shape[-1]
    f = math.ceil(width / 2.0)
    c = (2 * f - 1 - f % 2) / (2.0 * f)
    x = torch.arange(width, dtype=torch.float64)
    w1 = 1 - (x / f - c).abs()
    return torch.outer(w1, w1).expand(t.shape)


@torch.no_grad()
def fill(t: torch.Tensor, p: caffe_pb2.FillerParameter) -> torch.Tensor:
    """Fill ``t`` in place as Caffe's GetFiller(p)->Fill(blob) would; returns ``t``."""
    kind = p.type
    if kind not in FILLER_TYPES:
        raise CaffeError(f"unknown filler type {kind!r} (known: {', '.join(FILLER_TYPES)})")
    if t.numel() == 0:
        raise CaffeError(f"filler {kind}: cannot fill an empty blob of shape {tuple(t.shape)}")
    if kind != "gaussian" and p.sparse != -1:
        raise CaffeError(f"filler {kind}: sparsity (sparse: {p.sparse}) is only supported by the gaussian filler")
    if kind == "constant":
        t.fill_(p.value)
    elif kind == "uniform":
        t.uniform_(p.min, p.max)
    elif kind == "gaussian":
        t.normal_(p.mean, p.std)
        if p.sparse < -1:
            raise CaffeError(f"filler gaussian: sparse must be >= -1, got {p.sparse}")
        if p.sparse >= 0:
            if t.dim() < 1:
                raise CaffeError("filler gaussian: sparse needs a blob with at least one axis")
            # Caffe: each weight kept with probability sparse / num_outputs (num_outputs = shape[0])
            prob = min(float(p.sparse) / t.shape[0], 1.0)
            t.mul_(torch.bernoulli(torch.full_like(t, prob)))
    elif kind == "positive_unitball":
        t.uniform_(0, 1)
        rows = t.view(_legacy_dim(t, 0), -1)
        rows.div_(rows.sum(dim=1, keepdim=True))
    elif kind == "xavier":
        scale = math.sqrt(3.0 / _fan_n(t, p))
        t.uniform_(-scale, scale)
    elif kind == "msra":
        t.normal_(0.0, math.sqrt(2.0 / _fan_n(t, p)))
    else:  # bilinear
        if t.dim() != 4 or t.shape[2] != t.shape[3]:
            raise CaffeError(f"filler bilinear: needs a 4-D blob with a square kernel, got shape {tuple(t.shape)}")
        t.copy_(bilinear_kernel(t))
    return t
