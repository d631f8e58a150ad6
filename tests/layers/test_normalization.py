"""BatchNorm, Scale, Bias and MVN with Caffe's arithmetic."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.layer_grad import gradcheck_layer

ZOO = ["bn", "bn_scale", "mvn", "mvn_ac", "mvn_eps", "scale2", "bias"]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", ZOO)
def test_zoo_layer_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_top_shapes_match_caffe(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


def bn(extra: str, shape=(2, 2), phase=caffe_pb2.TEST, params: str = ""):
    return make_layer(f'name: "b" type: "BatchNorm" {params} batch_norm_param {{ {extra} }}', [shape], phase)


X = torch.tensor([[1.0, 2.0], [3.0, 6.0]], dtype=torch.float64)  # channel 0: 1, 3; channel 1: 2, 6


def test_batchnorm_train_updates_statistics_as_caffe():
    layer = bn("moving_average_fraction: 0.5 eps: 0", phase=caffe_pb2.TRAIN)
    assert not layer.use_global_stats
    y = layer(X)[0]
    # batch mean (2, 4), biased var (1, 4) -> y = (x - mean) / sqrt(var)
    torch.testing.assert_close(y, torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64))
    # factor 0*0.5 + 1; mean = mean + 0.5*0; var = m/(m-1) * var with m = 2
    assert [b.tolist() for b in layer.blobs] == [[2.0, 4.0], [2.0, 8.0], [1.0]]
    layer(X)
    assert [b.tolist() for b in layer.blobs] == [[3.0, 6.0], [3.0, 12.0], [1.5]]


def test_batchnorm_test_divides_statistics_by_the_factor():
    layer = bn("eps: 0.25")
    assert layer.use_global_stats
    with torch.no_grad():
        for b, v in zip(layer.blobs, ([4.0, 8.0], [1.5, 7.5], [2.0])):
            b.copy_(torch.tensor(v))
    y = layer(X)[0]  # mean (2, 4), var (0.75, 3.75) + eps -> sqrt 1, 2
    torch.testing.assert_close(y, torch.tensor([[-1.0, -1.0], [1.0, 1.0]], dtype=torch.float64))


def test_batchnorm_zero_factor_gives_zero_statistics():
    layer = bn("eps: 0.25")
    with torch.no_grad():
        layer.blobs[0].fill_(5.0)
        layer.blobs[1].fill_(5.0)
    torch.testing.assert_close(layer(X)[0], X / 0.5)


def test_batchnorm_statistics_are_not_learnable_and_get_lr_mult_zero():
    layer = bn("", shape=(2, 3, 4, 4))
    assert [tuple(b.shape) for b in layer.blobs] == [(3,), (3,), (1,)]
    assert not any(b.requires_grad for b in layer.blobs)
    assert [p.lr_mult for p in layer.param.param] == [0.0, 0.0, 0.0]


def test_batchnorm_with_a_learning_rate_is_refused():
    with pytest.raises(CaffeError, match=r"layer b \(BatchNorm\): cannot configure batch normalization"):
        bn("", params="param { lr_mult: 1 }")


def test_gradcheck_batchnorm_train_and_global():
    torch.manual_seed(0)
    assert gradcheck_layer(bn("", shape=(3, 2, 2, 2), phase=caffe_pb2.TRAIN), [torch.randn(3, 2, 2, 2)])
    layer = bn("use_global_stats: true", shape=(3, 2, 2))
    with torch.no_grad():
        layer.blobs[1].fill_(2.0)
        layer.blobs[2].fill_(1.0)
    assert gradcheck_layer(layer, [torch.randn(3, 2, 2)])


def test_scale_default_filler_is_one_and_num_axes_extends():
    layer = make_layer('name: "s" type: "Scale" scale_param { axis: 1 num_axes: -1 }', [(2, 3, 4)])
    assert [tuple(b.shape) for b in layer.blobs] == [(3, 4)]
    assert torch.equal(layer.blobs[0], torch.ones(3, 4, dtype=torch.float64))


def test_scale_with_scalar_blob():
    layer = make_layer('name: "s" type: "Scale" scale_param { num_axes: 0 filler { type: "constant" value: 3 } }',
                       [(2, 3)])
    assert tuple(layer.blobs[0].shape) == ()
    torch.testing.assert_close(layer(torch.ones(2, 3, dtype=torch.float64))[0], torch.full((2, 3), 3.0,
                                                                                        dtype=torch.float64))


def test_scale_second_bottom_and_bias():
    layer = make_layer('name: "s" type: "Scale" scale_param { axis: 0 bias_term: true '
                       'bias_filler { type: "constant" value: 1 } }', [(2, 3), (2,)])
    y = layer(torch.ones(2, 3, dtype=torch.float64), torch.tensor([2.0, -1.0], dtype=torch.float64))[0]
    assert y.tolist() == [[3.0] * 3, [0.0] * 3]
    assert [tuple(b.shape) for b in layer.blobs] == [(2,)]


def test_bias_second_bottom():
    layer = make_layer('name: "b" type: "Bias" bias_param { axis: 1 }', [(2, 3), (3,)])
    y = layer(torch.zeros(2, 3, dtype=torch.float64), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))[0]
    assert y.tolist() == [[1.0, 2.0, 3.0]] * 2


@pytest.mark.parametrize("text, shapes", [
    ('name: "s" type: "Scale" scale_param { bias_term: true filler { type: "gaussian" } '
     'bias_filler { type: "gaussian" } }', [(2, 3, 2)]),
    ('name: "s" type: "Scale" scale_param { axis: 0 }', [(2, 3, 2), (2, 3)]),
    ('name: "b" type: "Bias" bias_param { num_axes: 2 filler { type: "gaussian" } }', [(2, 3, 2)]),
    ('name: "b" type: "Bias"', [(2, 3, 2), (3,)]),
])
def test_gradcheck_scale_and_bias(text, shapes):
    torch.manual_seed(0)
    layer = make_layer(text, shapes)
    assert gradcheck_layer(layer, [torch.randn(s) for s in shapes])


@pytest.mark.parametrize("text, shapes, message", [
    ('name: "s" type: "Scale"', [(2, 3), (4,)], r"scale shape \(4,\) does not match bottom\[0\] shape \(2, 3\)"),
    ('name: "s" type: "Scale" scale_param { num_axes: 3 }', [(2, 3)], "extends past bottom"),
    ('name: "s" type: "Scale" scale_param { num_axes: -2 }', [(2, 3)], "num_axes must be non-negative"),
    ('name: "b" type: "Bias" bias_param { axis: 0 }', [(2, 3), (3,)], r"bias shape \(3,\) does not match"),
])
def test_scale_and_bias_shape_errors_name_both_shapes(text, shapes, message):
    with pytest.raises(CaffeError, match=message):
        make_layer(text, shapes)


def test_mvn_adds_eps_to_the_standard_deviation():
    layer = make_layer('name: "m" type: "MVN" mvn_param { eps: 1 }', [(1, 1, 2)])
    y = layer(torch.tensor([[[1.0, 3.0]]], dtype=torch.float64))[0]  # mean 2, std 1: (x - 2) / (1 + 1)
    assert y.flatten().tolist() == [-0.5, 0.5]


def test_mvn_mean_only_across_channels():
    layer = make_layer('name: "m" type: "MVN" mvn_param { across_channels: true normalize_variance: false }',
                       [(2, 2, 1)])
    x = torch.tensor([[[1.0], [3.0]], [[0.0], [4.0]]], dtype=torch.float64)
    assert layer(x)[0].flatten().tolist() == [-1.0, 1.0, -2.0, 2.0]


@pytest.mark.parametrize("extra", ["", "across_channels: true", "normalize_variance: false"])
def test_gradcheck_mvn(extra):
    torch.manual_seed(0)
    layer = make_layer(f'name: "m" type: "MVN" mvn_param {{ {extra} }}', [(2, 3, 2, 2)])
    assert gradcheck_layer(layer, [torch.randn(2, 3, 2, 2)])


def test_mvn_backward_is_caffes_formula_with_large_eps():
    # Caffe: dx = (g - mean(g) - y * mean(g * y)) / (std + eps)
    layer = make_layer('name: "m" type: "MVN" mvn_param { eps: 0.5 }', [(1, 1, 3)])
    x = torch.tensor([[[1.0, 2.0, 4.0]]], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([[[1.0, -2.0, 0.5]]], dtype=torch.float64)
    y = layer(x)[0]
    y.backward(g)
    c = x.detach() - x.detach().mean()
    denom = c.pow(2).mean().sqrt() + 0.5
    yd = y.detach()
    ref = (g - g.mean() - yd * (g * yd).mean()) / denom
    torch.testing.assert_close(x.grad, ref)


@pytest.mark.parametrize("phase", [caffe_pb2.TRAIN, caffe_pb2.TEST])
@pytest.mark.parametrize("channels_last", [False, True])
def test_batchnorm_fused_kernel_equals_caffes_arithmetic(phase, channels_last):
    torch.manual_seed(0)
    x = torch.randn(4, 3, 5, 6, dtype=torch.float64) * 3 + 1
    fused, by_hand = (bn("moving_average_fraction: 0.9", shape=(4, 3, 5, 6), phase=phase) for _ in range(2))
    for layer in (fused, by_hand):
        with torch.no_grad():
            for b, v in zip(layer.blobs, ([0.5, -1.0, 2.0], [1.5, 0.5, 3.0], [0.8])):
                b.copy_(torch.tensor(v))
    xf = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    xf, xh = xf.clone().requires_grad_(True), x.clone().requires_grad_(True)
    g = torch.randn_like(x)
    for _ in range(2):  # twice: the statistics accumulate
        yf, yh = fused(xf)[0], by_hand._by_hand(xh)
        torch.testing.assert_close(yf, yh, rtol=1e-12, atol=1e-12)
        (yf * g).sum().backward()
        (yh * g).sum().backward()
    torch.testing.assert_close(xf.grad, xh.grad, rtol=1e-10, atol=1e-12)
    for a, b in zip(fused.blobs, by_hand.blobs):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_batchnorm_takes_bfloat16_inputs_with_float32_statistics():
    torch.manual_seed(0)
    x = torch.randn(8, 4, 6, 6) * 2 + 3
    a = bn("", shape=(8, 4, 6, 6), phase=caffe_pb2.TRAIN).float()
    b = bn("", shape=(8, 4, 6, 6), phase=caffe_pb2.TRAIN).float()
    y32, y16 = a(x)[0], b(x.bfloat16())[0]
    assert y16.dtype == torch.bfloat16 and b.blobs[0].dtype == torch.float32
    torch.testing.assert_close(y16.float(), y32, rtol=0.02, atol=0.02)
    torch.testing.assert_close(b.blobs[0], a.blobs[0], rtol=0.01, atol=0.01)


FOLD_NET = """
layer {{ name: "x" type: "Input" top: "x" input_param {{ shape {{ dim: 4 dim: 3 dim: 5 dim: 5 }} }} }}
layer {{ name: "conv" type: "Convolution" bottom: "x" top: "c"
  convolution_param {{ num_output: 3 kernel_size: 3 pad: 1 weight_filler {{ type: "gaussian" std: 0.5 }} }} }}
layer {{ name: "bn" type: "BatchNorm" bottom: "c" top: "{bn_top}" batch_norm_param {{ moving_average_fraction: 0.9 }} }}
layer {{ name: "sc" type: "Scale" bottom: "{bn_top}" top: "{bn_top}"
  scale_param {{ bias_term: true filler {{ type: "uniform" min: 0.5 max: 2 }} bias_filler {{ type: "uniform" }} }} }}
layer {{ name: "ip" type: "InnerProduct" bottom: "{bn_top}" top: "y" inner_product_param {{ num_output: 2
  weight_filler {{ type: "gaussian" std: 0.5 }} }} }}
"""


@pytest.mark.parametrize("phase", [caffe_pb2.TRAIN, caffe_pb2.TEST])
def test_batchnorm_scale_pair_in_place_runs_folded_with_the_same_results(phase, monkeypatch):
    from fer_caffe_compat.net import Net
    from fer_caffe_compat.proto import parse_prototxt

    def build(fold: bool) -> Net:
        torch.manual_seed(3)
        if not fold:
            monkeypatch.setattr(Net, "_fold_batchnorm_scale", lambda self: None)
        net = Net(parse_prototxt(FOLD_NET.format(bn_top="c"), caffe_pb2.NetParameter()), phase=phase).double()
        monkeypatch.undo()
        with torch.no_grad():  # statistics as after some training, for the TEST phase
            for b, v in zip(net.layer_by_name("bn").blobs, ([0.1, -0.2, 0.3], [2.0, 1.0, 0.5], [1.5])):
                b.copy_(torch.tensor(v))
        return net
    folded, plain = build(True), build(False)
    assert folded.layer_by_name("sc").folded and not plain.layer_by_name("sc").folded
    x = torch.randn(4, 3, 5, 5, dtype=torch.float64)
    for _ in range(2):
        ya, yb = folded.forward({"x": x})["y"], plain.forward({"x": x})["y"]
        torch.testing.assert_close(ya, yb, rtol=1e-12, atol=1e-12)
        ya.square().sum().backward()
        yb.square().sum().backward()
    for (name, a), (_, b) in zip(folded.named_parameters(), plain.named_parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12, msg=name)
        if a.grad is not None or b.grad is not None:
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-10, atol=1e-12, msg=name)


def test_batchnorm_scale_pair_on_separate_blobs_is_not_folded():
    from fer_caffe_compat.net import Net
    from fer_caffe_compat.proto import parse_prototxt
    text = FOLD_NET.format(bn_top="c").replace('bottom: "c" top: "c" batch_norm_param',
                                               'bottom: "c" top: "n" batch_norm_param')
    text = text.replace('bottom: "c" top: "c"\n  scale_param', 'bottom: "n" top: "c2"\n  scale_param')
    text = text.replace('"ip" type: "InnerProduct" bottom: "c"', '"ip" type: "InnerProduct" bottom: "c2"')
    net = Net(parse_prototxt(text, caffe_pb2.NetParameter()), phase=caffe_pb2.TRAIN)
    assert not net.layer_by_name("sc").folded  # "n" stays the normalised blob, as Caffe computes it
