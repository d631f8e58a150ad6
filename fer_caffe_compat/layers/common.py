"""Structure layers: Concat, Slice, Split, Flatten, Reshape, Tile, Silence, BatchReindex, Filter,
Parameter, Eltwise."""
from __future__ import annotations

import torch

from ..proto import caffe_pb2
from .base import Layer, canonical_axis, count
from .registry import register


def check_bottom_count(layer: Layer) -> None:
    """The class's min_bottoms/max_bottoms, checked before the shapes are read (the net checks them too)."""
    n, lo, hi = len(layer.bottom_shapes), layer.min_bottoms, layer.max_bottoms
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        if lo == hi:
            want = f"{lo}"
        elif lo is None or hi is None:
            want = f"at most {hi}" if lo is None else f"at least {lo}"
        else:
            want = f"{lo} to {hi}"
        raise layer.fail(f"takes {want} bottom{'' if want == '1' else 's'}, got {n}")


def _shape_str(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


@register("Concat")
class Concat(Layer):
    min_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        p = param.concat_param
        self.check(not (p.HasField("axis") and p.HasField("concat_dim")),
                   "give concat_param.axis or the legacy concat_dim, not both")
        first = self.bottom_shapes[0]
        axis = int(p.concat_dim) if p.HasField("concat_dim") else int(p.axis)
        self.axis = canonical_axis(axis, len(first), self)
        out = list(first)
        out[self.axis] = 0
        for i, s in enumerate(self.bottom_shapes):
            same = len(s) == len(first) and all(a == b for j, (a, b) in enumerate(zip(s, first))
                                                if j != self.axis)
            self.check(same, f"bottom 0 shape {_shape_str(first)} and bottom {i} shape {_shape_str(s)} "
                             f"differ outside concat axis {self.axis}")
            out[self.axis] += s[self.axis]
        self.top_shapes = [tuple(out)]

    def forward(self, *bottoms):
        if len(bottoms) == 1:
            return [bottoms[0]]
        return [torch.cat(bottoms, dim=self.axis)]


@register("Slice")
class Slice(Layer):
    min_bottoms = max_bottoms = 1
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        p = param.slice_param
        self.check(not (p.HasField("axis") and p.HasField("slice_dim")),
                   "give slice_param.axis or the legacy slice_dim, not both")
        shape = self.bottom_shapes[0]
        axis = int(p.slice_dim) if p.HasField("slice_dim") else int(p.axis)
        self.axis = canonical_axis(axis, len(shape), self)
        dim = shape[self.axis]
        n_tops = len(param.top)
        points = [int(s) for s in p.slice_point]
        if points:
            self.check(len(points) == n_tops - 1,
                       f"{len(points)} slice_point values for {n_tops} tops (need {n_tops - 1})")
            prev = 0
            for s in points:
                self.check(prev < s < dim, f"slice_point values {points} must increase strictly "
                                           f"within (0, {dim}) on axis {self.axis}")
                prev = s
            bounds = [0] + points + [dim]
            self.sizes = [b - a for a, b in zip(bounds, bounds[1:])]
        else:
            self.check(n_tops >= 1 and dim % n_tops == 0,
                       f"axis {self.axis} of size {dim} does not split equally into {n_tops} tops")
            self.sizes = [dim // n_tops] * n_tops
        self.top_shapes = [shape[:self.axis] + (s,) + shape[self.axis + 1:] for s in self.sizes]

    def forward(self, *bottoms):
        return list(torch.split(bottoms[0], self.sizes, dim=self.axis))


@register("Split")
class Split(Layer):
    """Every top is the bottom; autograd sums the gradients of the tops, as Caffe's SplitLayer."""

    min_bottoms = max_bottoms = 1
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        self.n_tops = max(len(param.top), 1)
        self.top_shapes = [self.bottom_shapes[0]] * self.n_tops

    def forward(self, *bottoms):
        return [bottoms[0]] * self.n_tops


@register("Flatten")
class Flatten(Layer):
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        shape = self.bottom_shapes[0]
        p = param.flatten_param
        a = canonical_axis(int(p.axis), len(shape), self)
        e = canonical_axis(int(p.end_axis), len(shape), self)
        self.check(a <= e, f"flatten_param.axis {p.axis} comes after end_axis {p.end_axis} "
                           f"for bottom shape {_shape_str(shape)}")
        self.axes = (a, e)
        self.top_shapes = [shape[:a] + (count(shape[a:e + 1]),) + shape[e + 1:]]

    def forward(self, *bottoms):
        return [torch.flatten(bottoms[0], *self.axes)]


@register("Reshape")
class Reshape(Layer):
    """Caffe's ReshapeLayer: dims 0 copy the bottom's dim, one dim -1 is inferred; axis/num_axes pick the
    span of bottom axes replaced. The batch axis follows the bottom at forward time when it is copied."""

    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        p = param.reshape_param
        self.check(p.HasField("shape"), "reshape_param.shape is required")
        self.dims = [int(d) for d in p.shape.dim]
        self.check(self.dims.count(-1) <= 1, f"at most one -1 in reshape_param.shape, got {self.dims}")
        for d in self.dims:
            self.check(d >= -1, f"reshape_param.shape dims must be >= -1, got {self.dims}")
        shape = self.bottom_shapes[0]
        n = len(shape)
        self.start = int(p.axis) if p.axis >= 0 else int(p.axis) + n + 1
        self.check(0 <= self.start <= n, f"reshape_param.axis {p.axis} out of range for a {n}-D bottom")
        self.check(p.num_axes >= -1, f"reshape_param.num_axes must be >= -1, got {p.num_axes}")
        self.end = n if p.num_axes == -1 else self.start + int(p.num_axes)
        self.check(self.end <= n, f"reshape_param.axis {p.axis} + num_axes {p.num_axes} exceed the "
                                  f"{n} axes of bottom {_shape_str(shape)}")
        self.top_shapes = [self._top_shape(shape)]

    def _top_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        mid = []
        for i, d in enumerate(self.dims):
            if d == 0:
                self.check(self.start + i < len(shape),
                           f"dim {i} is 0 (copy) but bottom {_shape_str(shape)} has no axis {self.start + i}")
                d = shape[self.start + i]
            mid.append(d)
        out = list(shape[:self.start]) + mid + list(shape[self.end:])
        total = count(shape)
        if -1 in mid:
            known = count(d for d in out if d != -1)
            self.check(known > 0 and total % known == 0,
                       f"cannot infer the -1 dim: bottom count {total} is not a multiple of {known}")
            out[out.index(-1)] = total // known
        self.check(count(out) == total, f"top shape {_shape_str(out)} ({count(out)} values) does not hold "
                                        f"bottom shape {_shape_str(shape)} ({total} values)")
        return tuple(out)

    def forward(self, *bottoms):
        x = bottoms[0]
        shape = tuple(x.shape)
        top = self.top_shapes[0] if shape == self.bottom_shapes[0] else self._top_shape(shape)
        return [x.reshape(top)]


@register("Tile")
class Tile(Layer):
    min_bottoms = max_bottoms = 1
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        p = param.tile_param
        self.check(p.HasField("tiles") and p.tiles > 0, "tile_param.tiles must be given and > 0")
        shape = self.bottom_shapes[0]
        self.axis = canonical_axis(int(p.axis), len(shape), self)
        self.tiles = int(p.tiles)
        self.top_shapes = [shape[:self.axis] + (shape[self.axis] * self.tiles,) + shape[self.axis + 1:]]

    def forward(self, *bottoms):
        x = bottoms[0]
        reps = [1] * x.dim()
        reps[self.axis] = self.tiles  # whole blocks repeated, as Caffe's Tile (not repeat_interleave)
        return [x.repeat(reps)]


@register("Silence")
class Silence(Layer):
    min_bottoms = 1
    min_tops = max_tops = 0

    def forward(self, *bottoms):
        return []


@register("BatchReindex")
class BatchReindex(Layer):
    min_bottoms = max_bottoms = 2
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        data, idx = self.bottom_shapes
        self.check(len(idx) == 1, f"index bottom must have 1 axis, got shape {_shape_str(idx)}")
        self.check(len(data) >= 1, "data bottom must have at least 1 axis")
        self.top_shapes = [(idx[0],) + data[1:]]

    def forward(self, data, idx):
        i = idx.detach().long()
        if i.numel() and (int(i.min()) < 0 or int(i.max()) >= data.shape[0]):
            raise self.fail(f"index out of range [0, {data.shape[0]}): {idx.tolist()}")
        return [data.index_select(0, i)]


@register("Filter")
class Filter(Layer):
    """Keeps the items whose selector (last bottom) is nonzero. The top's first axis is the full batch at
    setup (what Caffe prints) and the number of selected items at forward time."""

    min_bottoms = 2
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        self.check(len(param.top) == len(self.bottom_shapes) - 1,
                   f"needs one top per filtered bottom: {len(self.bottom_shapes) - 1} bottoms, "
                   f"{len(param.top)} tops")
        sel = self.bottom_shapes[-1]
        self.check(len(sel) >= 1 and all(d == 1 for d in sel[1:]),
                   f"selector shape {_shape_str(sel)} must be (N,) or (N, 1, ...)")
        for i, s in enumerate(self.bottom_shapes[:-1]):
            self.check(len(s) >= 1 and s[0] == sel[0],
                       f"bottom {i} shape {_shape_str(s)} and selector shape {_shape_str(sel)} "
                       "differ in the first axis")
        self.top_shapes = list(self.bottom_shapes[:-1])

    def forward(self, *bottoms):
        keep = torch.nonzero(bottoms[-1].detach().reshape(-1) != 0).reshape(-1)
        return [b.index_select(0, keep) for b in bottoms[:-1]]


@register("Parameter")
class Parameter(Layer):
    min_bottoms = max_bottoms = 0
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        shape = tuple(int(d) for d in param.parameter_param.shape.dim)
        self.check(all(d >= 0 for d in shape), f"parameter_param.shape {_shape_str(shape)} has a negative dim")
        self.add_blob(shape)  # Caffe has no filler for Parameter: zeros until weights are loaded
        self.top_shapes = [shape]

    def forward(self, *bottoms):
        return [self.blobs[0]]


@register("Eltwise")
class Eltwise(Layer):
    min_bottoms = 2
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        p = param.eltwise_param
        self.op = p.operation
        if p.coeff:
            self.check(self.op == caffe_pb2.EltwiseParameter.SUM, "coeff is only allowed with operation SUM")
            self.check(len(p.coeff) == len(self.bottom_shapes),
                       f"{len(p.coeff)} coeff values for {len(self.bottom_shapes)} bottoms")
        self.coeff = [float(c) for c in p.coeff] or [1.0] * len(self.bottom_shapes)
        first = self.bottom_shapes[0]
        for i, s in enumerate(self.bottom_shapes[1:], 1):
            self.check(s == first, f"bottom 0 shape {_shape_str(first)} and bottom {i} shape "
                                   f"{_shape_str(s)} differ")
        self.top_shapes = [first]

    def forward(self, *bottoms):
        if self.op == caffe_pb2.EltwiseParameter.PROD:
            y = bottoms[0]
            for b in bottoms[1:]:
                y = y * b
            return [y]
        if self.op == caffe_pb2.EltwiseParameter.SUM:
            y = bottoms[0] if self.coeff[0] == 1 else bottoms[0] * self.coeff[0]
            for c, b in zip(self.coeff[1:], bottoms[1:]):
                y = y + (b if c == 1 else b * c)
            return [y]
        # MAX: a later bottom wins only if strictly greater, so ties (and the gradient) go to the first max
        y = bottoms[0]
        for b in bottoms[1:]:
            y = torch.where(b > y, b, y)
        return [y]
