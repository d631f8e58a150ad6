"""Crop: bottom[0] cut to bottom[1]'s shape from axis on."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.layer_grad import gradcheck_layer


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zoo_crop_matches_caffe(dtype):
    check_zoo_layer("crop", dtype)


def test_zoo_crop_top_shape_matches_caffe():
    ours, caffe = zoo_top_shapes("crop")
    assert ours == caffe


def crop(extra: str, a, b):
    return make_layer(f'name: "c" type: "Crop" crop_param {{ {extra} }}', [a, b])


def test_single_offset_applies_to_every_axis_from_axis():
    layer = crop("axis: 1 offset: 1", (1, 3, 4, 5), (1, 2, 2, 3))
    x = torch.arange(60.0, dtype=torch.float64).reshape(1, 3, 4, 5)
    y = layer(x, torch.zeros(1, 2, 2, 3))[0]
    assert layer.top_shapes == [(1, 2, 2, 3)]
    torch.testing.assert_close(y, x[:, 1:3, 1:3, 1:4])


def test_default_axis_2_and_offset_0():
    layer = crop("", (2, 3, 4, 5), (1, 1, 2, 2))
    assert layer.top_shapes == [(2, 3, 2, 2)]
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(layer(x, torch.zeros(1, 1, 2, 2))[0], x[:, :, :2, :2])


def test_gradcheck_crop():
    layer = crop("offset: 1 offset: 2", (1, 2, 4, 5), (1, 1, 2, 2))
    assert gradcheck_layer(layer, [torch.randn(1, 2, 4, 5), torch.randn(1, 1, 2, 2)], grad_bottoms=[True, False])


@pytest.mark.parametrize("extra, a, b, message", [
    ("offset: 3", (1, 1, 4, 4), (1, 1, 2, 2), "out of bounds"),
    ("axis: 1 offset: 0 offset: 0", (1, 1, 4, 4), (1, 1, 2, 2), "one per axis"),
    ("", (1, 1, 4, 4), (1, 2, 2), "same number of axes"),
    ("axis: 4", (1, 1, 4, 4), (1, 1, 2, 2), "out of range"),
])
def test_invalid_crop_is_a_one_line_error(extra, a, b, message):
    with pytest.raises(CaffeError, match=message) as e:
        crop(extra, a, b)
    assert str(e.value).startswith("layer c (Crop): ")
