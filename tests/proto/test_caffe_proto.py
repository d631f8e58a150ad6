"""The committed caffe_pb2.py matches caffe.proto, and the schema reads Caffe's own files."""
from __future__ import annotations

import subprocess
import sys

import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt, read_binary
from tests.conftest import FIXTURES, ROOT

PROTO_DIR = ROOT / "fer_caffe_compat" / "proto"


def test_committed_caffe_pb2_is_not_stale(tmp_path):
    pytest.importorskip("grpc_tools")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}", f"--python_out={tmp_path}",
                    str(PROTO_DIR / "caffe.proto")], check=True)
    fresh = (tmp_path / "caffe_pb2.py").read_text()
    committed = (PROTO_DIR / "caffe_pb2.py").read_text()
    assert fresh == committed, "caffe_pb2.py is stale: run `make proto` and commit it"


def test_field_numbers_match_caffe():
    f = caffe_pb2.LayerParameter.DESCRIPTOR.fields_by_name
    assert f["convolution_param"].number == 106
    assert f["batch_norm_param"].number == 139
    assert f["clip_param"].number == 148
    assert caffe_pb2.NetParameter.DESCRIPTOR.fields_by_name["layer"].number == 100
    s = caffe_pb2.SolverParameter.DESCRIPTOR.fields_by_name
    assert (s["type"].number, s["momentum2"].number, s["iter_size"].number) == (40, 39, 36)
    assert caffe_pb2.SolverParameter().solver_mode == caffe_pb2.SolverParameter.GPU
    assert caffe_pb2.PoolingParameter().round_mode == caffe_pb2.PoolingParameter.CEIL


def test_syntax_error_names_file_line_and_column():
    with pytest.raises(CaffeError, match=r"^net.prototxt:3:\d+: "):
        parse_prototxt('name: "x"\nlayer {\n  nme: "conv"\n}\n', caffe_pb2.NetParameter(), "net.prototxt")


def test_truncated_binary_is_one_clear_error(tmp_path):
    p = tmp_path / "bad.caffemodel"
    p.write_bytes(b"\x0a\xff\xff\xff")
    with pytest.raises(CaffeError, match="bad.caffemodel: not a valid NetParameter"):
        read_binary(p, caffe_pb2.NetParameter())
