"""Structure layers (Concat, Slice, Split, Flatten, Reshape, Tile, Silence, BatchReindex, Filter,
Parameter, Eltwise) against Caffe's zoo blobs, gradchecks and hand-computed values."""
from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from fer_caffe_compat.errors import CaffeError
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.zoo import zoo_layer_names

COMMON_TYPES = ["Concat", "Slice", "Split", "Flatten", "Reshape", "Tile", "Silence", "BatchReindex",
                "Filter", "Parameter", "Eltwise"]
ZOO = [n for t in COMMON_TYPES for n in zoo_layer_names(t)]


def test_zoo_has_every_structure_layer():
    assert len(ZOO) == 28


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", ZOO)
def test_structure_layer_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", [n for n in ZOO if n != "filter"])
def test_structure_layer_top_shapes_match_caffe(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


def test_filter_top_shape_at_setup_is_the_full_batch_as_caffe_prints():
    ours, caffe = zoo_top_shapes("filter")
    assert ours == [(2, 4, 7, 10)] and caffe == [(1, 4, 7, 10)]


def _x(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)


GRAD_CASES = {
    "concat": ('type: "Concat" concat_param { axis: 2 }', [(2, 3, 2), (2, 3, 1)]),
    "slice": ('type: "Slice" top: "a" top: "b" slice_param { axis: 1 slice_point: 1 }', [(2, 3, 2)]),
    "split": ('type: "Split" top: "a" top: "b" top: "c"', [(2, 3)]),
    "flatten": ('type: "Flatten" flatten_param { axis: 1 end_axis: 2 }', [(2, 3, 2, 2)]),
    "reshape": ('type: "Reshape" reshape_param { shape { dim: 0 dim: -1 } }', [(2, 3, 2)]),
    "tile": ('type: "Tile" tile_param { axis: 1 tiles: 3 }', [(2, 2, 2)]),
    "eltwise_sum": ('type: "Eltwise" eltwise_param { operation: SUM coeff: 0.5 coeff: -2 }', [(2, 3), (2, 3)]),
    "eltwise_prod": ('type: "Eltwise" eltwise_param { operation: PROD }', [(2, 3), (2, 3), (2, 3)]),
    "eltwise_max": ('type: "Eltwise" eltwise_param { operation: MAX }', [(2, 3), (2, 3), (2, 3)]),
}


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_structure_layer_gradcheck(case):
    text, shapes = GRAD_CASES[case]
    layer = make_layer(f'name: "{case}" {text}', shapes)
    xs = tuple(_x(*s, seed=i) for i, s in enumerate(shapes))
    assert torch.autograd.gradcheck(lambda *b: tuple(layer(*b)), xs)


def test_batch_reindex_gradcheck_sums_repeated_rows():
    layer = make_layer('name: "r" type: "BatchReindex"', [(3, 2), (4,)])
    idx = torch.tensor([2.0, 0.0, 2.0, 2.0], dtype=torch.float64)
    x = _x(3, 2)
    assert torch.autograd.gradcheck(lambda t: layer(t, idx)[0], (x,))
    (g,) = torch.autograd.grad(layer(x, idx)[0].sum(), x)
    assert g[:, 0].tolist() == [1.0, 0.0, 3.0]


def test_filter_gradcheck_and_zero_gradient_for_dropped_items():
    layer = make_layer('name: "f" type: "Filter" top: "a"', [(3, 2), (3,)])
    sel = torch.tensor([0.0, 2.0, 1.0], dtype=torch.float64)
    x = _x(3, 2)
    assert torch.autograd.gradcheck(lambda t: layer(t, sel)[0], (x,))
    (g,) = torch.autograd.grad(layer(x, sel)[0].sum(), x)
    assert g[:, 0].tolist() == [0.0, 1.0, 1.0]


def test_filter_keeps_nonzero_items_of_every_bottom_and_can_keep_none():
    layer = make_layer('name: "f" type: "Filter" top: "a" top: "b"', [(3, 2), (3, 1, 1), (3, 1)])
    a = torch.arange(6.0).reshape(3, 2)
    b = torch.arange(3.0).reshape(3, 1, 1)
    ta, tb = layer(a, b, torch.tensor([[1.0], [0.0], [-0.5]]))
    assert ta.tolist() == [[0.0, 1.0], [4.0, 5.0]] and tb.reshape(-1).tolist() == [0.0, 2.0]
    ta, tb = layer(a, b, torch.zeros(3, 1))
    assert tuple(ta.shape) == (0, 2) and tuple(tb.shape) == (0, 1, 1)


def test_parameter_top_is_its_blob_and_gets_the_gradient():
    layer = make_layer('name: "p" type: "Parameter" parameter_param { shape { dim: 2 dim: 3 } }', [])
    assert layer.top_shapes == [(2, 3)] and torch.all(layer.blobs[0] == 0)
    w = _x(2, 3)
    assert torch.autograd.gradcheck(lambda w: functional_call(layer, {"blobs.0": w}, ())[0] * 2.0, (w,))


def test_split_tops_are_the_bottom_and_gradients_sum():
    layer = make_layer('name: "s" type: "Split" top: "a" top: "b"', [(2, 2)])
    x = _x(2, 2)
    a, b = layer(x)
    assert torch.equal(a, x) and torch.equal(b, x)
    (g,) = torch.autograd.grad((a * 2).sum() + (b * 3).sum(), x)
    assert torch.all(g == 5)


def test_eltwise_max_gradient_goes_to_the_first_max_as_caffe():
    layer = make_layer('name: "m" type: "Eltwise" eltwise_param { operation: MAX }', [(3,)] * 3)
    a = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([1.0, 3.0, 5.0], dtype=torch.float64, requires_grad=True)
    c = torch.tensor([0.0, 3.0, 5.0], dtype=torch.float64, requires_grad=True)
    y = layer(a, b, c)[0]
    assert y.tolist() == [1.0, 3.0, 5.0]
    ga, gb, gc = torch.autograd.grad(y.sum(), (a, b, c))
    assert ga.tolist() == [1.0, 0.0, 0.0] and gb.tolist() == [0.0, 1.0, 1.0] and gc.tolist() == [0.0, 0.0, 0.0]


def test_eltwise_sum_coefficients_and_prod():
    s = make_layer('name: "s" type: "Eltwise" eltwise_param { coeff: 0.5 coeff: -2 }', [(2,), (2,)])
    assert s(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 1.5]))[0].tolist() == [-1.0, -1.0]
    p = make_layer('name: "p" type: "Eltwise" eltwise_param { operation: PROD }', [(2,), (2,)])
    assert p(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 1.5]))[0].tolist() == [2.0, 6.0]


def test_tile_repeats_whole_blocks_along_the_axis():
    layer = make_layer('name: "t" type: "Tile" tile_param { axis: 1 tiles: 2 }', [(1, 2, 2)])
    x = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    assert layer.top_shapes == [(1, 4, 2)]
    assert layer(x)[0].tolist() == [[[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [3.0, 4.0]]]


def test_reshape_copy_infer_axis_and_num_axes():
    cases = [
        ('shape { dim: 0 dim: -1 }', (2, 3, 4), (2, 12)),
        ('shape { dim: -1 dim: 0 }', (2, 3, 4), (8, 3)),
        ('shape { dim: 2 dim: 2 } axis: 1 num_axes: 1', (3, 4, 5), (3, 2, 2, 5)),
        ('shape { dim: 1 } axis: -1 num_axes: 0', (3, 4), (3, 4, 1)),
        ('shape { } axis: 0 num_axes: 1', (1, 7), (7,)),
        ('shape { dim: -1 } axis: 1', (2, 3, 4), (2, 12)),
    ]
    for rp, bottom, top in cases:
        layer = make_layer(f'name: "r" type: "Reshape" reshape_param {{ {rp} }}', [bottom])
        assert layer.top_shapes == [top], rp
        x = torch.arange(float(torch.Size(bottom).numel())).reshape(bottom)
        assert tuple(layer(x)[0].shape) == top


def test_reshape_follows_a_new_batch_size_at_forward():
    layer = make_layer('name: "r" type: "Reshape" reshape_param { shape { dim: 0 dim: -1 } }', [(2, 3, 4)])
    assert tuple(layer(torch.zeros(5, 3, 4))[0].shape) == (5, 12)


def test_legacy_concat_dim_and_slice_dim():
    c = make_layer('name: "c" type: "Concat" concat_param { concat_dim: 0 }', [(1, 2), (3, 2)])
    assert c.top_shapes == [(4, 2)]
    s = make_layer('name: "s" type: "Slice" top: "a" top: "b" slice_param { slice_dim: 0 slice_point: 1 }',
                   [(3, 2)])
    assert s.top_shapes == [(1, 2), (2, 2)]


def test_slice_equal_split_without_points():
    s = make_layer('name: "s" type: "Slice" top: "a" top: "b" top: "c" slice_param { axis: -1 }', [(2, 6)])
    assert s.top_shapes == [(2, 2)] * 3
    x = torch.arange(12.0).reshape(2, 6)
    assert [t[0].tolist() for t in s(x)] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]


def test_flatten_axes():
    f = make_layer('name: "f" type: "Flatten" flatten_param { axis: 0 end_axis: 1 }', [(2, 3, 4)])
    assert f.top_shapes == [(6, 4)]
    assert tuple(f(torch.zeros(2, 3, 4))[0].shape) == (6, 4)


def test_silence_has_no_tops():
    layer = make_layer('name: "s" type: "Silence"', [(2, 3), (4,)])
    assert layer.top_shapes == [] and layer(torch.zeros(2, 3), torch.zeros(4)) == []


def test_batch_reindex_index_out_of_range_is_an_error_at_forward():
    layer = make_layer('name: "r" type: "BatchReindex"', [(3, 2), (2,)])
    with pytest.raises(CaffeError, match=r"layer r \(BatchReindex\): index out of range \[0, 3\)"):
        layer(torch.zeros(3, 2), torch.tensor([0.0, 3.0]))


@pytest.mark.parametrize("text, shapes, message", [
    ('type: "Concat"', [(2, 3, 4), (2, 3, 5)], "bottom 0 shape (2, 3, 4) and bottom 1 shape (2, 3, 5)"),
    ('type: "Concat"', [(2, 3), (2, 3, 1)], "bottom 0 shape (2, 3) and bottom 1 shape (2, 3, 1)"),
    ('type: "Concat" concat_param { axis: 3 }', [(2, 3), (2, 3)], "axis 3 out of range"),
    ('type: "Concat" concat_param { axis: 1 concat_dim: 1 }', [(2, 3)], "not both"),
    ('type: "Slice" top: "a" top: "b" slice_param { slice_point: 3 }', [(2, 3)], "slice_point"),
    ('type: "Slice" top: "a" top: "b" slice_param { slice_point: 1 slice_point: 2 }', [(2, 3)],
     "2 slice_point values for 2 tops"),
    ('type: "Slice" top: "a" top: "b"', [(2, 3)], "does not split equally"),
    ('type: "Flatten" flatten_param { axis: 2 end_axis: 1 }', [(2, 3, 4)], "comes after end_axis"),
    ('type: "Reshape" reshape_param { shape { dim: 5 } }', [(2, 3)], "does not hold"),
    ('type: "Reshape" reshape_param { shape { dim: -1 dim: -1 } }', [(2, 3)], "at most one -1"),
    ('type: "Reshape" reshape_param { shape { dim: -1 dim: 4 } }', [(2, 3)], "cannot infer"),
    ('type: "Reshape"', [(2, 3)], "reshape_param.shape is required"),
    ('type: "Reshape" reshape_param { shape { dim: 0 dim: 0 dim: 0 } }', [(2, 3)], "has no axis 2"),
    ('type: "Tile" tile_param { axis: 1 }', [(2, 3)], "tiles must be given"),
    ('type: "Eltwise" eltwise_param { coeff: 1 }', [(2,), (2,)], "1 coeff values for 2 bottoms"),
    ('type: "Eltwise" eltwise_param { operation: PROD coeff: 1 coeff: 2 }', [(2,), (2,)], "only allowed"),
    ('type: "Eltwise"', [(2, 3), (3, 2)], "bottom 0 shape (2, 3) and bottom 1 shape (3, 2)"),
    ('type: "Eltwise"', [(2, 3)], "takes at least 2 bottoms, got 1"),
    ('type: "BatchReindex"', [(3, 2), (2, 1)], "index bottom must have 1 axis"),
    ('type: "Filter" top: "a"', [(3, 2), (3, 2)], "selector shape (3, 2)"),
    ('type: "Filter" top: "a"', [(3, 2), (4,)], "differ in the first axis"),
    ('type: "Filter" top: "a" top: "b"', [(3, 2), (3,)], "one top per filtered bottom"),
])
def test_structure_layer_invalid_parameters_are_one_line_errors(text, shapes, message):
    with pytest.raises(CaffeError) as e:
        make_layer(f'name: "bad" {text}', shapes)
    msg = str(e.value)
    assert message in msg and msg.startswith("layer bad (") and "\n" not in msg

