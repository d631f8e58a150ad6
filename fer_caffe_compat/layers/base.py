"""The base class of every Caffe layer.

Contract (what the net builder relies on):

* ``__init__(param, bottom_shapes, phase)``: ``param`` is the layer's ``caffe_pb2.LayerParameter``,
  ``bottom_shapes`` a list of tuples (Caffe's shapes, batch first), ``phase`` ``caffe_pb2.TRAIN`` or
  ``caffe_pb2.TEST``. The constructor validates the parameters (raising ``CaffeError`` naming the layer),
  creates learnable blobs with ``self.add_blob`` (filled by Caffe's fillers) and sets ``self.top_shapes``:
  what Caffe's Reshape would print as ``Top shape:`` for these bottoms.
* ``forward(*bottoms) -> list[Tensor]``: the tops, in order. Works on any device and in float32 or float64
  (gradcheck). The gradient comes from autograd; where Caffe's backward is not the derivative of its forward
  (e.g. the clamped log in SoftmaxWithLoss) the layer uses a custom ``torch.autograd.Function``.
* ``self.blobs``: ``nn.ParameterList`` in Caffe's blob order (the order of ``LayerParameter.blobs`` in a
  .caffemodel). Statistics blobs (BatchNorm) are Parameters too, with ``requires_grad=False``; Caffe counts
  them among the learnable blobs (solverstate history has an entry for each).
* Class attributes: ``is_loss`` (first top gets loss_weight 1 by default, as Caffe's loss layers),
  ``is_data`` (no bottoms; reads a source each forward), ``min_bottoms``/``max_bottoms`` and
  ``min_tops``/``max_tops`` (checked by the net builder; None = unchecked).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from ..errors import CaffeError
from ..proto import caffe_pb2

Shape = tuple[int, ...]


class Layer(nn.Module):
    is_loss: bool = False
    is_data: bool = False
    min_bottoms: int | None = None
    max_bottoms: int | None = None
    min_tops: int | None = None
    max_tops: int | None = None

    def __init__(self, param: caffe_pb2.LayerParameter, bottom_shapes: Sequence[Shape],
                 phase: int = caffe_pb2.TEST):
        super().__init__()
        self.param = param
        self.name = param.name
        self.type = param.type
        self.phase = phase
        self.bottom_shapes: list[Shape] = [tuple(int(d) for d in s) for s in bottom_shapes]
        self.blobs = nn.ParameterList()
        self.top_shapes: list[Shape] = []

    # -- helpers for subclasses -------------------------------------------------------------
    def fail(self, what: str) -> "CaffeError":
        """A CaffeError naming this layer; use as ``raise self.fail("kernel_size must be > 0")``."""
        return CaffeError(f"layer {self.name} ({self.type}): {what}")

    def check(self, cond: bool, what: str) -> None:
        if not cond:
            raise self.fail(what)

    def add_blob(self, shape: Sequence[int], filler: caffe_pb2.FillerParameter | None = None,
                 requires_grad: bool = True) -> nn.Parameter:
        """Append a learnable blob of ``shape`` filled by ``filler`` (constant 0 when None)."""
        from .fillers import fill  # local import: fillers is a sibling module

        t = torch.zeros(tuple(int(d) for d in shape), dtype=torch.float32)
        if filler is not None:
            try:
                fill(t, filler)
            except CaffeError as e:
                raise self.fail(str(e)) from None
        p = nn.Parameter(t, requires_grad=requires_grad)
        self.blobs.append(p)
        return p

    def forward(self, *bottoms: torch.Tensor) -> list[torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"name={self.name!r}, type={self.type!r}"


def count(shape: Sequence[int]) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n


def canonical_axis(axis: int, num_axes: int, layer: Layer | None = None) -> int:
    """Caffe's Blob::CanonicalAxisIndex: negative axes count from the end; out of range is an error."""
    if not -num_axes <= axis < max(num_axes, 1):
        msg = f"axis {axis} out of range for a {num_axes}-D blob"
        raise layer.fail(msg) if layer is not None else CaffeError(msg)
    return axis + num_axes if axis < 0 else axis
