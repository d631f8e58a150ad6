"""load_weights: Caffe's copy by layer name, plus the refusal of weights that do not arrive."""
from __future__ import annotations

import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.net import Net
from fer_caffe_compat.net_weights import load_weights
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt

NET = '''name: "two"
layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }
layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" inner_product_param { num_output: 4 }
        param { name: "shared_w" } }
layer { name: "b" type: "InnerProduct" bottom: "y" top: "z" inner_product_param { num_output: 2 } }
layer { name: "a2" type: "InnerProduct" bottom: "x" top: "y2" inner_product_param { num_output: 4 }
        param { name: "shared_w" } }
'''


def _net() -> Net:
    return Net(parse_prototxt(NET, caffe_pb2.NetParameter(), "two.prototxt"))


def _file(tmp_path, keep: list[str], name: str = "w"):
    """A .caffemodel of this net holding only the layers ``keep``."""
    src = _net().to_net_parameter()
    out = caffe_pb2.NetParameter(name="two")
    out.layer.extend(layer for layer in src.layer if layer.name in keep)
    (tmp_path / f"{name}.caffemodel").write_bytes(out.SerializeToString())
    return str(tmp_path / f"{name}.caffemodel")


def test_complete_weights_load(tmp_path):
    assert load_weights(_net(), _file(tmp_path, ["in", "a", "b", "a2"])) == []


def test_missing_layers_are_refused_and_listed_when_allowed(tmp_path):
    w = _file(tmp_path, ["in", "a"])
    with pytest.raises(CaffeError, match=r"w\.caffemodel: no weights for layers b, a2 of net two"):
        load_weights(_net(), w)
    assert load_weights(_net(), w, allow_missing=True) == ["b", "a2"]  # a2's bias is its own


def test_a_file_that_copies_nothing_is_refused_even_when_missing_layers_are_allowed(tmp_path):
    w = _file(tmp_path, ["in"])
    with pytest.raises(CaffeError, match=r"w\.caffemodel: no layer of this file matches a layer with weights of "
                                         r"net two \(a, b, a2\): it would copy nothing"):
        load_weights(_net(), w, allow_missing=True)


def test_several_files_fill_the_net_together(tmp_path):
    a, b = _file(tmp_path, ["a", "a2"], "a"), _file(tmp_path, ["b"], "b")
    assert load_weights(_net(), f"{a},{b}") == []
