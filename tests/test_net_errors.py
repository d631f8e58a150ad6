"""A net that a user got wrong: one line naming the file, the layer or the blob, and what is wrong."""
from __future__ import annotations

from pathlib import Path

import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.net import Net, load_net_param
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt
from tests.conftest import FIXTURES
from tests.test_net import _IN, _trace, net_from_text

LENET = FIXTURES / "lenet"



# ------------------------------------------------------------------------------- user errors
def test_syntax_error_names_file_line_and_column(tmp_path):
    (tmp_path / "bad.prototxt").write_text('name: "x"\nlayer {\n  name: "a" typo: 3\n}\n')
    with pytest.raises(CaffeError, match=r"bad\.prototxt:3:13: .*typo"):
        load_net_param(tmp_path / "bad.prototxt")


def test_unknown_layer_type_lists_the_known_types():
    with pytest.raises(CaffeError, match=r"layer a: unknown layer type 'Convolutoin' \(known types: .*"
                                         r"Convolution, .*InnerProduct, .*SoftmaxWithLoss"):
        net_from_text(_IN + 'layer { name: "a" type: "Convolutoin" bottom: "x" top: "y" }')


def test_missing_bottom_blob_names_layer_and_blob():
    with pytest.raises(CaffeError, match=r"^layer a: unknown bottom blob 'nope'"):
        net_from_text(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "nope" top: "y" }')


def test_bottom_produced_only_in_other_phase_is_missing():
    with pytest.raises(CaffeError, match=r"layer b: unknown bottom blob 'a'"):
        net_from_text(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "a" include { phase: TRAIN } }\n'
                            'layer { name: "b" type: "TestScaleBy2" bottom: "a" top: "b" }', phase=caffe_pb2.TEST)


def test_shape_mismatch_names_layer_and_both_shapes():
    with pytest.raises(CaffeError, match=r"layer sum \(Eltwise\): .*\(2, 3\).*\(2, 4\)"):
        net_from_text('layer { name: "in" type: "Input" top: "a" top: "b" '
                      'input_param { shape { dim: 2 dim: 3 } shape { dim: 2 dim: 4 } } }\n'
                      'layer { name: "sum" type: "Eltwise" bottom: "a" bottom: "b" top: "c" }')


@pytest.mark.parametrize("layer,message", [
    ('layer { name: "lrn" type: "LRN" bottom: "x" top: "y" lrn_param { local_size: 4 } }', r"layer lrn \(LRN\): .*odd"),
    ('layer { name: "conv" type: "Convolution" bottom: "x" top: "y" '
     'convolution_param { num_output: 2 kernel_size: 3 stride: 0 } }', r"layer conv \(Convolution\): .*stride"),
    ('layer { name: "py" type: "Python" bottom: "x" top: "y" }', r"layer py \(Python\): python_param needs both"),
    ('layer { name: "py" type: "Python" bottom: "x" top: "y" python_param { module: "no_such_mod" layer: "L" } }',
     r"layer py \(Python\): cannot import module 'no_such_mod'"),
    ('layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" loss_weight: 1 loss_weight: 2 }',
     r"layer a: loss_weight must be unspecified or given once per top"),
    ('layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" propagate_down: true propagate_down: false }',
     r"layer a: propagate_down must be given"),
    ('layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "x2" } layer { name: "b" type: "TestScaleBy2" '
     'bottom: "x2" top: "x" }', r"layer b: top blob 'x' is already produced"),
])
def test_invalid_parameter_is_one_line_naming_the_layer(layer, message):
    with pytest.raises(CaffeError, match=message) as e:
        net_from_text('layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 8 dim: 8 } } }\n'
                      + layer)
    assert "\n" not in str(e.value)


def test_caffemodel_that_does_not_fit_names_layer_and_both_shapes(tmp_path, monkeypatch):
    monkeypatch.chdir(LENET)
    text = Path("lenet_train_test.prototxt").read_text().replace("num_output: 50\n", "num_output: 40\n")
    net = Net(parse_prototxt(text, caffe_pb2.NetParameter()), phase=caffe_pb2.TRAIN)
    with pytest.raises(CaffeError, match=r"lenet_iter_0\.caffemodel: layer ip1: cannot copy param 0: shape "
                                         r"mismatch, source param shape is 50 4050 \(202500\); target param "
                                         r"shape is 40 4050 \(162000\)"):
        net.copy_trained_layers_from("lenet_iter_0.caffemodel")


def test_caffemodel_with_wrong_blob_count_is_an_error():
    net = net_from_text(_IN + 'layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 2 } }')
    src = net.to_net_parameter()
    del src.layer[1].blobs[1]
    with pytest.raises(CaffeError, match="layer a: incompatible number of blobs: the file has 1, the net's layer has 2"):
        net.copy_trained_layers_from(src)


def test_layers_missing_from_the_caffemodel_keep_their_fillers():
    net = net_from_text(_IN + 'layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" '
                              'inner_product_param { num_output: 2 bias_filler { type: "constant" value: 7 } } }')
    net.copy_trained_layers_from(caffe_pb2.NetParameter(name="other"))
    assert net.layer_by_name("a").blobs[1].tolist() == [7.0, 7.0]


def test_caffemodel_layers_absent_from_the_net_are_logged_as_ignored():
    net = net_from_text(_IN + 'layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" '
                              'inner_product_param { num_output: 2 } }')
    src = net.to_net_parameter()
    src.layer.add(name="extra", type="ReLU")
    assert _trace(lambda: net.copy_trained_layers_from(src)) == [
        "net.cpp:764] Copying source layer in", "net.cpp:764] Copying source layer a",
        "net.cpp:761] Ignoring source layer extra"]


def test_corrupt_caffemodel_is_one_line(tmp_path):
    (tmp_path / "x.caffemodel").write_bytes(b"\xff\xfe\x00garbage\x01")
    net = net_from_text(_IN)
    with pytest.raises(CaffeError, match=r"x\.caffemodel"):
        net.copy_trained_layers_from(tmp_path / "x.caffemodel")
