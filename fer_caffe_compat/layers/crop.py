"""Crop: cut bottom[0] to bottom[1]'s shape from ``axis`` on, at the given offsets."""
from __future__ import annotations

import torch

from ..proto import caffe_pb2
from .base import Layer, canonical_axis
from .registry import register


@register("Crop")
class Crop(Layer):
    min_bottoms = max_bottoms = 2
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        cp = param.crop_param
        a, b = self.bottom_shapes[0], self.bottom_shapes[1]
        if len(a) != len(b):
            raise self.fail(f"bottom[0] {a} and bottom[1] {b} must have the same number of axes")
        start = canonical_axis(cp.axis, len(a), self)
        offsets = list(cp.offset)
        if len(offsets) > 1 and start + len(offsets) != len(a):
            raise self.fail(f"{len(offsets)} offsets given: need one, or one per axis from axis {start} "
                            f"({len(a) - start})")
        self.slices: list[slice] = []
        shape = []
        for i, size in enumerate(a):
            if i < start:
                self.slices.append(slice(None))
                shape.append(size)
                continue
            off = int(offsets[0] if len(offsets) == 1 else offsets[i - start] if offsets else 0)
            if size - off < b[i]:
                raise self.fail(f"the crop for axis {i} is out of bounds: size {b[i]} at offset {off} "
                                f"exceeds bottom[0] {a}")
            self.slices.append(slice(off, off + b[i]))
            shape.append(b[i])
        self.top_shapes = [tuple(shape)]

    def forward(self, x: torch.Tensor, like: torch.Tensor) -> list[torch.Tensor]:
        return [x[tuple(self.slices)]]
