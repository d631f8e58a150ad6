from __future__ import annotations

import re
import subprocess

import pytest
from PIL import Image

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval import draw
from fer_caffe_compat.proto import caffe_pb2, read_prototxt

from ..conftest import FIXTURES

TRAIN_VAL = FIXTURES / "eval" / "tiny_train_val.prototxt"


def _net() -> caffe_pb2.NetParameter:
    return read_prototxt(TRAIN_VAL, caffe_pb2.NetParameter())


def test_dot_has_caffe_styles_labels_and_edges():
    # the text Caffe's draw.py (pydot) printed: layer nodes are their quoted labels, blobs their names
    dot = draw.to_dot(_net(), rankdir="LR", phase=caffe_pb2.TEST)
    assert dot.startswith('digraph TinyFER {\nrankdir=LR;\n"mnist\\n(Data)" [shape=record, ') and dot.endswith("}\n")
    assert '"conv1\\n(Convolution)\\nkernel size: 5\\nstride: 2\\npad: 0" [shape=record, fillcolor="#FF5050", ' \
           'style=filled];' in dot
    assert '"pool1\\n(Pooling MAX)\\nkernel size: 2\\nstride: 2\\npad: 0" [shape=record' in dot
    assert '"relu1\\n(ReLU)" [shape=record, fillcolor="#90EE90", style=filled];' in dot
    assert '\nlabel [shape=octagon, fillcolor="#E0E0E0", style=filled];\n' in dot
    assert '\nloss;\n' in dot  # a blob no layer reads: a plain node
    assert '"mnist\\n(Data)" -> data [label="Batch 4"];' in dot  # the TEST data layer only
    assert '"ip1\\n(InnerProduct)" -> ip1 [label=7];' in dot
    assert 'ip1 -> "loss\\n(SoftmaxWithLoss)" [label=""];' in dot
    assert '"relu1\\n(ReLU)" -> conv1 [label=""];' in dot  # in place


def test_phase_filter_and_rankdir_separator():
    dot = draw.to_dot(_net(), rankdir="TB", phase=caffe_pb2.TRAIN)
    assert "Accuracy" not in dot and '[label="Batch 8"]' in dot and "Batch 4" not in dot
    assert '"conv1 (Convolution) kernel size: 5 stride: 2 pad: 0" [' in dot
    both = draw.to_dot(_net(), phase=None)
    assert "Batch 8" in both and "Batch 4" in both and len(re.findall(r'"mnist\\n\(Data\)" ->', both)) == 4
    with pytest.raises(CaffeError, match="rankdir 'XY'"):
        draw.to_dot(_net(), rankdir="XY")


def test_display_lrm_and_unlabelled_edges():
    dot = draw.to_dot(_net(), rankdir="TB", phase=caffe_pb2.TEST, label_edges=False, display_lrm=True)
    assert "Batch" not in dot and "[label=4]" not in dot
    assert re.search(r'"conv1 \(Convolution\) kernel size: 5 stride: 2 pad: 0 lr mult: \d\.\d, \d\.\d"', dot)


def test_render_png_matches_graphvizs_own_size(tmp_path):
    out = tmp_path / "net.png"
    draw.render(_net(), out, rankdir="LR", phase=caffe_pb2.TEST)
    plain = subprocess.run(["dot", "-Tplain"], input=draw.to_dot(_net(), "LR", caffe_pb2.TEST),
                           capture_output=True, text=True, check=True).stdout.split()
    # "graph scale width height" in inches; the PNG adds graphviz's 4-point pad on each side
    w_px, h_px = ((float(v) + 8 / 72) * draw.DPI for v in plain[2:4])
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert abs(im.size[0] - w_px) <= 1.5 and abs(im.size[1] - h_px) <= 1.5, (im.size, w_px, h_px)
        assert im.size[0] > im.size[1]  # left to right


def test_render_dot_is_graphvizs_layout_raw_is_the_text(tmp_path):
    # as Caffe's draw_net_to_file: the extension is graphviz's -T format; .raw is the DOT text itself
    draw.render(_net(), tmp_path / "net.dot")
    assert (tmp_path / "net.dot").read_text().startswith('digraph TinyFER {\n\tgraph [bb="')
    draw.render(_net(), tmp_path / "net.raw", phase=caffe_pb2.TEST)
    assert (tmp_path / "net.raw").read_text() == draw.to_dot(_net(), "LR", caffe_pb2.TEST)
