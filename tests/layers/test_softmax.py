"""Softmax, ArgMax and Reduction against Caffe's zoo blobs, gradchecks and hand-computed values."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.zoo import zoo_layer_names

ZOO = [n for t in ("Softmax", "ArgMax", "Reduction") for n in zoo_layer_names(t)]


def test_zoo_has_softmax_argmax_reduction_cases():
    assert len(ZOO) == 10


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", ZOO)
def test_axis_layer_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_axis_layer_top_shapes_match_caffe(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


@pytest.mark.parametrize("text, shape", [
    ('type: "Softmax"', (2, 3, 2)),
    ('type: "Softmax" softmax_param { axis: -1 }', (2, 4)),
    ('type: "Reduction" reduction_param { operation: SUM axis: 1 coeff: -0.5 }', (2, 3, 2)),
    ('type: "Reduction" reduction_param { operation: ASUM axis: 0 }', (2, 3)),
    ('type: "Reduction" reduction_param { operation: SUMSQ axis: -1 coeff: 2 }', (2, 3)),
    ('type: "Reduction" reduction_param { operation: MEAN axis: 1 }', (2, 3, 2)),
])
def test_axis_layer_gradcheck(text, shape):
    layer = make_layer(f'name: "g" {text}', [shape])
    x = torch.randn(shape, dtype=torch.float64)
    x = torch.where(x.abs() < 0.05, x + 0.1, x).requires_grad_()  # ASUM: away from the kink
    assert torch.autograd.gradcheck(lambda t: layer(t)[0], (x,))


def test_softmax_of_huge_scores_does_not_overflow():
    layer = make_layer('name: "s" type: "Softmax"', [(1, 3)])
    y = layer(torch.tensor([[1000.0, 1000.0, -1000.0]]))[0]
    assert y.tolist() == [[0.5, 0.5, 0.0]]


def test_argmax_ties_put_the_larger_index_first_as_caffe_partial_sort():
    layer = make_layer('name: "a" type: "ArgMax" argmax_param { top_k: 3 out_max_val: true }', [(1, 5)])
    assert layer.top_shapes == [(1, 2, 3)]
    y = layer(torch.tensor([[1.0, 3.0, 3.0, 2.0, 3.0]]))[0]
    assert y[0, 0].tolist() == [4.0, 2.0, 1.0]  # indices
    assert y[0, 1].tolist() == [3.0, 3.0, 3.0]  # values


def test_argmax_without_axis_ranks_count_1_values_and_pads_to_caffe_axes():
    layer = make_layer('name: "a" type: "ArgMax" argmax_param { top_k: 2 }', [(2, 2, 1, 3)])
    assert layer.top_shapes == [(2, 1, 2, 1)]
    x = torch.tensor([[[[0.0, 9.0, 1.0]], [[5.0, 2.0, 3.0]]], [[[7.0, 0.0, 0.0]], [[0.0, 0.0, 8.0]]]])
    assert layer(x)[0].reshape(2, 2).tolist() == [[1.0, 3.0], [5.0, 0.0]]


def test_argmax_with_axis_keeps_other_axes():
    layer = make_layer('name: "a" type: "ArgMax" argmax_param { axis: 0 out_max_val: true }', [(3, 2)])
    assert layer.top_shapes == [(1, 2)]
    assert layer(torch.tensor([[1.0, 5.0], [4.0, 0.0], [2.0, 6.0]]))[0].tolist() == [[4.0, 6.0]]
    idx = make_layer('name: "a" type: "ArgMax" argmax_param { axis: -2 }', [(3, 2)])
    assert idx(torch.tensor([[1.0, 5.0], [4.0, 0.0], [2.0, 6.0]]))[0].tolist() == [[1.0, 2.0]]


def test_reduction_operations_by_hand():
    x = torch.tensor([[1.0, -2.0, 3.0], [-4.0, 5.0, 6.0]])
    expect = {"SUM": [2.0, 7.0], "ASUM": [6.0, 15.0], "SUMSQ": [14.0, 77.0], "MEAN": [2 / 3, 7 / 3]}
    for op, values in expect.items():
        layer = make_layer(f'name: "r" type: "Reduction" reduction_param {{ operation: {op} axis: 1 '
                           'coeff: 3 }', [(2, 3)])
        assert layer(x)[0].tolist() == pytest.approx([3 * v for v in values]), op
    total = make_layer('name: "r" type: "Reduction"', [(2, 3)])
    assert total.top_shapes == [()] and total(x)[0].item() == 9.0


@pytest.mark.parametrize("text, shape, message", [
    ('type: "Softmax" softmax_param { axis: 2 }', (2, 3), "axis 2 out of range"),
    ('type: "ArgMax" argmax_param { top_k: 4 }', (2, 3), "top_k 4 exceeds the 3 values per item"),
    ('type: "ArgMax" argmax_param { axis: 0 top_k: 3 }', (2, 3), "top_k 3 exceeds the 2 entries of axis 0"),
    ('type: "ArgMax" argmax_param { top_k: 0 }', (2, 3), "top_k must be >= 1"),
    ('type: "Reduction" reduction_param { axis: -3 }', (2, 3), "axis -3 out of range"),
])
def test_axis_layer_invalid_parameters_are_one_line_errors(text, shape, message):
    with pytest.raises(CaffeError) as e:
        make_layer(f'name: "bad" {text}', [shape])
    msg = str(e.value)
    assert message in msg and msg.startswith("layer bad (") and "\n" not in msg
