"""caffe.coord_map: coordinate maps between NetSpec tops and the Crop layers made from them."""
from __future__ import annotations

import numpy as np
import pytest

import caffe
from caffe import layers as L, params as P
from caffe.coord_map import (AxisMismatchException, UndefinedMapException, compose, coord_map,
                             coord_map_from_to, crop, inverse)


def _net(ks=3, stride=1, pad=0, pool=2, dstride=2, dpad=0) -> caffe.NetSpec:
    """data 100x100 -> conv -> max pool -> deconv (kernel twice its stride): FCN's upsampling pattern."""
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 1, 100, 100]))
    n.conv = L.Convolution(n.data, num_output=10, kernel_size=ks, stride=stride, pad=pad)
    n.pool = L.Pooling(n.conv, pool=P.Pooling.MAX, kernel_size=pool, stride=pool, pad=0)
    n.deconv = L.Deconvolution(n.pool, num_output=10, kernel_size=dstride * 2, stride=dstride, pad=dpad)
    return n


def _map(top_from, top_to):
    ax, a, b = coord_map_from_to(top_from, top_to)
    return ax, np.asarray(a).tolist(), np.asarray(b).tolist()


@pytest.mark.parametrize("kw, want", [
    (dict(), (1, [1.0], [0.0])),                        # 2x pool undone by 2x deconv: identity
    (dict(pool=4, dstride=4), (1, [1.0], [-1.0])),      # 4x: shifted by one
    (dict(pad=3), (1, [1.0], [-3.0])),                  # conv padding shifts back
    (dict(dpad=3), (1, [1.0], [3.0])),                  # deconv padding shifts forward
    (dict(pad=3, dpad=3), (1, [1.0], [0.0])),
    (dict(pool=3, dstride=2), (1, [1.5], [-0.25])),     # scales that do not cancel
    (dict(ks=[3, 5], stride=[1, 2], pad=[0, 10]), (1, [1.0, 2.0], [0.0, -10.0])),
])
def test_conv_pool_deconv_maps(kw, want):
    n = _net(**kw)
    ax, a, b = _map(n.deconv, n.data)
    assert (ax, pytest.approx(a), pytest.approx(b)) == want


def test_layer_maps_compose_and_invert():
    n = _net()
    assert coord_map(n.conv.fn) == (1, pytest.approx(np.array([1.0])), pytest.approx(np.array([-1.0])))
    ax, a, b = coord_map(n.deconv.fn)
    assert (ax, a.tolist(), b.tolist()) == (1, [2], [1.5])
    assert coord_map(L.ReLU(n.data).fn) == (None, 1, 0)
    with pytest.raises(UndefinedMapException):
        coord_map(L.InnerProduct(n.data, num_output=2).fn)
    assert compose((None, 1, 0), (2, 3, 1)) == (2, 3, 1) and compose((2, 3, 1), (None, 2, 2)) == (2, 6, 7)
    with pytest.raises(AxisMismatchException):
        compose((1, 1, 0), (2, 1, 0))
    assert inverse((1, 2.0, 3.0)) == (1, 0.5, -1.5)


def test_pointwise_and_1x1_layers_pass_the_map_through():
    n = _net()
    n.relu = L.ReLU(n.deconv)
    n.conv1x1 = L.Convolution(n.relu, num_output=10, kernel_size=1)
    assert _map(n.relu, n.data) == _map(n.conv1x1, n.data) == _map(n.deconv, n.data)


def test_nd_kernels_and_dilation():
    n = caffe.NetSpec()
    n.data = L.Input(shape=dict(dim=[2, 3, 20, 20, 20]))
    n.conv = L.Convolution(n.data, num_output=4, kernel_size=[3, 3, 3], pad=[0, 1, 2], dilation=2)
    ax, a, b = _map(n.conv, n.data)
    assert (ax, a, b) == (1, [1.0], [2.0, 1.0, 0.0])  # shift (k - 1) * dilation / 2 - pad per axis


def test_crop_of_a_crop_adds_its_offset():
    n = _net()
    n.crop = L.Crop(n.deconv, n.data, axis=2, offset=7)
    assert _map(n.crop, n.data) == (1, [1.0], [7.0])


def test_crop_makes_the_aligning_layer():
    n = _net(pad=5)
    n.score = crop(n.deconv, n.data)
    text = str(n.to_proto())
    assert text.endswith('layer {\n  name: "score"\n  type: "Crop"\n  bottom: "deconv"\n  bottom: "data"\n'
                         '  top: "score"\n  crop_param {\n    axis: 2\n    offset: 5\n  }\n}\n')


@pytest.mark.parametrize("kw, message", [
    (dict(pool=3, dstride=2), "scale mismatch on crop"),
    (dict(dpad=10), "cannot crop negative offset"),
    (dict(pad=1, pool=4, dstride=4, dpad=0, ks=2), "cannot crop noninteger offset"),
])
def test_crop_refuses_what_cannot_be_cropped(kw, message):
    n = _net(**kw)
    with pytest.raises(AssertionError, match=message):
        crop(n.deconv, n.data)


def test_unconnected_tops_and_legacy_params():
    n = _net()
    n.ip = L.InnerProduct(n.deconv, num_output=10)
    with pytest.raises(RuntimeError, match="Could not compute map between tops"):
        coord_map_from_to(n.ip, n.data)
    n.legacy = L.Convolution(n.data, num_output=1, kernel_size=3, pad_h=1, pad_w=1)
    with pytest.raises(AssertionError, match="legacy _h/_w"):
        coord_map_from_to(n.legacy, n.data)
