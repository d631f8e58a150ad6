""".caffemodel helpers: Caffe's blob encoding, legacy shapes, text and V1 forms, bad files."""
from __future__ import annotations

import numpy as np
import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.caffemodel import (blob_data, blob_from_array, legacy_shape_equals, proto_shape,
                                            read_caffemodel, shape_string, write_caffemodel)
from fer_caffe_compat.proto import caffe_pb2
from tests.conftest import FIXTURES


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 4), (1, 0)])
def test_blob_from_array_encodes_as_protobuf_does(shape):
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) - 1.5
    ours = blob_from_array(a, diff=a * 2)
    ref = caffe_pb2.BlobProto()
    if shape:
        ref.shape.dim.extend(shape)
    ref.data.extend(a.ravel().tolist())
    ref.diff.extend((a * 2).ravel().tolist())
    assert ours.SerializeToString() == ref.SerializeToString()
    assert proto_shape(ours) == shape
    np.testing.assert_array_equal(blob_data(ours, shape, "b"), a)


def test_zero_axis_blob_has_no_shape_field_as_caffe_writes_prelu_shared():
    net = read_caffemodel(FIXTURES / "layers" / "zoo.caffemodel")
    blob = next(l for l in net.layer if l.name == "prelu_shared").blobs[0]
    assert not blob.HasField("shape") and proto_shape(blob) == ()
    assert blob_from_array(np.float32(0.25)).HasField("shape") is False


def test_legacy_4d_shape_matches_padded_shape():
    b = caffe_pb2.BlobProto(num=1, channels=1, height=20, width=5)
    assert legacy_shape_equals((20, 5), b) and legacy_shape_equals((1, 20, 5), b)
    assert not legacy_shape_equals((5, 20), b) and not legacy_shape_equals((1, 1, 1, 1, 100), b)
    assert shape_string((20, 1, 5, 5)) == "20 1 5 5 (500)" and shape_string(()) == "(1)"


def test_write_then_read_round_trip(tmp_path):
    p = caffe_pb2.NetParameter(name="n")
    layer = p.layer.add(name="ip", type="InnerProduct")
    layer.blobs.append(blob_from_array(np.ones((2, 3), np.float32)))
    write_caffemodel(tmp_path / "n.caffemodel", p)
    assert read_caffemodel(tmp_path / "n.caffemodel") == p


def test_text_caffemodel_is_read(tmp_path):
    (tmp_path / "t.caffemodel").write_text(
        'name: "t" layer { name: "ip" type: "InnerProduct" blobs { shape { dim: 2 } data: 1 data: 2 } }')
    p = read_caffemodel(tmp_path / "t.caffemodel")
    assert list(p.layer[0].blobs[0].data) == [1.0, 2.0]


def test_v1_caffemodel_is_upgraded(tmp_path):
    p = caffe_pb2.NetParameter(name="old")
    v1 = p.layers.add(name="conv", type=caffe_pb2.V1LayerParameter.CONVOLUTION, blobs_lr=[1, 2])
    v1.blobs.add(num=1, channels=1, height=1, width=2, data=[3, 4])
    (tmp_path / "old.caffemodel").write_bytes(p.SerializeToString())
    up = read_caffemodel(tmp_path / "old.caffemodel")
    assert len(up.layers) == 0 and up.layer[0].type == "Convolution"
    assert [s.lr_mult for s in up.layer[0].param] == [1, 2]
    assert list(up.layer[0].blobs[0].data) == [3, 4]


def test_garbage_file_is_one_line_error(tmp_path):
    (tmp_path / "bad.caffemodel").write_bytes(b"\x0a\xff\xff\xff\xff\x0f junk")
    with pytest.raises(CaffeError, match=r"bad\.caffemodel: not a valid NetParameter"):
        read_caffemodel(tmp_path / "bad.caffemodel")


def test_blob_with_wrong_value_count_is_an_error():
    with pytest.raises(CaffeError, match=r"w: blob holds 3 values, its shape \[2, 2\] needs 4"):
        blob_data(caffe_pb2.BlobProto(data=[1, 2, 3]), (2, 2), "w")
