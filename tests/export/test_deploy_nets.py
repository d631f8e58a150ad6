"""Every deploy net in the repository exports to ONNX and to a .pt2 program, and both agree with the
PyTorch net within 1e-5 (relative) on random inputs, with random filler weights, at batch 1.

The nets at ImageNet size or depth (nets/reference/, an input of 200x200 or more, over 60 layers) are in
the e2e set (make test-e2e): 10 to 40 seconds each on two cores.
"""
from __future__ import annotations

import pytest

from fer_caffe_compat.export import DeployModule
from fer_caffe_compat.net import load_net_param

from ..conftest import ROOT
from .helpers import check_exports, random_net, softmax_inputs

NETS = sorted(p.relative_to(ROOT) for p in (ROOT / "nets").rglob("*.prototxt") if "deploy" in p.name)


def _big(path) -> bool:
    """ImageNet-size or deep: a reference net, an input of 200x200 or more, or over 60 layers."""
    if path.parts[1] == "reference":
        return True
    layers = load_net_param(ROOT / path).layer
    shapes = [s.dim for lp in layers if lp.type == "Input" for s in lp.input_param.shape]
    return len(layers) > 60 or any(len(d) == 4 and d[2] * d[3] >= 200 * 200 for d in shapes)


PARAMS = [pytest.param(p, id=str(p), marks=[pytest.mark.e2e] if _big(p) else []) for p in NETS]


def test_the_repository_has_deploy_nets():
    names = {str(p) for p in NETS}
    assert {"nets/lenet_deploy.prototxt", "nets/alexnet_deploy.prototxt",
            "nets/reference/resnet50_deploy.prototxt", "nets/reference/vgg16_deploy.prototxt"} <= names


@pytest.mark.parametrize("path", PARAMS)
def test_deploy_net_exports_to_onnx_and_pt2_within_1e5(path, tmp_path):
    net = random_net(ROOT / path)
    module = DeployModule(net, [*net.output_names, *softmax_inputs(net)])
    worst = check_exports(module, tmp_path)
    print(f"export {path}: max relative error onnx {worst['onnx']:.1e}, pt2 {worst['pt2']:.1e}")  # -rP shows it
