"""The published architectures in nets/reference/ build and print the Top shapes Caffe prints for them.

Built on torch's meta device: shapes and parameters without memory or fillers, so VGG-16's 138 M
weights cost nothing. Expected shapes are written out literally (from the papers / Caffe's logs).
"""
from __future__ import annotations

import re

import pytest

from fer_caffe_compat import log
from fer_caffe_compat.net import Net
from tests.conftest import ROOT

NETS = ROOT / "nets" / "reference"

EXPECTED = {
    "lenet": {"conv1": "64 20 24 24", "pool1": "64 20 12 12", "conv2": "64 50 8 8", "pool2": "64 50 4 4",
              "ip1": "64 500", "ip2": "64 10", "prob": "64 10"},
    "alexnet": {"conv1": "10 96 55 55", "norm1": "10 96 55 55", "pool1": "10 96 27 27", "conv2": "10 256 27 27",
                "pool2": "10 256 13 13", "conv3": "10 384 13 13", "conv5": "10 256 13 13",
                "pool5": "10 256 6 6", "fc6": "10 4096", "fc8": "10 1000", "prob": "10 1000"},
    "caffenet": {"conv1": "10 96 55 55", "pool1": "10 96 27 27", "norm1": "10 96 27 27", "conv2": "10 256 27 27",
                 "pool2": "10 256 13 13", "norm2": "10 256 13 13", "pool5": "10 256 6 6", "fc7": "10 4096",
                 "prob": "10 1000"},
    "vgg16": {"conv1_2": "10 64 224 224", "pool1": "10 64 112 112", "pool2": "10 128 56 56",
              "pool3": "10 256 28 28", "pool4": "10 512 14 14", "pool5": "10 512 7 7", "fc6": "10 4096",
              "prob": "10 1000"},
    "googlenet": {"conv1/7x7_s2": "10 64 112 112", "pool1/3x3_s2": "10 64 56 56", "conv2/3x3": "10 192 56 56",
                  "pool2/3x3_s2": "10 192 28 28", "inception_3a/output": "10 256 28 28",
                  "inception_3b/output": "10 480 28 28", "pool3/3x3_s2": "10 480 14 14",
                  "inception_4a/output": "10 512 14 14", "inception_4d/output": "10 528 14 14",
                  "inception_4e/output": "10 832 14 14", "pool4/3x3_s2": "10 832 7 7",
                  "inception_5b/output": "10 1024 7 7", "pool5/7x7_s1": "10 1024 1 1", "prob": "10 1000"},
    "resnet50": {"conv1": "1 64 112 112", "pool1": "1 64 56 56", "res2a": "1 256 56 56", "res2c": "1 256 56 56",
                 "res3a_branch2a": "1 128 28 28", "res3d": "1 512 28 28", "res4f": "1 1024 14 14",
                 "res5a_branch1": "1 2048 7 7", "res5c": "1 2048 7 7", "pool5": "1 2048 1 1", "fc1000": "1 1000",
                 "prob": "1 1000"},
}
# Learnable values per net (Caffe counts BatchNorm's mean, variance and factor blobs).
PARAMS = {"lenet": 431_080, "alexnet": 60_965_224, "caffenet": 60_965_224, "vgg16": 138_357_544,
          "googlenet": 6_998_552, "resnet50": 25_610_205}


def _printed_top_shapes(prototxt) -> tuple[Net, dict[str, list[str]]]:
    """Build the net and collect, per layer, the 'Top shape:' lines its set-up printed."""
    shapes: dict[str, list[str]] = {}
    current = [""]
    old = log._emit

    def grab(sev, src, msg):
        if msg.startswith("Setting up "):
            current[0] = msg[len("Setting up "):]
        m = re.fullmatch(r"Top shape: (.*) \((\d+)\)", msg)
        if m:
            shapes.setdefault(current[0], []).append(m.group(1).strip())
    log._emit = grab
    try:
        net = Net.from_file(prototxt, device="meta")
    finally:
        log._emit = old
    return net, shapes


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reference_net_prints_caffes_top_shapes(name):
    net, printed = _printed_top_shapes(NETS / f"{name}_deploy.prototxt")
    for layer, shape in EXPECTED[name].items():
        assert printed[layer][0] == shape, f"{name} {layer}: printed {printed[layer][0]}, Caffe prints {shape}"
    assert net.output_names == ["prob"]
    assert sum(p.param.numel() for p in net.learnable_params) == PARAMS[name]


def test_inplace_layers_print_the_shape_again():
    _, printed = _printed_top_shapes(NETS / "resnet50_deploy.prototxt")
    assert printed["bn_conv1"] == printed["scale_conv1"] == printed["conv1_relu"] == ["1 64 112 112"]


def test_lenet_deploy_runs_a_forward_pass():
    import numpy as np

    net = Net.from_file(NETS / "lenet_deploy.prototxt")
    x = np.random.default_rng(1).random((64, 1, 28, 28), dtype=np.float32)
    prob = net.forward({"data": x})["prob"]
    assert tuple(prob.shape) == (64, 10)
    assert prob.sum(1).detach().numpy() == pytest.approx(np.ones(64), abs=1e-5)
