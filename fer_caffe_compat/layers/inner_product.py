"""InnerProduct and Embed."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import CaffeError
from ..proto import caffe_pb2
from .base import Layer, canonical_axis, count
from .registry import register


@register("InnerProduct")
class InnerProduct(Layer):
    """``y = x W^T + b`` on x flattened from ``axis``; W is (N, K), or (K, N) with ``transpose: true``."""
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        ip = param.inner_product_param
        shape = self.bottom_shapes[0]
        if not ip.HasField("num_output") or ip.num_output <= 0:
            raise self.fail("num_output must be given and > 0")
        self.axis = canonical_axis(ip.axis, len(shape), self)
        self.num_output = int(ip.num_output)
        self.k = count(shape[self.axis:])
        self.transpose = ip.transpose
        wshape = (self.k, self.num_output) if self.transpose else (self.num_output, self.k)
        self.add_blob(wshape, ip.weight_filler)
        self.bias_term = ip.bias_term
        if self.bias_term:
            self.add_blob((self.num_output,), ip.bias_filler)
        self.top_shapes = [tuple(shape[:self.axis]) + (self.num_output,)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        lead = tuple(x.shape[:self.axis])
        if count(x.shape[self.axis:]) != self.k:
            raise CaffeError(f"layer {self.name} (InnerProduct): input shape {tuple(x.shape)} does not give "
                             f"K = {self.k} from axis {self.axis}")
        w = self.blobs[0]
        flat = x if x.dim() == 2 and self.axis == 1 else x.reshape(-1, self.k)  # -1: a symbolic batch stays so
        y = F.linear(flat, w.t() if self.transpose else w, self.blobs[1] if self.bias_term else None)
        return [y if len(lead) == 1 else y.reshape(lead + (self.num_output,))]


@register("Embed")
class Embed(Layer):
    """A lookup table: each (integer-valued) input picks a row of W (input_dim, num_output), plus bias."""
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        ep = param.embed_param
        if not ep.HasField("num_output") or ep.num_output <= 0:
            raise self.fail("num_output must be given and > 0")
        if not ep.HasField("input_dim") or ep.input_dim <= 0:
            raise self.fail("input_dim must be given and > 0")
        self.num_output, self.input_dim = int(ep.num_output), int(ep.input_dim)
        self.add_blob((self.input_dim, self.num_output), ep.weight_filler)
        self.bias_term = ep.bias_term
        if self.bias_term:
            self.add_blob((self.num_output,), ep.bias_filler)
        self.top_shapes = [self.bottom_shapes[0] + (self.num_output,)]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        idx = x.detach().long()  # Caffe cannot back-propagate to the indices
        if idx.numel() and (bool((idx != x.detach()).any()) or int(idx.min()) < 0
                            or int(idx.max()) >= self.input_dim):
            raise CaffeError(f"layer {self.name} (Embed): inputs must be integers in [0, {self.input_dim})")
        y = self.blobs[0][idx]
        if self.bias_term:
            y = y + self.blobs[1]
        return [y]
