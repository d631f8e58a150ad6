"""The "Python" registry entry: a caffe.Layer subclass named by python_param runs inside the core Net, in the
whole-net pass (training, scoring) as in the layer-range passes, with its blobs as learnable parameters."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import caffe
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.layers import get_layer_class, known_types
from fer_caffe_compat.net import Net
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt


class ScaledSquare(caffe.Layer):
    """top = w * bottom^2 with one learnable scalar w (2 at setup)."""

    def setup(self, bottom, top):
        self.blobs.add_blob(1)
        self.blobs[0].data[...] = 2

    def reshape(self, bottom, top):
        top[0].reshape(*bottom[0].data.shape)

    def forward(self, bottom, top):
        top[0].data[...] = self.blobs[0].data * bottom[0].data ** 2

    def backward(self, top, propagate_down, bottom):
        self.blobs[0].diff[...] += (top[0].diff * bottom[0].data ** 2).sum()
        if propagate_down[0]:
            bottom[0].diff[...] = 2 * self.blobs[0].data * bottom[0].data * top[0].diff


class NotALayer:
    pass


NET = ("layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 } } }\n"
       "layer { name: 'sq' type: 'Python' bottom: 'x' top: 'y' python_param { module: '%s' layer: '%s' } }\n"
       "layer { name: 'loss' type: 'Reduction' bottom: 'y' top: 'loss' loss_weight: 1 }\n")


def build(cls_name: str = "ScaledSquare") -> Net:
    return Net(parse_prototxt(NET % (__name__, cls_name), caffe_pb2.NetParameter()), phase=caffe_pb2.TRAIN)


def test_python_is_a_registered_type():
    assert "Python" in known_types() and get_layer_class("Python").__name__ == "PythonLayer"


def test_whole_net_pass_trains_the_python_layer_blob():
    net = build()
    x = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]])
    out = net.forward({"x": x})
    np.testing.assert_allclose(out["y"].detach().numpy(), 2 * x.numpy() ** 2, rtol=1e-6)
    net.total_loss(out).backward()
    w = net.learnable_params[0].param
    assert [lp.layer_name for lp in net.learnable_params] == ["sq"]
    assert float(w.grad) == pytest.approx(float((x ** 2).sum()), rel=1e-6)


def test_layer_range_backward_matches_the_derivative():
    net = build()
    x = torch.tensor([[1.0, -2.0, 3.0], [0.5, 0.0, -1.0]])
    net.blob_store.data_memory("x").hold()[...] = x
    net.forward_range()
    net.backward_range()
    assert not net.blob_store.get_diff("x").any()  # Input blobs need no diff without force_backward
    w = net.learnable_params[0].param
    assert float(w.grad) == pytest.approx(float((x ** 2).sum()), rel=1e-6)


def test_a_class_that_is_not_a_caffe_layer_is_refused():
    with pytest.raises(CaffeError, match=r"layer sq \(Python\): .*NotALayer is not a subclass of caffe\.Layer"):
        build("NotALayer")
