"""Image reading as Caffe's ReadImageToCVMat / DecodeDatumToCVMat (OpenCV)."""
from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.db import array_to_datum, datum_to_array, encoded_datum, iter_records, parse_datum
from fer_caffe_compat.data.image import decode_datum, hwc_to_chw, read_image
from tests.conftest import FIXTURES

IMAGESET = FIXTURES / "imageset"


def _stored(db: str, key: str) -> np.ndarray:
    return datum_to_array(parse_datum(dict(iter_records(IMAGESET / db))[key.encode()]))


def test_read_image_gray_equals_caffes_stored_pixels():
    img = read_image(IMAGESET / "2/00004.jpg", is_color=False)
    assert img.shape == (48, 48) and img.dtype == np.uint8
    np.testing.assert_array_equal(hwc_to_chw(img), _stored("gray_lmdb", "00000024_2/00004.jpg"))


def test_read_image_colour_is_bgr_hwc_as_caffe_stores_it():
    img = read_image(IMAGESET / "color/00005.jpg", is_color=True)
    assert img.shape == (14, 20, 3)
    chw = hwc_to_chw(img)
    np.testing.assert_array_equal(chw, _stored("color_lmdb", "00000005_color/00005.jpg"))
    # channel 2 is red, which grows left -> right; channel 1 green falls top -> bottom
    assert chw[2, :, -1].mean() > chw[2, :, 0].mean() + 50
    assert chw[1, 0].mean() > chw[1, -1].mean() + 50


def test_read_image_resizes_with_inter_linear_like_caffe():
    img = read_image(IMAGESET / "6/00009.jpg", is_color=False, new_h=40, new_w=36)
    assert img.shape == (40, 36)
    with open(IMAGESET / "resized_lmdb_records.tsv") as f:
        want = {r["key"]: r["value_sha256"] for r in csv.DictReader(f, delimiter="\t")}
    got = hashlib.sha256(array_to_datum(img[None], 6).SerializeToString()).hexdigest()
    assert got == want["00000069_6/00009.jpg"]


def test_read_image_resizes_only_when_both_sizes_are_given():
    assert read_image(IMAGESET / "0/00000.jpg", False, new_h=40, new_w=0).shape == (48, 48)


def test_decode_datum_gives_chw_and_honours_forced_colour():
    d = encoded_datum((IMAGESET / "color/00001.jpg").read_bytes(), 0)
    np.testing.assert_array_equal(decode_datum(d, "r"), _stored("color_lmdb", "00000001_color/00001.jpg"))
    assert decode_datum(d, "r", is_color=False).shape == (1, 14, 20)
    g = encoded_datum((IMAGESET / "0/00000.jpg").read_bytes(), 0)
    assert decode_datum(g, "r").shape == (1, 48, 48)
    assert decode_datum(g, "r", is_color=True).shape == (3, 48, 48)


def test_unreadable_images_are_caffe_errors(tmp_path):
    with pytest.raises(CaffeError, match="no such image file"):
        read_image(tmp_path / "missing.jpg")
    (tmp_path / "bad.jpg").write_text("not a jpeg")
    with pytest.raises(CaffeError, match="bad.jpg: could not open or decode"):
        read_image(tmp_path / "bad.jpg")
    with pytest.raises(CaffeError, match="record 7: could not decode"):
        decode_datum(encoded_datum(b"junk", 0), "record 7")


def _cut(tmp_path, fmt: str, keep: float):
    import cv2

    img = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    data = cv2.imencode(f".{fmt}", img)[1].tobytes()
    (tmp_path / f"whole.{fmt}").write_bytes(data)
    (tmp_path / f"cut.{fmt}").write_bytes(data[:int(len(data) * keep)])
    return tmp_path / f"whole.{fmt}", tmp_path / f"cut.{fmt}"


def test_jpeg_truncated_at_60_percent_is_read_with_a_warning_naming_it(tmp_path, capsys):
    from fer_caffe_compat import log

    whole, cut = _cut(tmp_path, "jpg", 0.6)
    h = log.add_file(tmp_path / "log.txt")
    try:
        assert read_image(whole, False).shape == (48, 48)
        assert read_image(cut, False).shape == (48, 48)  # as OpenCV decodes it: grey below the cut
    finally:
        log.remove_file(h)
    from tests import glog
    assert glog.tagged((tmp_path / "log.txt").read_text()) == [
        ("io.cpp:79", f"{cut}: the image is truncated: only part of it decodes; used as OpenCV decodes it "
                      "(--check_decode refuses it)")]
    with pytest.raises(CaffeError, match=rf"^{cut}: the image is truncated: only part of it decodes \(--check_decode\)$"):
        read_image(cut, False, check_decode=True)
    read_image(whole, False, check_decode=True)


def test_png_cut_short_is_refused_or_flagged(tmp_path):
    whole, cut = _cut(tmp_path, "png", 0.9)
    read_image(whole, False, check_decode=True)
    with pytest.raises(CaffeError, match=str(cut)):
        read_image(cut, False, check_decode=True)
