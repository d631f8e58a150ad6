"""upgrade_net_proto_text / upgrade_net_proto_binary / upgrade_solver_proto_text (cli/upgrade_proto), and
the C++ text format they write (proto/cpp_text)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fer_caffe_compat.cli import upgrade_proto
from fer_caffe_compat.cli.common import run
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt
from fer_caffe_compat.proto.cpp_text import float_text, to_text

from .. import glog
from ..conftest import ROOT

V1_NET = """name: "tiny"
input: "data"
input_dim: 1 input_dim: 1 input_dim: 8 input_dim: 8
layers {
  name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1"
  blobs_lr: 1 blobs_lr: 2 weight_decay: 1 weight_decay: 0
  convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "gaussian" std: 0.01 } }
}
layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }
layers { name: "prob" type: SOFTMAX bottom: "conv1" top: "prob" }
"""
UPGRADED = """name: "tiny"
layer {
  name: "input"
  type: "Input"
  top: "data"
  input_param {
    shape {
      dim: 1
      dim: 1
      dim: 8
      dim: 8
    }
  }
}
layer {
  name: "conv1"
  type: "Convolution"
  bottom: "data"
  top: "conv1"
  param {
    lr_mult: 1
    decay_mult: 1
  }
  param {
    lr_mult: 2
    decay_mult: 0
  }
  convolution_param {
    num_output: 4
    kernel_size: 3
    weight_filler {
      type: "gaussian"
      std: 0.01
    }
  }
}
layer {
  name: "relu1"
  type: "ReLU"
  bottom: "conv1"
  top: "conv1"
}
layer {
  name: "prob"
  type: "Softmax"
  bottom: "conv1"
  top: "prob"
}
"""
OLD_SOLVER = 'net: "tiny.prototxt"\nbase_lr: 0.01\nmomentum: 0.9\nlr_policy: "fixed"\nsolver_type: NESTEROV\n'


def tool(monkeypatch, capsys, name: str, *argv) -> tuple[int, list]:
    """One of the three tools in this process: exit status and its glog lines."""
    monkeypatch.setattr(sys, "argv", [name, *map(str, argv)])
    monkeypatch.setattr("fer_caffe_compat.log.quiet", False)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        run(getattr(upgrade_proto, f"_{name.split('_', 1)[1].replace('_proto', '')}"), name)
    return e.value.code, glog.lines(capsys.readouterr().err)


@pytest.mark.parametrize("value,double,text", [
    (1.0, False, "1"), (0.01, False, "0.01"), (1e6, False, "1e+06"), (0.00390625, False, "0.00390625"),
    (1 / 3, False, "0.333333343"), (-2.5, False, "-2.5"), (float("inf"), False, "inf"),
    (0.1, True, "0.1"), (1 / 3, True, "0.33333333333333331"),
])
def test_floats_as_cpp_prints_them(value, double, text):
    assert float_text(value, double) == text


def test_text_format_escapes_like_cpp():
    p = caffe_pb2.NetParameter(name='a"b\n\u00e9', force_backward=True)
    assert to_text(p) == 'name: "a\\"b\\n\\303\\251"\nforce_backward: true\n'


def test_v1_prototxt_is_upgraded_to_caffes_text(tmp_path, monkeypatch, capsys):
    (tmp_path / "v1.prototxt").write_text(V1_NET)
    code, lines = tool(monkeypatch, capsys, "upgrade_net_proto_text", tmp_path / "v1.prototxt", tmp_path / "new.prototxt")
    assert code == 0
    assert (tmp_path / "new.prototxt").read_text() == UPGRADED
    assert lines[-1].msg == f"Wrote upgraded NetParameter text proto to {tmp_path / 'new.prototxt'}"
    assert "Attempting to upgrade input file specified using deprecated V1LayerParameter: " \
           f"{tmp_path / 'v1.prototxt'}" in [g.msg for g in lines]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.prototxt", "v1.prototxt"]  # no temporary left


def test_an_up_to_date_net_is_written_as_is_with_caffes_error_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "net.prototxt").write_text(UPGRADED)
    code, lines = tool(monkeypatch, capsys, "upgrade_net_proto_text", tmp_path / "net.prototxt", tmp_path / "o")
    assert code == 0 and (tmp_path / "o").read_text() == UPGRADED
    assert (lines[0].severity, lines[0].msg) == ("E", f"File already in latest proto format: {tmp_path / 'net.prototxt'}")


def test_v1_caffemodel_is_upgraded_with_its_blobs(tmp_path, monkeypatch, capsys):
    old = parse_prototxt(V1_NET, caffe_pb2.NetParameter())
    blob = old.layers[0].blobs.add()
    blob.shape.dim.extend([4, 1, 3, 3])
    blob.data.extend([0.5] * 36)
    (tmp_path / "old.caffemodel").write_bytes(old.SerializeToString())
    code, lines = tool(monkeypatch, capsys, "upgrade_net_proto_binary", tmp_path / "old.caffemodel",
                       tmp_path / "new.caffemodel")
    assert code == 0 and (lines[-1].severity, lines[-1].msg) == \
        ("E", f"Wrote upgraded NetParameter binary proto to {tmp_path / 'new.caffemodel'}")
    new = caffe_pb2.NetParameter.FromString((tmp_path / "new.caffemodel").read_bytes())
    assert [lp.type for lp in new.layer] == ["Input", "Convolution", "ReLU", "Softmax"] and not new.layers
    assert list(new.layer[1].blobs[0].shape.dim) == [4, 1, 3, 3] and list(new.layer[1].blobs[0].data) == [0.5] * 36
    assert new.layer[1].blobs[0].SerializeToString() == blob.SerializeToString()


def test_solver_type_enum_becomes_the_type_string(tmp_path, monkeypatch, capsys):
    (tmp_path / "old.prototxt").write_text(OLD_SOLVER)
    code, lines = tool(monkeypatch, capsys, "upgrade_solver_proto_text", tmp_path / "old.prototxt", tmp_path / "new")
    assert code == 0
    assert (tmp_path / "new").read_text() == ('base_lr: 0.01\nlr_policy: "fixed"\nmomentum: 0.9\n'
                                              'net: "tiny.prototxt"\ntype: "Nesterov"\n')
    assert [g.severity for g in lines] == ["I", "I", "W", "I"]


def test_solver_type_and_type_both_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "both.prototxt").write_text(OLD_SOLVER + 'type: "Adam"\n')
    code, _ = tool(monkeypatch, capsys, "upgrade_solver_proto_text", tmp_path / "both.prototxt", tmp_path / "o")
    assert code == 1 and not (tmp_path / "o").exists()


def test_v0_net_is_one_error_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "v0.prototxt").write_text('layers { layer { name: "c" type: "conv" num_output: 2 } top: "c" }\n')
    monkeypatch.setattr(sys, "argv", ["upgrade_net_proto_text", str(tmp_path / "v0.prototxt"), str(tmp_path / "o")])
    with pytest.raises(SystemExit) as e:
        upgrade_proto.net_text()
    err = capsys.readouterr().err
    assert e.value.code == 1 and "a V0 net" in err.splitlines()[-1] and not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["upgrade_net_proto_text", "upgrade_net_proto_binary", "upgrade_solver_proto_text"])
def test_tools_usage_and_unreadable_input(tmp_path, name):
    exe = str(ROOT / "tools" / name)
    p = subprocess.run([exe, "only-one"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and glog.lines(p.stderr)[0].msg.startswith(f"Usage: {name} ")
    (tmp_path / "bad").write_text("layer { nonsense: 1 }\n" if "text" in name else "")
    (tmp_path / "bad").write_bytes(b"\xff\xff\xff" if "binary" in name else b"no_such_field: 1\n")
    p = subprocess.run([exe, str(tmp_path / "bad"), str(tmp_path / "out")], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and not (tmp_path / "out").exists() and "Traceback" not in p.stderr
    assert glog.lines(p.stderr)[0].msg.startswith("Failed to parse input ")
