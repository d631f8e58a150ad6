"""Convolution, Deconvolution and Im2col against Caffe's zoo, gradchecks and parameter errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.layer_grad import gradcheck_layer

ZOO = ["conv_a", "conv_g", "deconv", "im2col"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ZOO)
def test_zoo_layer_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_top_shapes_match_caffe(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


def conv(extra: str, shape, kind: str = "Convolution", **kw):
    return make_layer(f'name: "c" type: "{kind}" convolution_param {{ {extra} }}', [shape], **kw)


def test_convolution_blob_shapes_and_default_fillers():
    layer = conv('num_output: 6 kernel_size: 3 group: 2 weight_filler { type: "xavier" }', (1, 4, 5, 5))
    assert [tuple(b.shape) for b in layer.blobs] == [(6, 2, 3, 3), (6,)]
    assert torch.equal(layer.blobs[1], torch.zeros(6, dtype=torch.float64))  # bias filler default constant 0
    assert layer.blobs[0].abs().max() <= (3.0 / 18) ** 0.5


def test_deconvolution_weight_is_in_by_out_over_group():
    layer = conv("num_output: 4 kernel_size: 2 stride: 2 group: 2 bias_term: false", (1, 6, 3, 3), "Deconvolution")
    assert [tuple(b.shape) for b in layer.blobs] == [(6, 2, 2, 2)]
    assert layer.top_shapes == [(1, 4, 6, 6)]


def test_convolution_1d_matches_numpy_reference():
    layer = conv("num_output: 2 kernel_size: 3 stride: 2 pad: 1", (2, 3, 8))
    x = torch.randn(2, 3, 8, dtype=torch.float64)
    w, b = layer.blobs[0].detach().normal_(), layer.blobs[1].detach().normal_()
    xp = np.pad(x.numpy(), ((0, 0), (0, 0), (1, 1)))
    ref = np.stack([np.einsum("nck,ock->no", xp[:, :, 2 * i:2 * i + 3], w.numpy()) for i in range(4)], -1)
    ref += b.numpy()[None, :, None]
    assert layer.top_shapes == [(2, 2, 4)]
    np.testing.assert_allclose(layer(x)[0].detach().numpy(), ref, rtol=1e-12, atol=1e-12)


def test_convolution_axis_treats_leading_axes_as_batch():
    layer = conv("num_output: 5 kernel_size: 3 axis: 2", (2, 3, 4, 9))
    assert layer.top_shapes == [(2, 3, 5, 7)]
    x = torch.randn(2, 3, 4, 9, dtype=torch.float64)
    y = layer(x)[0]
    ref = torch.nn.functional.conv1d(x.reshape(6, 4, 9), layer.blobs[0], layer.blobs[1]).reshape(2, 3, 5, 7)
    torch.testing.assert_close(y, ref)


def test_convolution_several_bottoms_share_weights():
    layer = make_layer('name: "c" type: "Convolution" top: "a" top: "b" '
                       'convolution_param { num_output: 2 kernel_size: 1 }', [(1, 3, 2, 2), (1, 3, 2, 2)])
    x1, x2 = torch.randn(2, 1, 3, 2, 2, dtype=torch.float64)
    y1, y2 = layer(x1, x2)
    torch.testing.assert_close(y2, layer(x2, x1)[0])
    assert layer.top_shapes == [(1, 2, 2, 2)] * 2


def test_gradcheck_grouped_dilated_convolution():
    torch.manual_seed(0)
    layer = conv('num_output: 4 kernel_h: 3 kernel_w: 2 pad_h: 1 stride_w: 2 stride_h: 1 dilation: 2 group: 2 '
                 'weight_filler { type: "gaussian" } bias_filler { type: "gaussian" }', (2, 4, 5, 6))
    assert gradcheck_layer(layer, [torch.randn(2, 4, 5, 6)])


def test_gradcheck_deconvolution():
    torch.manual_seed(0)
    layer = conv('num_output: 3 kernel_size: 3 stride: 2 pad: 1 weight_filler { type: "gaussian" } '
                 'bias_filler { type: "gaussian" }', (1, 2, 3, 4), "Deconvolution")
    assert gradcheck_layer(layer, [torch.randn(1, 2, 3, 4)])


def test_gradcheck_im2col():
    layer = make_layer('name: "i" type: "Im2col" convolution_param { kernel_size: 2 stride: 2 pad: 1 }',
                       [(1, 2, 3, 3)])
    assert layer.top_shapes == [(1, 8, 2, 2)]
    assert gradcheck_layer(layer, [torch.randn(1, 2, 3, 3)])


@pytest.mark.parametrize("extra, shape, message", [
    ("num_output: 2 kernel_size: 3 stride: 0", (1, 1, 5, 5), "stride dimensions must be nonzero"),
    ("num_output: 2 kernel_size: 0", (1, 1, 5, 5), "filter dimensions must be nonzero"),
    ("num_output: 2", (1, 1, 5, 5), "kernel_size .* is required"),
    ("kernel_size: 3", (1, 1, 5, 5), "num_output must be given"),
    ("num_output: 4 kernel_size: 1 group: 2", (1, 3, 5, 5), "group 2 does not divide the 3 input channels"),
    ("num_output: 3 kernel_size: 1 group: 2", (1, 4, 5, 5), "group 2 does not divide num_output 3"),
    ("num_output: 2 kernel_size: 3 kernel_h: 3 kernel_w: 3", (1, 1, 5, 5), "not both"),
    ("num_output: 2 kernel_h: 3 kernel_w: 3", (1, 1, 5, 5, 5), "only be used for 2D"),
    ("num_output: 2 kernel_size: 3 kernel_size: 3 kernel_size: 3", (1, 1, 5, 5), "once per spatial dimension"),
    ("num_output: 2 kernel_size: 7", (1, 1, 5, 5), "does not fit"),
])
def test_invalid_convolution_parameters_are_one_line_errors(extra, shape, message):
    with pytest.raises(CaffeError, match=message) as e:
        conv(extra, shape)
    assert str(e.value).startswith("layer c (Convolution): ") and "\n" not in str(e.value)


def test_bottoms_of_different_shapes_name_both_shapes():
    with pytest.raises(CaffeError, match=r"\(1, 3, 4, 4\) vs \(1, 3, 5, 5\)"):
        make_layer('name: "c" type: "Convolution" top: "a" top: "b" convolution_param { num_output: 2 '
                   'kernel_size: 1 }', [(1, 3, 4, 4), (1, 3, 5, 5)])


def test_deconvolution_in_train_phase_is_the_same_layer():
    layer = conv("num_output: 1 kernel_size: 2", (1, 1, 2, 2), "Deconvolution", phase=caffe_pb2.TRAIN)
    assert layer.top_shapes == [(1, 1, 3, 3)]
