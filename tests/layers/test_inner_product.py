"""InnerProduct (axis, transpose, bias_term) and Embed."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.layer_grad import gradcheck_layer

ZOO = ["ip4d", "ip_axis2", "ip_t", "ip_cls", "ip_lu", "embed"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ZOO)
def test_zoo_layer_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_top_shapes_match_caffe(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


def ip(extra: str, shape):
    return make_layer(f'name: "f" type: "InnerProduct" inner_product_param {{ {extra} }}', [shape])


def test_inner_product_hand_computed():
    layer = ip("num_output: 2 transpose: true", (1, 3))
    with torch.no_grad():
        layer.blobs[0].copy_(torch.tensor([[1.0, 0.0], [2.0, 1.0], [0.0, -1.0]]))  # (K, N) when transposed
        layer.blobs[1].copy_(torch.tensor([0.5, -0.5]))
    y = layer(torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64))[0]
    assert y.tolist() == [[5.5, -1.5]]


def test_inner_product_without_bias_has_one_blob():
    layer = ip("num_output: 3 bias_term: false axis: -1", (2, 4, 5))
    assert [tuple(b.shape) for b in layer.blobs] == [(3, 5)]
    assert layer.top_shapes == [(2, 4, 3)]


@pytest.mark.parametrize("extra", ["num_output: 3", "num_output: 3 transpose: true axis: 2"])
def test_gradcheck_inner_product(extra):
    torch.manual_seed(0)
    layer = ip(extra + ' weight_filler { type: "gaussian" } bias_filler { type: "gaussian" }', (2, 3, 4))
    assert gradcheck_layer(layer, [torch.randn(2, 3, 4)])


@pytest.mark.parametrize("extra, message", [("", "num_output must be given"),
                                            ("num_output: 2 axis: 5", "axis 5 out of range")])
def test_invalid_inner_product_is_a_one_line_error(extra, message):
    with pytest.raises(CaffeError, match=message) as e:
        ip(extra, (2, 3))
    assert str(e.value).startswith("layer f (InnerProduct): ")


def embed(extra: str, shape=(3,)):
    return make_layer(f'name: "e" type: "Embed" embed_param {{ {extra} }}', [shape])


def test_embed_picks_rows_and_adds_bias():
    layer = embed("num_output: 2 input_dim: 3", (2, 2))
    with torch.no_grad():
        layer.blobs[0].copy_(torch.tensor([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
        layer.blobs[1].copy_(torch.tensor([10.0, 20.0]))
    y = layer(torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=torch.float64))[0]
    assert layer.top_shapes == [(2, 2, 2)]
    assert y.tolist() == [[[14.0, 25.0], [10.0, 21.0]], [[12.0, 23.0], [12.0, 23.0]]]


def test_gradcheck_embed_weights():
    torch.manual_seed(0)
    layer = embed('num_output: 2 input_dim: 4 weight_filler { type: "gaussian" } bias_filler { type: "gaussian" }')
    assert gradcheck_layer(layer, [torch.tensor([3.0, 0.0, 3.0])], grad_bottoms=[False])


@pytest.mark.parametrize("value", [4.0, -1.0, 1.5])
def test_embed_index_outside_the_table_is_an_error(value):
    layer = embed("num_output: 2 input_dim: 4", (1,))
    with pytest.raises(CaffeError, match=r"layer e \(Embed\): inputs must be integers in \[0, 4\)"):
        layer(torch.tensor([value], dtype=torch.float64))


@pytest.mark.parametrize("extra, message", [("input_dim: 3", "num_output"), ("num_output: 3", "input_dim")])
def test_embed_needs_num_output_and_input_dim(extra, message):
    with pytest.raises(CaffeError, match=message):
        embed(extra)
