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
    dot = draw.to_dot(_net(), rankdir="LR", phase=caffe_pb2.TEST)
    assert 'rankdir=LR;' in dot and dot.startswith('digraph "TinyFER" {')
    assert '"conv1_Convolution" [label="conv1\\n(Convolution)\\nkernel size: 5\\nstride: 2\\npad: 0", ' \
           'shape=record, style=filled, fillcolor="#FF5050"];' in dot
    assert 'label="pool1\\n(MAX Pooling)\\nkernel size: 2\\nstride: 2\\npad: 0"' in dot
    assert '"relu1_ReLU" [label="relu1\\n(ReLU)", shape=record, style=filled, fillcolor="#90EE90"];' in dot
    assert '"label_blob" [label="label", shape=octagon, style=filled, fillcolor="#E0E0E0"];' in dot
    assert '"mnist_Data" -> "data_blob" [label="Batch 4"];' in dot  # the TEST data layer only
    assert '"ip1_InnerProduct" -> "ip1_blob" [label="7"];' in dot
    assert '"ip1_blob" -> "loss_SoftmaxWithLoss";' in dot
    assert '"accuracy_Accuracy"' in dot


def test_phase_filter_and_rankdir_separator():
    dot = draw.to_dot(_net(), rankdir="TB", phase=caffe_pb2.TRAIN)
    assert "Accuracy" not in dot and '[label="Batch 8"]' in dot and "Batch 4" not in dot
    assert 'label="conv1 (Convolution) kernel size: 5 stride: 2 pad: 0"' in dot
    both = draw.to_dot(_net(), phase=None)
    assert "Batch 8" in both and "Batch 4" in both and len(re.findall(r'"mnist_Data" ->', both)) == 4
    with pytest.raises(CaffeError, match="rankdir 'XY'"):
        draw.to_dot(_net(), rankdir="XY")


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


def test_render_dot_text(tmp_path):
    out = tmp_path / "net.dot"
    draw.render(_net(), out)
    assert out.read_text().startswith('digraph "TinyFER"')
