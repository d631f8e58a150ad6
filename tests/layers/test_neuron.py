"""Neuron layers against Caffe's zoo blobs, gradchecks and hand-computed values."""
from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.zoo import zoo_layer_names

NEURON_TYPES = ["ReLU", "PReLU", "ELU", "Sigmoid", "TanH", "AbsVal", "BNLL", "Power", "Exp", "Log",
                "Threshold", "Clip", "Swish", "Dropout"]
ZOO = [n for t in NEURON_TYPES for n in zoo_layer_names(t)]


def test_zoo_has_every_neuron_type():
    assert len(ZOO) == 19


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", ZOO)
def test_neuron_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_neuron_top_shape_is_bottom_shape(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe


def _away_from_kinks(shape, kinks=(0.0,), seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    for k in kinks:
        near = (x - k).abs() < 0.05
        x = torch.where(near, x + 0.1, x)
    return x


GRAD_CASES = {
    "relu_leaky": ('type: "ReLU" relu_param { negative_slope: 0.2 }', (0.0,)),
    "relu": ('type: "ReLU"', (0.0,)),
    "elu": ('type: "ELU" elu_param { alpha: 0.7 }', (0.0,)),
    "sigmoid": ('type: "Sigmoid"', ()),
    "tanh": ('type: "TanH"', ()),
    "absval": ('type: "AbsVal"', (0.0,)),
    "bnll": ('type: "BNLL"', ()),
    "power2": ('type: "Power" power_param { power: 2 scale: -0.5 shift: 0.1 }', ()),
    "exp": ('type: "Exp" exp_param { base: 2 scale: 0.5 shift: 0.1 }', ()),
    "clip": ('type: "Clip" clip_param { min: -0.5 max: 0.7 }', (-0.5, 0.7)),
    "swish": ('type: "Swish" swish_param { beta: 1.5 }', ()),
}


@pytest.mark.parametrize("case", sorted(GRAD_CASES))
def test_neuron_gradcheck(case):
    text, kinks = GRAD_CASES[case]
    layer = make_layer(f'name: "{case}" {text}', [(2, 3, 2, 2)])
    x = _away_from_kinks((2, 3, 2, 2), kinks).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: layer(t)[0], (x,))


@pytest.mark.parametrize("text", ['type: "Power" power_param { power: 1.5 scale: 0.8 shift: 0.3 }',
                                  'type: "Log" log_param { base: 10 scale: 2 shift: 0.5 }'])
def test_neuron_gradcheck_positive_domain(text):
    layer = make_layer(f'name: "p" {text}', [(2, 3)])
    x = (torch.rand(2, 3, dtype=torch.float64) + 0.2).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: layer(t)[0], (x,))


@pytest.mark.parametrize("shared", [False, True])
def test_prelu_gradcheck_input_and_slopes(shared):
    layer = make_layer(f'name: "p" type: "PReLU" prelu_param {{ channel_shared: {str(shared).lower()} }}',
                       [(2, 3, 2, 2)])
    x = _away_from_kinks((2, 3, 2, 2)).requires_grad_()
    a = (torch.rand(layer.blobs[0].shape, dtype=torch.float64) + 0.1).requires_grad_()
    f = lambda x, a: functional_call(layer, {"blobs.0": a}, (x,))[0]
    assert torch.autograd.gradcheck(f, (x, a))


def test_prelu_default_filler_is_constant_quarter_and_shared_blob_is_0d():
    per_channel = make_layer('name: "p" type: "PReLU"', [(2, 5, 3)])
    assert tuple(per_channel.blobs[0].shape) == (5,)
    assert torch.all(per_channel.blobs[0] == 0.25)
    shared = make_layer('name: "p" type: "PReLU" prelu_param { channel_shared: true }', [(2, 5, 3)])
    assert tuple(shared.blobs[0].shape) == ()
    x = torch.tensor([[[-4.0, 2.0, -1.0]] * 5] * 2, dtype=torch.float64)
    assert shared(x)[0][0, 0].tolist() == [-1.0, 2.0, -0.25]


def test_relu_gradient_at_zero_is_negative_slope_as_caffe():
    layer = make_layer('name: "r" type: "ReLU" relu_param { negative_slope: 0.3 }', [(3,)])
    x = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64, requires_grad=True)
    y = layer(x)[0]
    assert y.tolist() == pytest.approx([-0.3, 0.0, 2.0])
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.tolist() == pytest.approx([0.3, 0.3, 1.0])


def test_elu_gradient_at_zero_is_alpha_and_no_nan_for_large_inputs():
    layer = make_layer('name: "e" type: "ELU" elu_param { alpha: 0.7 }', [(3,)])
    x = torch.tensor([0.0, 1000.0, -2.0], dtype=torch.float64, requires_grad=True)
    y = layer(x)[0]
    assert y[2].item() == pytest.approx(0.7 * (math.exp(-2) - 1))
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.tolist() == pytest.approx([0.7, 1.0, 0.7 * math.exp(-2)])


def test_clip_passes_the_gradient_at_its_bounds_as_caffe():
    layer = make_layer('name: "c" type: "Clip" clip_param { min: -0.5 max: 0.75 }', [(4,)])
    x = torch.tensor([-1.0, -0.5, 0.75, 2.0], dtype=torch.float64, requires_grad=True)
    y = layer(x)[0]
    assert y.tolist() == [-0.5, -0.5, 0.75, 0.75]
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.tolist() == [0.0, 1.0, 1.0, 0.0]


def test_threshold_is_strictly_greater_and_has_no_gradient():
    layer = make_layer('name: "t" type: "Threshold" threshold_param { threshold: 0.2 }', [(4,)])
    x = torch.tensor([0.1, 0.2, 0.2001, 5.0], dtype=torch.float64, requires_grad=True)
    y = layer(x)[0]
    assert y.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert not y.requires_grad


def test_power_constant_cases_and_defaults():
    const = make_layer('name: "p" type: "Power" power_param { power: 3 scale: 0 shift: 2 }', [(2,)])
    assert const(torch.tensor([5.0, -1.0], dtype=torch.float64))[0].tolist() == [8.0, 8.0]
    zero_power = make_layer('name: "p" type: "Power" power_param { power: 0 }', [(2,)])
    assert zero_power(torch.tensor([5.0, -1.0], dtype=torch.float64))[0].tolist() == [1.0, 1.0]
    ident = make_layer('name: "p" type: "Power"', [(2,)])
    assert ident(torch.tensor([5.0, -1.0], dtype=torch.float64))[0].tolist() == [5.0, -1.0]


def test_exp_and_log_bases():
    exp2 = make_layer('name: "e" type: "Exp" exp_param { base: 2 scale: 3 shift: 1 }', [(1,)])
    assert exp2(torch.tensor([1.0], dtype=torch.float64))[0].item() == pytest.approx(2 ** 4)
    exp_e = make_layer('name: "e" type: "Exp"', [(1,)])
    assert exp_e(torch.tensor([1.0], dtype=torch.float64))[0].item() == pytest.approx(math.e)
    log10 = make_layer('name: "l" type: "Log" log_param { base: 10 scale: 2 shift: 0.5 }', [(1,)])
    assert log10(torch.tensor([49.75], dtype=torch.float64))[0].item() == pytest.approx(2.0)
    log_e = make_layer('name: "l" type: "Log"', [(1,)])
    assert log_e(torch.tensor([math.e ** 3], dtype=torch.float64))[0].item() == pytest.approx(3.0)


def test_bnll_is_softplus_without_overflow():
    layer = make_layer('name: "b" type: "BNLL"', [(3,)])
    y = layer(torch.tensor([-100.0, 0.0, 100.0], dtype=torch.float32))[0]
    assert y.tolist() == pytest.approx([math.log1p(math.exp(-100)), math.log(2), 100.0], rel=1e-6)


def test_dropout_train_keeps_one_minus_ratio_scaled_and_test_is_identity():
    shape = (40, 50, 10)
    x = torch.ones(shape, dtype=torch.float64)
    torch.manual_seed(3)
    train = make_layer('name: "d" type: "Dropout" dropout_param { dropout_ratio: 0.3 }', [shape],
                       phase=caffe_pb2.TRAIN)
    y = train(x)[0]
    kept = y != 0
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / 0.7))
    frac = kept.double().mean().item()
    assert abs(frac - 0.7) < 0.01, frac  # 20000 draws: sigma 0.0032
    test = make_layer('name: "d" type: "Dropout" dropout_param { dropout_ratio: 0.3 }', [shape])
    assert torch.equal(test(x)[0], x)


def test_dropout_train_gradient_is_mask_times_scale():
    layer = make_layer('name: "d" type: "Dropout" dropout_param { dropout_ratio: 0.5 }', [(4, 6)],
                       phase=caffe_pb2.TRAIN)
    x = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)

    def f(t):
        torch.manual_seed(11)  # the same mask on every evaluation
        return layer(t)[0]

    assert torch.autograd.gradcheck(f, (x,))
    (g,) = torch.autograd.grad(f(x).sum(), x)
    assert set(g.unique().tolist()) <= {0.0, 2.0}


@pytest.mark.parametrize("text, shapes, message", [
    ('type: "Exp" exp_param { base: -2 }', [(3,)], "base must be strictly positive"),
    ('type: "Log" log_param { base: 0 }', [(3,)], "base must be strictly positive"),
    ('type: "Log" log_param { base: 1 }', [(3,)], "base 1"),
    ('type: "Clip" clip_param { min: 1 max: 0 }', [(3,)], "exceeds max"),
    ('type: "Clip"', [(3,)], "clip_param"),
    ('type: "Dropout" dropout_param { dropout_ratio: 1 }', [(3,)], "dropout_ratio"),
    ('type: "PReLU"', [(3,)], "at least 2 axes"),
    ('type: "ReLU"', [(3,), (3,)], "takes 1 bottom, got 2"),
])
def test_neuron_invalid_parameters_are_one_line_errors(text, shapes, message):
    with pytest.raises(CaffeError) as e:
        make_layer(f'name: "bad" {text}', shapes)
    msg = str(e.value)
    assert message in msg and "bad" in msg and "\n" not in msg
