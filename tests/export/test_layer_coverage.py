"""Every registered layer type either exports exactly (it is in a fixture net that test_caffe_semantics
compares blob by blob) or is refused with one line naming the layer and why; nothing is approximated."""
from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
from google.protobuf import text_format

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.export import DeployModule
from fer_caffe_compat.export.module import NOT_EXPORTABLE
from fer_caffe_compat.export.program import trace
from fer_caffe_compat.layers import get_layer_class, known_types
from fer_caffe_compat.net import Net, load_net_param
from fer_caffe_compat.proto import caffe_pb2

from ..conftest import FIXTURES
from .test_caffe_semantics import SEMANTICS, ZOO

INPUTS = """
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 5 } } }
layer { name: "label" type: "Input" top: "label" input_param { shape { dim: 2 } } }
layer { name: "seq" type: "Input" top: "seq" top: "cont"
        input_param { shape { dim: 3 dim: 2 dim: 4 } shape { dim: 3 dim: 2 } } }
layer { name: "gain" type: "Input" top: "gain" input_param { shape { dim: 5 dim: 5 } } }
"""
# Layers whose result depends on the values of their inputs (label checks, indices): the tracer cannot
# follow them, and the error names the layer.
DATA_DEPENDENT = {
    "Accuracy": 'bottom: "data" bottom: "label"',
    "SoftmaxWithLoss": 'bottom: "data" bottom: "label"',
    "HingeLoss": 'bottom: "data" bottom: "label"',
    "InfogainLoss": 'bottom: "data" bottom: "label" bottom: "gain"',
    "MultinomialLogisticLoss": 'bottom: "data" bottom: "label"',
    "Embed": 'bottom: "label" embed_param { num_output: 3 input_dim: 5 }',
    "BatchReindex": 'bottom: "data" bottom: "label"',
}
RECURRENT = {t: 'bottom: "seq" bottom: "cont" recurrent_param { num_output: 6 }' for t in ("RNN", "LSTM")}


def _types(path) -> set[str]:
    return {lp.type for lp in load_net_param(path).layer}


def test_every_registered_type_is_exported_or_refused():
    covered = _types(SEMANTICS) | _types(ZOO) | set(NOT_EXPORTABLE) | set(DATA_DEPENDENT) | {"Python"}  # refused
    ours = {t for t in known_types() if get_layer_class(t).__module__.startswith("fer_caffe_compat.")}
    missing = sorted(ours - covered)  # (other tests register layer types of their own)
    assert not missing, f"layer types with no export test: {missing} (add them to {ZOO.name} or refuse them)"


def _net(layer_type: str, body: str, tops: int = 1) -> Net:
    top = " ".join(f'top: "out{i}"' for i in range(tops))
    text = INPUTS + f'layer {{ name: "probe" type: "{layer_type}" {body} {top} }}'
    return Net(text_format.Parse(text, caffe_pb2.NetParameter()), phase=caffe_pb2.TEST)


def _assert_one_line(err: CaffeError, *fragments: str) -> None:
    msg = str(err)
    assert "\n" not in msg, msg
    for f in fragments:
        assert f in msg, (f, msg)


@pytest.mark.parametrize("layer_type", sorted(DATA_DEPENDENT))
def test_data_dependent_layer_is_named_in_one_line(layer_type):
    module = DeployModule(_net(layer_type, DATA_DEPENDENT[layer_type]), ["out0"])
    with pytest.raises(CaffeError) as e:
        trace(module)
    _assert_one_line(e.value, f"layer probe ({layer_type}): cannot be exported", "depends on the values")


@pytest.mark.parametrize("layer_type", sorted(RECURRENT))
def test_recurrent_layer_carrying_its_state_is_refused(layer_type):
    with pytest.raises(CaffeError) as e:
        DeployModule(_net(layer_type, RECURRENT[layer_type]))
    _assert_one_line(e.value, f"layer probe ({layer_type}): cannot be exported", "expose_hidden: true")


def _data_layer(layer_type: str, tmp_path) -> str:
    if layer_type == "Data":  # a copy: the layer's prefetch thread may hold the fixture open after the test
        src = shutil.copytree(FIXTURES / "imageset" / "gray_lmdb", tmp_path / "gray_lmdb")
        return f'data_param {{ source: "{src}" batch_size: 1 backend: LMDB }}'
    if layer_type == "ImageData":
        cv2.imwrite(str(tmp_path / "a.png"), np.zeros((4, 4), np.uint8))
        (tmp_path / "list.txt").write_text("a.png 0\n")
        return (f'image_data_param {{ source: "{tmp_path / "list.txt"}" root_folder: "{tmp_path}/" '
                'batch_size: 1 is_color: false }')
    if layer_type == "MemoryData":
        return "memory_data_param { batch_size: 1 channels: 1 height: 4 width: 4 }"
    return "dummy_data_param { shape { dim: 1 dim: 1 dim: 4 dim: 4 } }"


@pytest.mark.parametrize("layer_type", sorted(NOT_EXPORTABLE))
def test_data_layer_is_refused(layer_type, tmp_path):
    tops = 1 if layer_type == "DummyData" else 2
    text = (f'layer {{ name: "src" type: "{layer_type}" {_data_layer(layer_type, tmp_path)} '
            + " ".join(f'top: "t{i}"' for i in range(tops)) + " }\n"
            + 'layer { name: "ip" type: "InnerProduct" bottom: "t0" top: "ip" inner_product_param { num_output: 2 } }')
    net = Net(text_format.Parse(text, caffe_pb2.NetParameter()), phase=caffe_pb2.TEST)
    with pytest.raises(CaffeError) as e:
        DeployModule(net)
    _assert_one_line(e.value, f"layer src ({layer_type}): cannot be exported", "Input layer")


def test_an_op_without_onnx_translation_names_its_layer(monkeypatch, tmp_path):
    """Without our TopK translation of the stable sort, ArgMax could not be converted: the error says so
    and names the layer (found through the failing node of the traced program)."""
    import torch

    from fer_caffe_compat.export import onnx_file

    monkeypatch.setattr(onnx_file, "TRANSLATIONS", {k: v for k, v in onnx_file.TRANSLATIONS.items()
                                                    if k != torch.ops.aten.sort.stable})
    module = DeployModule(_net("ArgMax", 'bottom: "data" argmax_param { top_k: 2 }'), ["out0"])
    with pytest.raises(CaffeError) as e:
        onnx_file.export_onnx(trace(module), tmp_path / "a.onnx", module.inputs, module.outputs,
                              layer_of=module.layer_of)
    _assert_one_line(e.value, "layer probe (ArgMax): cannot be exported to ONNX", "aten.sort.stable")
    assert not (tmp_path / "a.onnx").exists()
