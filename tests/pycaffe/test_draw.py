"""caffe.draw against real pycaffe's draw of introspection/convnet.prototxt (pydot 4.0.1, graphviz 2.43)."""
from __future__ import annotations

import json
import shutil

import pytest
from google.protobuf import text_format

import caffe
import caffe.draw
from caffe.proto import caffe_pb2
from fer_caffe_compat.cli import draw_net

from ..conftest import FIXTURES

REF = FIXTURES / "pycaffe" / "module"
DRAW = json.loads((REF / "module.json").read_text())["draw"]
CASES = ["LR", "TB_phase_TRAIN", "BT_phase_TEST_lrm", "LR_no_edge_labels"]
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")


def _convnet() -> caffe_pb2.NetParameter:
    net = caffe_pb2.NetParameter()
    text_format.Merge((REF / "convnet.prototxt").read_text(), net)
    return net


@pytest.mark.parametrize("tag", CASES)
def test_dot_text_is_pycaffes(tag):
    kw = DRAW[tag]["kwargs"]
    g = caffe.draw.get_pydot_graph(_convnet(), **kw)
    assert g.to_string() == (REF / f"draw_convnet_{tag}.dot").read_text()
    assert [len(g.get_nodes()), len(g.get_edges())] == [DRAW[tag]["num_nodes"], DRAW[tag]["num_edges"]]
    assert type(g).__name__ == DRAW[tag]["type(graph)"] == "Dot"


@needs_dot
def test_draw_net_png_and_draw_net_to_file(tmp_path):
    png = caffe.draw.draw_net(_convnet(), "LR", ext="png")
    ref = DRAW['draw_net(npm, "LR", ext="png")']
    assert type(png).__name__ == ref["type"] and png[:8].hex() == ref["png_magic"]
    caffe.draw.draw_net_to_file(_convnet(), str(tmp_path / "x.dot"), rankdir="LR")
    head = DRAW['draw_net_to_file(npm, "x.dot") writes']
    text = (tmp_path / "x.dot").read_text()
    # graphviz's laid-out DOT: the bounding box depends on graphviz's version and fonts
    assert text.startswith(head[:head.index('bb="') + 4]) and "rankdir=LR" in text


def test_raw_is_the_dot_text(tmp_path):
    caffe.draw.draw_net_to_file(_convnet(), tmp_path / "x.raw", rankdir="BT", phase=caffe.TEST, display_lrm=True)
    assert (tmp_path / "x.raw").read_text() == (REF / "draw_convnet_BT_phase_TEST_lrm.dot").read_text()
    assert caffe.draw.draw_net(_convnet(), "LR", ext="raw") == (REF / "draw_convnet_LR.dot").read_bytes()


@needs_dot
def test_tools_draw_net_writes_the_same_picture(tmp_path):
    out = tmp_path / "net.raw"
    assert draw_net.main([str(REF / "convnet.prototxt"), str(out), "--rankdir", "BT", "--phase", "TEST",
                          "--display_lrm"]) == 0
    assert out.read_text() == (REF / "draw_convnet_BT_phase_TEST_lrm.dot").read_text()
    draw_net.main([str(REF / "convnet.prototxt"), str(tmp_path / "net.png")])
    assert (tmp_path / "net.png").read_bytes() == caffe.draw.draw_net(_convnet(), "LR", ext="png")


def test_a_net_object_is_refused():
    # real pycaffe: AttributeError "'Net' object has no attribute 'name'"; here also a TypeError saying why
    with pytest.raises(AttributeError, match="takes a caffe_pb2.NetParameter"):
        caffe.draw.draw_net(object(), "LR")
    with pytest.raises(TypeError):
        caffe.draw.get_pydot_graph("convnet.prototxt", "LR")


def test_helpers():
    net = _convnet()
    conv, pool, ip = net.layer[1], net.layer[3], net.layer[4]
    assert caffe.draw.get_layer_label(pool, "TB") == '"pool1 (Pooling MAX) kernel size: 2 stride: 2 pad: 0"'
    assert caffe.draw.get_layer_lr_mult(conv) == (1.0, 2.0) and caffe.draw.get_layer_lr_mult(ip) == (1.0, 1.0)
    with pytest.raises(ValueError, match="Pooling layers do not have a learning rate multiplier"):
        caffe.draw.get_layer_lr_mult(pool)
    assert caffe.draw.get_edge_label(conv) == "4" and caffe.draw.get_edge_label(pool) == '""'
    assert caffe.draw.choose_color_by_layertype("Pooling") == "#FF9900"
    assert caffe.draw.get_pooling_types_dict() == {0: "MAX", 1: "AVE", 2: "STOCHASTIC"}
    both = net.layer.add()
    both.CopyFrom(conv)
    both.include.add().phase = caffe.TEST
    both.exclude.add().phase = caffe.TRAIN
    with pytest.raises(ValueError, match="has both include and exclude specified"):
        caffe.draw.get_pydot_graph(net, "LR", phase=caffe.TEST)
