"""LRN: ACROSS_CHANNELS with k, WITHIN_CHANNEL (k unused), Caffe's zoo and errors."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.layer_grad import gradcheck_layer

ZOO = ["lrn_across", "lrn_within"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ZOO)
def test_zoo_layer_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_top_shapes_match_caffe(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


def lrn(extra: str, shape=(1, 3, 1, 1)):
    return make_layer(f'name: "n" type: "LRN" lrn_param {{ {extra} }}', [shape])


def test_across_channels_uses_k_and_alpha_over_n():
    # scale_c = k + alpha/n * sum of x^2 over channels c-1..c+1 (zero outside): 2 + 1*(1+4), 2 + 14, 2 + 13
    layer = lrn("local_size: 3 alpha: 3 beta: 1 k: 2")
    y = layer(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).reshape(1, 3, 1, 1))[0]
    torch.testing.assert_close(y.flatten(), torch.tensor([1 / 7, 2 / 16, 3 / 15], dtype=torch.float64))


def test_within_channel_divides_by_n_squared_and_ignores_k():
    # 1x1 plane, local_size 3: the 3x3 window holds x^2 and 8 zero pads: scale = 1 + alpha * x^2 / 9
    layer = lrn("norm_region: WITHIN_CHANNEL local_size: 3 alpha: 9 beta: 0.5 k: 100", (1, 1, 1, 1))
    y = layer(torch.full((1, 1, 1, 1), 2.0, dtype=torch.float64))[0]
    torch.testing.assert_close(y.flatten(), torch.tensor([2.0 / 5.0 ** 0.5], dtype=torch.float64))


@pytest.mark.parametrize("region", ["ACROSS_CHANNELS", "WITHIN_CHANNEL"])
def test_gradcheck_lrn(region):
    torch.manual_seed(0)
    layer = lrn(f"norm_region: {region} local_size: 3 alpha: 0.7 beta: 0.75 k: 1.5", (2, 4, 3, 3))
    assert gradcheck_layer(layer, [torch.randn(2, 4, 3, 3)])


@pytest.mark.parametrize("extra, shape, message", [
    ("local_size: 4", (1, 3, 2, 2), "only supports odd values for local_size"),
    ("local_size: 0", (1, 3, 2, 2), "only supports odd values for local_size"),
    ("local_size: 3", (3, 2, 2), "must have 4 axes"),
])
def test_invalid_lrn_parameters_are_one_line_errors(extra, shape, message):
    with pytest.raises(CaffeError, match=message) as e:
        lrn(extra, shape)
    assert str(e.value).startswith("layer n (LRN): ")
