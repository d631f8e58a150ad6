"""layers/conv_nhwc.py: which convolutions take oneDNN's channels-last kernel, and that they compute the same
convolution (top and gradients against float64, in Caffe's NCHW layout)."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.layers import conv_nhwc
from tests.layers.layer_case import make_layer


@pytest.mark.parametrize("cin, group, block, want", [
    (20, 1, 16, True),     # LeNet-FER conv2: 20 channels held as 32
    (20, 1, 8, True),      # AVX2: as 24, a fifth more
    (24, 1, 16, True),     # GoogLeNet's inception_4b/5x5
    (40, 1, 16, True),     # as 48: a fifth
    (36, 1, 8, False),     # as 40: a ninth
    (32, 1, 16, False),    # whole blocks
    (512, 1, 16, False),   # 512 -> 24: only the output channels are padded
    (1, 1, 16, False),     # a first layer: oneDNN reads the plain input
    (3, 1, 16, False),
    (20, 2, 16, False),    # grouped
    (20, 1, 0, False),     # a CPU without the rule
])
def test_the_rule_takes_nhwc_where_the_blocks_pad_the_input(cin, group, block, want):
    assert conv_nhwc.wants_nhwc(cin, group, block) is want


def test_padded_channels_are_whole_blocks():
    assert [conv_nhwc.padded_channels(c, 16) for c in (1, 16, 20, 33)] == [16, 16, 32, 48]


def test_a_layer_takes_the_rule_from_its_own_shapes():
    lenet2 = make_layer('name: "c" type: "Convolution" convolution_param { num_output: 50 kernel_size: 5 }',
                        [(2, 20, 22, 22)], dtype=torch.float32)
    assert lenet2.nhwc_kernel is conv_nhwc.wants_nhwc(20, 1)
    deconv = make_layer('name: "d" type: "Deconvolution" convolution_param { num_output: 50 kernel_size: 5 }',
                        [(2, 20, 22, 22)], dtype=torch.float32)
    assert deconv.nhwc_kernel is False


@pytest.mark.parametrize("extra, shape", [
    ("num_output: 50 kernel_size: 5", (4, 20, 22, 22)),                                 # LeNet-FER conv2
    ("num_output: 10 kernel_size: 3 stride: 2 pad: 1 dilation: 2 bias_term: false", (2, 12, 9, 9)),
    ("num_output: 7 kernel_h: 3 kernel_w: 2 pad_h: 1 pad_w: 0 stride_h: 1 stride_w: 2", (3, 9, 8, 11)),
])
def test_the_nhwc_kernel_computes_the_same_convolution(extra, shape):
    text = f'name: "c" type: "Convolution" convolution_param {{ {extra} weight_filler {{ type: "xavier" }} ' \
           f'bias_filler {{ type: "uniform" }} }}'
    torch.manual_seed(0)
    ref = make_layer(text, [shape], dtype=torch.float64)
    x64 = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    y64 = ref(x64)[0]
    gy = torch.randn_like(y64)
    y64.backward(gy)
    for nhwc in (False, True):
        layer = make_layer(text, [shape], dtype=torch.float32)
        layer.load_state_dict({k: v.float() for k, v in ref.state_dict().items()})
        layer.nhwc_kernel = nhwc
        x = x64.detach().float().requires_grad_()
        assert conv_nhwc.applies(x)
        y = layer(x)[0]
        y.backward(gy.float())
        assert y.is_contiguous() and x.grad.is_contiguous() and layer.blobs[0].grad.is_contiguous()
        for ours, want in [(y, y64), (x.grad, x64.grad)] + list(zip((b.grad for b in layer.blobs),
                                                                   (b.grad for b in ref.blobs))):
            err = (ours.double() - want).abs().max() / want.abs().max()
            assert err < 2e-6, f"nhwc_kernel={nhwc}: {err:.3g} relative to float64"


@pytest.mark.parametrize("make, why", [
    (lambda: torch.zeros(2, 20, 5, 5, dtype=torch.float64), "float64 keeps PyTorch's own kernel"),
    (lambda: torch.zeros(2, 20, 5, 5).contiguous(memory_format=torch.channels_last), "already channels-last"),
    (lambda: torch.zeros(20, 5, 5), "not a batch of images"),
])
def test_applies_only_to_what_the_nchw_kernel_would_take(make, why):
    assert not conv_nhwc.applies(make()), why


def test_autocast_and_disabled_onednn_keep_the_plain_op(monkeypatch):
    x = torch.zeros(2, 20, 5, 5)
    assert conv_nhwc.applies(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert not conv_nhwc.applies(x)
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    assert not conv_nhwc.applies(x)
