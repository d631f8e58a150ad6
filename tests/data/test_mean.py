"""compute_image_mean against Caffe's mean files, and its float32 summation."""
from __future__ import annotations

import re

import numpy as np
import pytest

from fer_caffe_compat import log
from fer_caffe_compat.data.convert import convert_imageset
from fer_caffe_compat.data.mean import MeanAccumulator, channel_means, compute_image_mean
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.blob import read_blob_file
from fer_caffe_compat.io.db import write_lmdb
from fer_caffe_compat.proto import caffe_pb2
from tests.conftest import FIXTURES

IMAGESET = FIXTURES / "imageset"


def _log_messages(path) -> list[str]:
    return [re.match(r"^I\d{4} \S+ +\d+ (.*)$", ln).group(1) for ln in path.read_text().splitlines()]


@pytest.mark.parametrize("db, ref", [("gray_lmdb", "mean_gray"), ("color_lmdb", "mean_color")])
def test_compute_image_mean_writes_caffes_mean_file_byte_for_byte(tmp_path, db, ref):
    out = tmp_path / "mean.binaryproto"
    mean = compute_image_mean(IMAGESET / db, str(out), progress=False)
    want = np.load(IMAGESET / "means.npz")[ref]
    assert np.abs(mean[None] - want).max() <= 1e-6, f"{db}: max diff {np.abs(mean[None] - want).max()}"
    assert out.read_bytes() == (IMAGESET / f"{ref}.binaryproto").read_bytes()
    blob = caffe_pb2.BlobProto.FromString(out.read_bytes())
    assert (blob.num, blob.channels, blob.height, blob.width) == (1,) + want.shape[1:]
    assert not blob.HasField("shape")


def test_compute_image_mean_logs_the_channel_means_as_caffe(tmp_path):
    h = log.add_file(tmp_path / "log")
    try:
        compute_image_mean(IMAGESET / "color_lmdb", str(tmp_path / "m.binaryproto"), progress=False)
    finally:
        log.remove_file(h)
    assert _log_messages(tmp_path / "log") == [
        f"db_lmdb.cpp:35] Opened lmdb {IMAGESET / 'color_lmdb'}",
        "compute_image_mean.cpp:70] Starting iteration",
        "compute_image_mean.cpp:101] Processed 12 files.",
        f"compute_image_mean.cpp:108] Write to {tmp_path / 'm.binaryproto'}",
        "compute_image_mean.cpp:114] Number of channels: 3",
        "compute_image_mean.cpp:119] mean_value channel [0]: 122.475",
        "compute_image_mean.cpp:119] mean_value channel [1]: 162.535",
        "compute_image_mean.cpp:119] mean_value channel [2]: 95.4595",
    ]


def test_mean_of_an_encoded_db_equals_the_mean_of_the_raw_db(tmp_path):
    convert_imageset(f"{IMAGESET}/", str(IMAGESET / "train.txt"), str(tmp_path / "enc"), gray=True,
                     encoded=True, progress=False)
    compute_image_mean(tmp_path / "enc", str(tmp_path / "m.binaryproto"), progress=False)
    assert (tmp_path / "m.binaryproto").read_bytes() == (IMAGESET / "mean_gray.binaryproto").read_bytes()
    np.testing.assert_array_equal(read_blob_file(tmp_path / "m.binaryproto"),
                                  np.load(IMAGESET / "means.npz")["mean_gray"])


def test_mean_of_float_datums(tmp_path):
    vals = [np.array([0.5, 1.25, -2.0], np.float32), np.array([1.5, 0.25, 4.0], np.float32)]
    recs = [(b"%d" % i, caffe_pb2.Datum(channels=3, height=1, width=1, float_data=v.tolist()).SerializeToString())
            for i, v in enumerate(vals)]
    write_lmdb(tmp_path / "db", recs)
    mean = compute_image_mean(tmp_path / "db", None, progress=False)
    np.testing.assert_array_equal(mean.ravel(), np.array([1.0, 0.75, 1.0], np.float32))


def test_mean_over_an_empty_db_is_a_clear_error(tmp_path):
    write_lmdb(tmp_path / "empty", [])
    with pytest.raises(CaffeError, match=r"empty: the database holds no records"):
        compute_image_mean(tmp_path / "empty", str(tmp_path / "m.binaryproto"), progress=False)
    assert not (tmp_path / "m.binaryproto").exists()


def test_accumulator_rounds_like_caffes_float32_loop_past_2_pow_24():
    # 70,000 records of 255 pass 2**24, where float32 sums start to round: the result must follow
    # Caffe's record-by-record float additions, not an exact integer sum.
    rng = np.random.default_rng(0)
    batch = np.where(rng.random((70000, 1, 1, 3)) < 0.9, 255, rng.integers(0, 256, (70000, 1, 1, 3))).astype(np.uint8)
    acc = MeanAccumulator()
    for lo in range(0, len(batch), 10000):
        acc.add(batch[lo:lo + 10000])
    ref = np.zeros((1, 1, 3), np.float32)
    for rec in batch:
        ref += rec.astype(np.float32)
    np.testing.assert_array_equal(acc.mean(), ref / np.float32(70000))


def test_channel_means_are_float32_running_sums():
    m = np.full((2, 3, 3), 0.1, np.float32)
    m[1] = 200.0
    assert channel_means(m) == [float(np.float32(np.add.accumulate(m[0].ravel())[-1]) / np.float32(9)), 200.0]
