"""The layer registry: every family's Caffe type names, the Python layer, unknown types."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.layers import get_layer_class, known_types

STRUCTURE_AND_LOSS_TYPES = [
    "ReLU", "PReLU", "ELU", "Sigmoid", "TanH", "AbsVal", "Power", "Exp", "Log", "BNLL", "Threshold", "Clip",
    "Swish", "Dropout", "Concat", "Slice", "Split", "Flatten", "Reshape", "Tile", "Silence", "BatchReindex",
    "Filter", "Parameter", "Eltwise", "Softmax", "ArgMax", "Reduction", "SoftmaxWithLoss", "EuclideanLoss",
    "HingeLoss", "InfogainLoss", "MultinomialLogisticLoss", "SigmoidCrossEntropyLoss", "ContrastiveLoss",
    "Accuracy",
]


@pytest.mark.parametrize("type_name", STRUCTURE_AND_LOSS_TYPES)
def test_type_is_registered_under_its_caffe_name(type_name):
    assert type_name in known_types()
    assert get_layer_class(type_name).__name__ == type_name


def test_python_layer_is_registered():
    assert "Python" in known_types()
    assert get_layer_class("Python", "py_loss").__name__ == "PythonLayer"


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(CaffeError) as e:
        get_layer_class("Convolutoin", "conv1")
    msg = str(e.value)
    assert "unknown layer type 'Convolutoin'" in msg and "SoftmaxWithLoss" in msg and "\n" not in msg


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_structure_neuron_and_loss_layers_match_caffe_on_cuda():
    from fer_caffe_compat.proto import caffe_pb2
    from tests.layers.zoo import _net, assert_close_to_caffe, load_blobs, zoo_case

    for lp in _net().layer:
        if lp.type not in STRUCTURE_AND_LOSS_TYPES:
            continue
        case = zoo_case(lp.name)
        layer = get_layer_class(lp.type, lp.name)(case.param, case.bottom_shapes, caffe_pb2.TEST)
        load_blobs(layer, case.blobs)
        layer = layer.cuda()
        tops = layer(*[b.cuda() for b in case.bottoms])
        for top_name, ours, caffe in zip(lp.top, tops, case.tops):
            assert ours.device.type == "cuda", f"{lp.name}/{top_name} left the GPU"
            assert_close_to_caffe(f"{lp.name}/{top_name} (cuda)", ours, caffe)
