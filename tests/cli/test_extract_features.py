"""extract_features (cli/extract_features): Caffe's Datum records, byte for byte, from the LeNet fixture."""
from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

from fer_caffe_compat.cli import extract_features as tool
from fer_caffe_compat.cli.common import run
from fer_caffe_compat.io.db import iter_records

from .. import glog
from ..conftest import FIXTURES

LENET = FIXTURES / "lenet"
ARGS = ("lenet_iter_0.caffemodel", "lenet_train_test.prototxt")


def _varint(n: int) -> bytes:
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def expected_datum(c: int, h: int, w: int, values) -> bytes:
    """Datum as Caffe serializes it: channels (1), height (2), width (3), then float_data (6) unpacked, one
    fixed32 per value; no data, label or encoded."""
    head = b"\x08" + _varint(c) + b"\x10" + _varint(h) + b"\x18" + _varint(w)
    return head + b"".join(b"\x35" + struct.pack("<f", v) for v in np.asarray(values, np.float32))


def extract(monkeypatch, capsys, *argv) -> tuple[int, str]:
    monkeypatch.chdir(LENET)  # the Data layers read ../imageset/gray_lmdb
    monkeypatch.setattr(sys, "argv", ["extract_features", *map(str, argv)])
    monkeypatch.setattr("fer_caffe_compat.log.quiet", False)
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        run(tool.extract, "extract_features")
    return e.value.code, capsys.readouterr().err


@pytest.mark.parametrize("shape,chw", [((2, 3), (3, 1, 1)), ((2, 2, 1, 3), (2, 1, 3)), ((2,), (1, 1, 1))])
def test_records_are_caffes_bytes(shape, chw):
    blob = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) / 3
    records = list(tool.feature_records(blob, 5))
    rows = blob.reshape(2, -1)
    assert records == [(b"0000000005", expected_datum(*chw, rows[0])), (b"0000000006", expected_datum(*chw, rows[1]))]


def test_extracts_two_blobs_from_lenet(tmp_path, monkeypatch, capsys):
    ip2, pool2 = tmp_path / "ip2_lmdb", tmp_path / "pool2_lmdb"
    code, err = extract(monkeypatch, capsys, *ARGS, "ip2,pool2", f"{ip2},{pool2}", 2, "lmdb")
    assert code == 0, err
    assert [(g.severity, g.msg) for g in glog.lines(err)] == [
        ("E", "Using CPU"), ("E", "Extacting Features"),
        ("E", "Extracted features of 20 query images for feature blob ip2"),
        ("E", "Extracted features of 20 query images for feature blob pool2"),
        ("E", "Successfully extracted the features!")]  # INFO lines stay off stderr, as glog's default
    got = list(iter_records(ip2))
    assert [k for k, _ in got] == [f"{i:010d}".encode() for i in range(20)]
    # the same net and weights, run here: record 13 is image 3 of the second batch
    from fer_caffe_compat.net import Net
    from fer_caffe_compat.net_weights import load_weights
    from fer_caffe_compat.proto import caffe_pb2
    import torch
    net = Net.from_file(ARGS[1], phase=caffe_pb2.TEST)
    load_weights(net, ARGS[0])
    with torch.no_grad():
        net.forward()
        second = net.forward()
    assert got[13][1] == expected_datum(7, 1, 1, second["ip2"][3].numpy())
    pooled = dict(iter_records(pool2))
    assert pooled[b"0000000019"] == expected_datum(50, 9, 9, second["pool2"][9].numpy().ravel())


@pytest.mark.parametrize("args,fragment", [
    (("ip2,pool2", "OUT", "1", "lmdb"), "the number of blob names and dataset names must be equal"),
    (("fc7", "OUT", "1", "lmdb"), "Unknown feature blob name fc7 in the network lenet_train_test.prototxt"),
    (("ip2", "OUT", "1", "leveldb"), "db_type leveldb: not supported"),
    (("ip2", "OUT", "1", "rocks"), "Unknown database backend rocks"),
    (("ip2", "EXISTS", "1", "lmdb"), "already exists"),
])
def test_bad_arguments_are_one_line(tmp_path, monkeypatch, capsys, args, fragment):
    (tmp_path / "EXISTS").mkdir()
    args = tuple(str(tmp_path / a) if a in ("OUT", "EXISTS") else a for a in args)
    code, err = extract(monkeypatch, capsys, *ARGS, *args)
    last = err.strip().splitlines()[-1]
    assert code == 1 and last.startswith("extract_features: error: ") and fragment in last
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EXISTS"]


def test_too_few_arguments_print_caffes_usage(monkeypatch, capsys):
    code, err = extract(monkeypatch, capsys, *ARGS, "ip2")
    assert code == 1 and "Usage: extract_features  pretrained_net_param" in err
