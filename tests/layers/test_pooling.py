"""Pooling and SPP: Caffe's ceil rounding, last-window clip, AVE divisor, argmax mask."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.layer_grad import gradcheck_layer

ZOO = ["pool_max", "pool_ave", "pool_ave_np", "pool_max_clip", "pool_floor", "gpool_ave", "gpool_max",
       "spp", "spp_ave"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ZOO)
def test_zoo_layer_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_top_shapes_match_caffe(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


def pool(extra: str, shape, tops: int = 1, **kw):
    top = " ".join(f'top: "t{i}"' for i in range(tops))
    return make_layer(f'name: "p" type: "Pooling" {top} pooling_param {{ {extra} }}', [shape], **kw)


def test_pooling_ceil_overhang_matches_caffe():
    # W = 4, k 3, s 2: ceil(1/2) + 1 = 2 windows (PyTorch's floor gives 1); the second covers W 2..3 only
    layer = pool("pool: MAX kernel_size: 3 stride: 2", (1, 1, 3, 4))
    x = torch.arange(12.0, dtype=torch.float64).reshape(1, 1, 3, 4)
    assert layer.top_shapes == [(1, 1, 1, 2)]
    assert layer(x)[0].flatten().tolist() == [10.0, 11.0]


def test_pooling_drops_last_window_that_starts_in_the_pad():
    # H = 3, k 2, s 2, pad 1: ceil(3/2)+1 = 3, but window 2 starts at 4 >= H + pad: 2 windows
    layer = pool("pool: AVE kernel_size: 2 stride: 2 pad: 1", (1, 1, 3, 3))
    assert layer.top_shapes == [(1, 1, 2, 2)]
    # divisors count the pad (2x2 everywhere); valid cells 1, 2 per axis
    y = layer(torch.ones(1, 1, 3, 3, dtype=torch.float64))[0]
    assert y.flatten().tolist() == [0.25, 0.5, 0.5, 1.0]


def test_ave_divisor_clips_overhang_beyond_the_pad():
    # W = 4, k 3, s 2, pad 1: windows at -1..1, 1..3, 3..5 -> clipped to W + pad = 5: sizes 3, 3, 2
    layer = pool("pool: AVE kernel_h: 1 kernel_w: 3 stride: 2 pad_h: 0 pad_w: 1", (1, 1, 1, 4))
    y = layer(torch.tensor([[[[1.0, 2.0, 3.0, 4.0]]]], dtype=torch.float64))[0]
    torch.testing.assert_close(y.flatten(), torch.tensor([3 / 3, 9 / 3, 4 / 2], dtype=torch.float64))


@pytest.mark.parametrize("method, expected", [("AVE", [1 / 3, 3 / 3, 6 / 3, 5 / 3, 3 / 3]), ("MAX", [1, 2, 3, 3, 3])])
def test_pad_over_half_the_kernel_matches_caffe(method, expected):
    # W = 3, k 3, s 1, pad 2 (Caffe allows pad < kernel, PyTorch pad <= kernel / 2): 5 windows from -2,
    # every AVE divisor 3 (clipped at W + pad = 5); MAX ignores the pad
    layer = pool(f"pool: {method} kernel_h: 1 kernel_w: 3 stride: 1 pad_h: 0 pad_w: 2", (1, 1, 1, 3))
    y = layer(torch.tensor([[[[1.0, 2.0, 3.0]]]], dtype=torch.float64))[0]
    torch.testing.assert_close(y.flatten(), torch.tensor(expected, dtype=torch.float64))


def test_max_mask_is_flat_index_in_the_input_plane():
    layer = pool("pool: MAX kernel_size: 2 stride: 2", (1, 1, 2, 3), tops=2)
    x = torch.tensor([[[[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]]], dtype=torch.float64)
    y, mask = layer(x)
    assert y.flatten().tolist() == [7.0, 3.0]
    assert mask.flatten().tolist() == [3.0, 5.0] and mask.dtype == x.dtype


def test_max_ignores_padding_for_negative_inputs():
    layer = pool("pool: MAX kernel_size: 2 stride: 2 pad: 1", (1, 1, 2, 2), tops=2)
    x = -torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
    y, mask = layer(x)
    assert y.flatten().tolist() == [-1.0, -2.0, -3.0, -4.0]
    assert mask.flatten().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_floor_round_mode():
    layer = pool("pool: MAX kernel_size: 3 stride: 2 round_mode: FLOOR", (1, 1, 3, 4))
    assert layer.top_shapes == [(1, 1, 1, 1)]
    assert layer(torch.arange(12.0, dtype=torch.float64).reshape(1, 1, 3, 4))[0].item() == 10.0


def test_floor_with_pad_leaves_the_right_edge_unused():
    # W 7, k 2, s 4, pad 1, FLOOR: floor(7/4)+1 = 2 windows at -1..1 (divisor 2, 1 valid) and 3..5
    layer = pool("pool: AVE kernel_h: 1 kernel_w: 2 stride_h: 1 stride_w: 4 pad_h: 0 pad_w: 1 round_mode: FLOOR",
                 (1, 1, 1, 7))
    assert layer(torch.ones(1, 1, 1, 7, dtype=torch.float64))[0].flatten().tolist() == [0.5, 1.0]


def test_global_pooling_uses_the_whole_plane():
    layer = pool("pool: AVE global_pooling: true", (2, 3, 4, 5))
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0], x.mean(dim=(2, 3), keepdim=True))


def test_stochastic_pooling_at_test_time_is_the_weighted_average():
    layer = pool("pool: STOCHASTIC kernel_size: 2 stride: 2", (1, 1, 2, 2))
    y = layer(torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64))[0]
    torch.testing.assert_close(y.flatten(), torch.tensor([30.0 / 10.0], dtype=torch.float64))


def test_stochastic_pooling_in_train_is_refused_as_caffe_cpu_does():
    with pytest.raises(CaffeError, match="STOCHASTIC"):
        pool("pool: STOCHASTIC kernel_size: 2", (1, 1, 4, 4), phase=caffe_pb2.TRAIN)


def test_spp_single_level_is_an_unflattened_pooling():
    layer = make_layer('name: "s" type: "SPP" spp_param { pyramid_height: 1 pool: AVE }', [(2, 3, 5, 4)])
    x = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    assert layer.top_shapes == [(2, 3, 1, 1)]
    torch.testing.assert_close(layer(x)[0], x.mean(dim=(2, 3), keepdim=True))


@pytest.mark.parametrize("extra, shape, tops, message", [
    ("kernel_size: 3 stride: 0", (1, 1, 5, 5), 1, "stride must be > 0"),
    ("kernel_size: 0", (1, 1, 5, 5), 1, "filter dimensions cannot be zero"),
    ("stride: 2", (1, 1, 5, 5), 1, "kernel_size .* is required"),
    ("kernel_size: 2 kernel_h: 2 kernel_w: 2", (1, 1, 5, 5), 1, "not both"),
    ("global_pooling: true kernel_size: 2", (1, 1, 5, 5), 1, "cannot be specified"),
    ("global_pooling: true stride: 2", (1, 1, 5, 5), 1, "only pad = 0 and stride = 1"),
    ("kernel_size: 2 pad: 2", (1, 1, 5, 5), 1, "smaller than the kernel"),
    ("pool: STOCHASTIC kernel_size: 2 pad: 1", (1, 1, 5, 5), 1, "padding is implemented only"),
    ("pool: AVE kernel_size: 2", (1, 1, 5, 5), 2, "only MAX pooling has a second top"),
    ("kernel_size: 2", (1, 5, 5), 1, "must have 4 axes"),
    ("kernel_size: 9", (1, 1, 5, 5), 1, "does not fit"),
])
def test_invalid_pooling_parameters_are_one_line_errors(extra, shape, tops, message):
    with pytest.raises(CaffeError, match=message) as e:
        pool(extra, shape, tops)
    assert str(e.value).startswith("layer p (Pooling): ") and "\n" not in str(e.value)


def test_spp_without_pyramid_height_is_an_error():
    with pytest.raises(CaffeError, match="pyramid_height"):
        make_layer('name: "s" type: "SPP"', [(1, 1, 4, 4)])


@pytest.mark.parametrize("extra", ["pool: MAX kernel_size: 3 stride: 2 pad: 1", "pool: AVE kernel_size: 3 stride: 2 pad: 1",
                                   "pool: AVE kernel_h: 2 kernel_w: 3 stride: 2",
                                   "pool: MAX kernel_size: 3 stride: 2 pad: 2", "pool: AVE kernel_size: 3 stride: 2 pad: 2"])
def test_gradcheck_pooling(extra):
    torch.manual_seed(0)
    assert gradcheck_layer(pool(extra, (1, 2, 5, 6)), [torch.randn(1, 2, 5, 6)])


@pytest.mark.parametrize("method", ["MAX", "AVE"])
def test_gradcheck_spp(method):
    torch.manual_seed(0)
    layer = make_layer(f'name: "s" type: "SPP" spp_param {{ pyramid_height: 3 pool: {method} }}', [(1, 2, 7, 6)])
    assert gradcheck_layer(layer, [torch.randn(1, 2, 7, 6)])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape, kernel, stride, pad, ceil", [
    ((4, 20, 44, 44), 2, 2, 0, True),     # LeNet-FER pool1
    ((4, 50, 18, 18), 2, 2, 0, True),     # pool2
    ((3, 96, 12, 12), 3, 2, 0, True),     # AlexNet-48: overlapping windows, the last one overhangs
    ((2, 8, 9, 7), 3, 2, 1, False),       # padding, floor
])
def test_max_pool_nhwc_is_bitwise_the_nchw_kernel(shape, kernel, stride, pad, ceil, dtype):
    """The channels-last route (max_pool_nhwc.py) gives max_pool2d's top, argmax and gradient exactly,
    ties (first maximum) and NaN included."""
    from fer_caffe_compat.layers import max_pool_nhwc

    g = torch.Generator().manual_seed(0)
    x = (torch.randint(-3, 4, shape, generator=g) / 2).to(dtype)  # many ties
    x.view(-1)[::97] = float("nan")
    assert max_pool_nhwc.applies(x)
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, i1 = torch.nn.functional.max_pool2d(x1, kernel, stride, pad, ceil_mode=ceil, return_indices=True)
    y2, i2 = max_pool_nhwc.max_pool(x2, (kernel, kernel), (stride, stride), (pad, pad), ceil, True)
    assert y2.is_contiguous() and torch.equal(i1, i2)
    assert torch.equal(y1.nan_to_num(7.0), y2.nan_to_num(7.0))
    gy = torch.randn(y1.shape, generator=g, dtype=dtype)
    y1.backward(gy)
    y2.backward(gy)
    assert x2.grad.is_contiguous() and torch.equal(x1.grad, x2.grad)
    with torch.no_grad():
        top, mask = max_pool_nhwc.max_pool(x, (kernel, kernel), (stride, stride), (pad, pad), ceil, True)
    assert torch.equal(mask, i1) and torch.equal(top.nan_to_num(7.0), y1.nan_to_num(7.0))
