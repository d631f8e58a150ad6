"""Caffe's semantics survive in the exported graphs: every blob of the two fixture nets (the behaviours
the issue lists, and every other layer type an exported graph holds) is compared, ONNX and .pt2, at a
fixed batch and with a dynamic one."""
from __future__ import annotations

import onnx
import pytest
import torch

from fer_caffe_compat.export import DeployModule

from ..conftest import FIXTURES
from .helpers import check_exports, random_net

SEMANTICS = FIXTURES / "export" / "caffe_semantics.prototxt"
ZOO = FIXTURES / "export" / "layer_zoo.prototxt"


def _every_blob(net) -> DeployModule:
    return DeployModule(net, [b for b in net.blob_shapes if b not in net.input_names and "_split_" not in b])


@pytest.fixture(scope="module")
def semantics_files(tmp_path_factory):
    """The semantics net exported at batch 2 and checked; the folder of net.onnx and net.pt2."""
    folder = tmp_path_factory.mktemp("semantics")
    check_exports(_every_blob(random_net(SEMANTICS, batch=2)), folder)
    return folder


def test_caffe_semantics_net_every_blob_matches(semantics_files):
    assert (semantics_files / "net.onnx").exists() and (semantics_files / "net.pt2").exists()


def test_caffe_semantics_net_with_a_dynamic_batch(tmp_path):
    module = _every_blob(random_net(SEMANTICS, batch=2))
    batches = [module.example_inputs(seed=s, batch=b) for s, b in ((1, 1), (2, 3))]
    check_exports(module, tmp_path, dynamic_batch=True, batches=batches)


def test_ceil_pooling_is_exported_without_ceil_mode(semantics_files):
    """ONNX's own ceil_mode does not drop a window that starts in the padding (onnx's shape inference
    gives avedrop3 3x3, Caffe 2x2) and runtimes differ on its AVE divisor: the graph uses floor windows."""
    model = onnx.load(semantics_files / "net.onnx")
    pools = [n for n in model.graph.node if n.op_type in ("MaxPool", "AveragePool")]
    assert pools
    for n in pools:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        assert not attrs.get("ceil_mode", 0), n.name
    shapes = {o.name: [d.dim_value for d in o.type.tensor_type.shape.dim] for o in model.graph.output}
    assert shapes["avedrop3"] == [2, 4, 2, 2] and shapes["maxceil"] == [2, 4, 6, 6]


def _zoo_inputs(module: DeployModule, seed: int) -> tuple[torch.Tensor, ...]:
    """Random inputs, with the label and continuation inputs in their domains (0/1)."""
    g = torch.Generator().manual_seed(seed)
    xs = list(module.example_inputs(seed=seed))
    for i, name in enumerate(module.inputs):
        if name in ("label", "cont", "cont1"):
            xs[i] = torch.randint(0, 2, xs[i].shape, generator=g).float()
    return tuple(xs)


def test_layer_zoo_net_every_blob_matches(tmp_path):
    net = random_net(ZOO, batch=None)
    with torch.no_grad():  # Parameter has no filler: zeros until weights are loaded
        net.layer_by_name("parameter").blobs[0].normal_()
    module = _every_blob(net)
    x = _zoo_inputs(module, 0)
    x[module.inputs.index("label")][:] = torch.tensor([1.0, 0.0])  # Filter keeps one item
    check_exports(module, tmp_path, inputs=x, batches=[x, _zoo_inputs(module, 5)])
