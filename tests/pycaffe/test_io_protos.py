"""caffe.io's Datum / BlobProto / BlobProtoVector helpers against real pycaffe: serialized bytes exactly."""
from __future__ import annotations

import numpy as np
import pytest

import caffe
from caffe.proto import caffe_pb2

from .caffe_io_reference import DIR, JSON, NPZ, assert_matches, error_record

DATUM_LABELS = {"uint8_label7": 7, "uint8_nolabel": None, "uint8_label0": 0, "float32_label3": 3,
                "float64_nolabel": None, "int32_label1": 1}
BLOBS = ["4d_with_diff", "2d", "1d", "0d", "float64_2d"]


@pytest.mark.parametrize("name", sorted(DATUM_LABELS))
def test_array_to_datum_bytes_and_fields_are_pycaffes(name):
    arr, label = NPZ[f"datum/{name}/input"], DATUM_LABELS[name]
    d = caffe.io.array_to_datum(arr, label) if label is not None else caffe.io.array_to_datum(arr)
    want = JSON["datum"][name]
    assert d.SerializeToString().hex() == want["serialized_hex"]
    fields = {"channels": d.channels, "height": d.height, "width": d.width, "len(data)": len(d.data),
              "len(float_data)": len(d.float_data), "label": d.label, "HasField(label)": d.HasField("label"),
              "encoded": d.encoded}
    assert fields == want["fields"]


@pytest.mark.parametrize("name", sorted(DATUM_LABELS))
def test_datum_to_array_values_and_dtype_are_pycaffes(name):
    d = caffe_pb2.Datum.FromString(bytes.fromhex(JSON["datum"][name]["serialized_hex"]))
    back = caffe.io.datum_to_array(d)
    assert_matches(f"datum/{name}/datum_to_array", back)
    assert np.array_equal(back, NPZ[f"datum/{name}/input"])
    assert list(back.shape) == JSON["datum"][name]["datum_to_array"]["shape"]


def test_datum_to_array_uint8_is_a_writeable_copy():
    """Departure from the numpy-2 patched pycaffe (read-only np.frombuffer view): Caffe's np.fromstring
    gave a writeable copy, and so does this."""
    d = caffe_pb2.Datum.FromString(bytes.fromhex(JSON["datum"]["uint8_label7"]["serialized_hex"]))
    assert JSON["datum"]["uint8_label7"]["datum_to_array"]["writeable"] is False
    back = caffe.io.datum_to_array(d)
    assert back.flags.writeable
    back[0, 0, 0] = 99
    assert caffe.io.datum_to_array(d)[0, 0, 0] == 0


def test_datum_to_array_decodes_an_encoded_datum():
    """Departure: pycaffe reshaped the file bytes to (0, 0, 0) and failed; an encoded Datum is decoded
    (natively, BGR for colour, as Caffe's DecodeDatumToCVMatNative)."""
    d = caffe_pb2.Datum(data=(DIR / "img_color.png").read_bytes(), label=2, encoded=True)
    back = caffe.io.datum_to_array(d)
    rgb = NPZ["source/img_color_rgb_uint8"]
    assert back.dtype == np.uint8 and np.array_equal(back, rgb[:, :, ::-1].transpose(2, 0, 1))


def test_array_to_datum_of_a_2d_array_is_pycaffes_error():
    assert error_record(lambda: caffe.io.array_to_datum(np.zeros((2, 3), np.uint8))) == \
        JSON["datum"]["array_to_datum(2-D array)"]


def test_datum_to_array_with_a_wrong_shape_is_a_value_error():
    with pytest.raises(ValueError, match="Datum holds 6 values"):
        caffe.io.datum_to_array(caffe_pb2.Datum(channels=1, height=2, width=2, data=b"\0" * 6))


@pytest.mark.parametrize("name", BLOBS)
def test_array_to_blobproto_bytes_and_round_trip_are_pycaffes(name):
    arr = NPZ[f"blobproto/{name}/input"]
    diff = -arr * 2 if name == "4d_with_diff" else None
    blob = caffe.io.array_to_blobproto(arr, diff) if diff is not None else caffe.io.array_to_blobproto(arr)
    want = JSON["blobproto"][name]
    assert blob.SerializeToString().hex() == want["serialized_hex"]
    assert [list(blob.shape.dim), len(blob.data), len(blob.diff), blob.HasField("num")] == \
        [want["shape.dim"], want["len(data)"], want["len(diff)"], want["HasField(num)"]]
    assert_matches(f"blobproto/{name}/blobproto_to_array", caffe.io.blobproto_to_array(blob))
    if diff is not None:
        assert_matches(f"blobproto/{name}/blobproto_to_array_diff",
                       caffe.io.blobproto_to_array(blob, return_diff=True))


def test_compute_image_mean_file_reads_with_legacy_shape():
    blob = caffe_pb2.BlobProto.FromString((DIR / "train_mean.binaryproto").read_bytes())
    want = JSON["blobproto"]["../solvers/train_mean.binaryproto (compute_image_mean)"]
    assert [blob.num, blob.channels, blob.height, blob.width] == want["num/channels/height/width"]
    assert_matches("blobproto/train_mean/blobproto_to_array", caffe.io.blobproto_to_array(blob))


def test_partly_set_legacy_fields_win_over_shape_and_fail_as_pycaffe():
    lb = caffe_pb2.BlobProto(channels=2, width=3)
    lb.data.extend([1, 2, 3, 4, 5, 6])
    want = JSON["blobproto"]["legacy fields channels=2 width=3 only (num, height unset = 0)"]
    assert error_record(lambda: caffe.io.blobproto_to_array(lb)) == want
    lb.shape.dim.extend([2, 3])  # shape set too: the legacy fields still decide
    assert error_record(lambda: caffe.io.blobproto_to_array(lb)) == want


def test_blobprotovector_bytes_and_round_trip_are_pycaffes():
    b4 = NPZ["blobproto/4d_with_diff/input"]
    alist = [b4, b4.reshape(3, 4) * 10, np.array([1.5, -2.0], np.float32)]
    s = caffe.io.arraylist_to_blobprotovector_str(alist)
    assert type(s).__name__ == JSON["blobprotovector"]["type"]
    assert s.hex() == JSON["blobprotovector"]["serialized_hex"]
    back = caffe.io.blobprotovector_str_to_arraylist(s)
    for i, (b, facts) in enumerate(zip(back, JSON["blobprotovector"]["round_trip"])):
        assert_matches(f"blobprotovector/round_trip/{i}", b)
        assert list(b.shape) == facts["shape"] and np.array_equal(b, alist[i]) is facts["equal"]
