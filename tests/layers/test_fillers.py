"""Caffe's fillers: exact formulas (bilinear, constant) and the statistics of the random ones."""
from __future__ import annotations

import math

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.layers.fillers import fill
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt
from tests.layers.layer_case import make_layer


def filler(text: str) -> caffe_pb2.FillerParameter:
    return parse_prototxt(text, caffe_pb2.FillerParameter())


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1701)


def test_constant_filler_sets_every_value():
    t = fill(torch.empty(3, 4), filler('type: "constant" value: 2.5'))
    assert torch.equal(t, torch.full((3, 4), 2.5))


def test_default_filler_is_constant_zero():
    assert torch.equal(fill(torch.ones(5), caffe_pb2.FillerParameter()), torch.zeros(5))


def test_uniform_filler_range_and_mean():
    t = fill(torch.empty(200, 500), filler('type: "uniform" min: -0.5 max: 1.5'))
    assert t.min() >= -0.5 and t.max() <= 1.5
    assert abs(t.mean().item() - 0.5) < 0.01
    assert abs(t.var().item() - 4 / 12) < 0.01


def test_gaussian_filler_mean_and_std():
    t = fill(torch.empty(200, 500), filler('type: "gaussian" mean: 0.3 std: 0.2'))
    assert abs(t.mean().item() - 0.3) < 0.003
    assert abs(t.std().item() - 0.2) < 0.003


def test_gaussian_sparse_keeps_sparse_over_num_outputs_of_weights():
    # Caffe: Bernoulli mask with p = sparse / shape[0]
    t = fill(torch.empty(10, 20000), filler('type: "gaussian" std: 1 sparse: 3'))
    assert abs((t != 0).double().mean().item() - 0.3) < 0.01
    kept = t[t != 0]
    assert abs(kept.std().item() - 1.0) < 0.02


def test_positive_unitball_rows_sum_to_one():
    t = fill(torch.empty(6, 3, 2, 2), filler('type: "positive_unitball"'))
    assert (t >= 0).all() and (t <= 1).all()
    torch.testing.assert_close(t.reshape(6, -1).sum(1), torch.ones(6))


@pytest.mark.parametrize("norm, n", [("FAN_IN", 16 * 9), ("FAN_OUT", 64 * 9), ("AVERAGE", (144 + 576) / 2)])
def test_xavier_is_caffes_uniform_sqrt_3_over_n(norm, n):
    # Caffe's xavier: U(-sqrt(3/n), sqrt(3/n)), fan_in = count/shape[0], fan_out = count/shape[1]; not Glorot's
    t = fill(torch.empty(64, 16, 3, 3), filler(f'type: "xavier" variance_norm: {norm}'))
    bound = math.sqrt(3.0 / n)
    assert t.abs().max() <= bound and t.abs().max() > 0.99 * bound
    assert abs(t.var().item() * n - 1.0) < 0.05


@pytest.mark.parametrize("norm, n", [("FAN_IN", 16 * 9), ("FAN_OUT", 64 * 9), ("AVERAGE", (144 + 576) / 2)])
def test_msra_is_gaussian_with_std_sqrt_2_over_n(norm, n):
    t = fill(torch.empty(64, 16, 3, 3), filler(f'type: "msra" variance_norm: {norm}'))
    assert abs(t.std().item() / math.sqrt(2.0 / n) - 1.0) < 0.03
    assert abs(t.mean().item()) < 0.01


def test_xavier_on_a_vector_uses_legacy_channels_one():
    # a 1-D blob has num() = shape[0] and channels() = 1: fan_in = 1, fan_out = count
    t = fill(torch.empty(1000), filler('type: "xavier" variance_norm: FAN_OUT'))
    assert t.abs().max() <= math.sqrt(3.0 / 1000)


def test_bilinear_filler_values_even_kernel():
    # K = 4: f = 2, c = (2f - 1 - f%2) / 2f = 0.75; 1 - |x/f - c| = 0.25, 0.75, 0.75, 0.25
    t = fill(torch.empty(2, 1, 4, 4), filler('type: "bilinear"'))
    w = torch.tensor([0.25, 0.75, 0.75, 0.25])
    for i in range(2):
        torch.testing.assert_close(t[i, 0], torch.outer(w, w))


def test_bilinear_filler_values_odd_kernel_as_caffe_1_0():
    # K = 3: f = 2, c = (4 - 1 - 0) / 4 = 0.75 (Caffe 1.0's formula): x/f - c = -0.75, -0.25, 0.25
    t = fill(torch.empty(1, 1, 3, 3), filler('type: "bilinear"'))
    w = torch.tensor([0.25, 0.75, 0.75])
    torch.testing.assert_close(t[0, 0], torch.outer(w, w))


def test_unknown_filler_type_is_a_caffe_error():
    with pytest.raises(CaffeError, match="unknown filler type 'glorot'"):
        fill(torch.empty(3), filler('type: "glorot"'))


def test_sparse_is_refused_outside_gaussian():
    with pytest.raises(CaffeError, match="sparse"):
        fill(torch.empty(3, 3), filler('type: "uniform" sparse: 2'))


def test_bilinear_needs_a_square_4d_blob():
    with pytest.raises(CaffeError, match="bilinear"):
        fill(torch.empty(3, 3), filler('type: "bilinear"'))


def test_filler_error_names_the_layer():
    text = ('name: "c1" type: "Convolution" convolution_param { num_output: 2 kernel_size: 1 '
            'weight_filler { type: "nope" } }')
    with pytest.raises(CaffeError, match=r"layer c1 \(Convolution\): unknown filler type 'nope'"):
        make_layer(text, [(1, 1, 3, 3)])
