"""convert_imageset against Caffe's reference LMDBs (keys and serialized values, byte for byte)."""
from __future__ import annotations

import csv
import hashlib
import shutil

import numpy as np
import pytest

from fer_caffe_compat import log
from fer_caffe_compat.data.convert import convert_imageset, match_ext, read_list
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.db import datum_to_array, iter_records, parse_datum
from tests import glog
from tests.conftest import FIXTURES

IMAGESET = FIXTURES / "imageset"
ROOT = f"{IMAGESET}/"


def _reference(name: str) -> list[tuple[str, str]]:
    with open(IMAGESET / f"{name}_records.tsv") as f:
        return [(r["key"], r["value_sha256"]) for r in csv.DictReader(f, delimiter="\t")]


def _written(db) -> list[tuple[str, str]]:
    return [(k.decode(), hashlib.sha256(v).hexdigest()) for k, v in iter_records(db)]


def _first_difference(got, want) -> str:
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return f"record {i}: got {g}, want {w}"
    return f"{len(got)} records, want {len(want)}"


@pytest.mark.parametrize("name, listfile, flags", [
    ("gray_lmdb", "train.txt", dict(gray=True)),
    ("encoded_lmdb", "train.txt", dict(gray=True, encoded=True)),
    ("resized_lmdb", "train.txt", dict(gray=True, resize_height=40, resize_width=36)),
    ("color_lmdb", "color.txt", dict()),
])
def test_convert_imageset_matches_caffes_lmdb_byte_for_byte(tmp_path, name, listfile, flags):
    n = convert_imageset(ROOT, str(IMAGESET / listfile), str(tmp_path / name), progress=False, **flags)
    got, want = _written(tmp_path / name), _reference(name)
    assert n == len(want)
    assert got == want, f"{name}: {_first_difference(got, want)}"


def test_convert_imageset_shuffle_writes_the_same_set_of_records(tmp_path):
    convert_imageset(ROOT, str(IMAGESET / "train.txt"), str(tmp_path / "s"), gray=True, shuffle=True,
                     seed=3, progress=False)
    got = _written(tmp_path / "s")
    want = _reference("gray_shuffled_lmdb")
    assert sorted(h for _, h in got) == sorted(h for _, h in want)
    assert [k[:9] for k, _ in got] == [f"{i:08d}_" for i in range(70)]
    assert sorted(k[9:] for k, _ in got) == sorted(k[9:] for k, _ in want)
    assert [k for k, _ in got] != [k for k, _ in _reference("gray_lmdb")]


def test_encode_type_reencodes_when_the_extension_differs(tmp_path):
    convert_imageset(ROOT, str(IMAGESET / "color.txt"), str(tmp_path / "png"), encode_type="png", progress=False)
    png = [datum_to_array(parse_datum(v)) for _, v in iter_records(tmp_path / "png")]
    raw = [datum_to_array(parse_datum(v)) for _, v in iter_records(IMAGESET / "color_lmdb")]
    assert all(parse_datum(v).encoded and parse_datum(v).data[:4] == b"\x89PNG"
               for _, v in iter_records(tmp_path / "png"))
    np.testing.assert_array_equal(np.stack(png), np.stack(raw))  # PNG is lossless


def test_match_ext_follows_caffe():
    assert match_ext("a/b.JPG", "jpg") and match_ext("a.jpeg", "jpg") and not match_ext("a.png", "jpg")


def test_convert_imageset_logs_like_caffe_with_a_commit_every_1000(tmp_path):
    listfile = tmp_path / "big.txt"
    listfile.write_text("".join(f"0/0000{i % 10}.jpg 0\n" for i in range(1001)))
    logfile = tmp_path / "log.txt"
    h = log.add_file(logfile)
    try:
        convert_imageset(ROOT, str(listfile), str(tmp_path / "db"), gray=True, progress=False)
    finally:
        log.remove_file(h)
    lines = [f"{src}] {msg}" for src, msg in glog.tagged(logfile.read_text())]
    assert lines == [
        "convert_imageset.cpp:89] A total of 1001 images.",
        f"db_lmdb.cpp:35] Opened lmdb {tmp_path / 'db'}",
        "convert_imageset.cpp:147] Processed 1000 files.",
        "convert_imageset.cpp:153] Processed 1001 files.",
    ]


def test_read_list_takes_the_label_after_the_last_space(tmp_path):
    p = tmp_path / "l.txt"
    p.write_text("dir with space/a.jpg 3\r\n\nb.png 12\n")
    assert [(x.lineno, x.path, x.label) for x in read_list(p)] == [(1, "dir with space/a.jpg", 3), (3, "b.png", 12)]


@pytest.mark.parametrize("content, message", [
    ("0/00000.jpg 0\n0/00001.jpg\n", r"l\.txt:2: expected 'path label', found no label"),
    ("0/00000.jpg 0\n0/00001.jpg x\n", r"l\.txt:2: label 'x' is not an integer"),
    ("0/00000.jpg 0\n0/99999.jpg 0\n", r"l\.txt:2: .*99999\.jpg: no such image file"),
    ("0/00000.jpg 0\ntrain.txt 0\n", r"l\.txt:2: .*train\.txt: could not open or decode the image"),
], ids=["no_label", "label_not_int", "missing_image", "unreadable_image"])
def test_bad_list_lines_name_the_list_file_and_line_and_leave_no_db(tmp_path, content, message):
    (tmp_path / "l.txt").write_text(content)
    with pytest.raises(CaffeError, match=message):
        convert_imageset(ROOT, str(tmp_path / "l.txt"), str(tmp_path / "db"), gray=True, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.txt"]


def test_check_size_refuses_images_of_another_size(tmp_path):
    shutil.copy(IMAGESET / "color/00000.jpg", tmp_path / "c.jpg")
    shutil.copy(IMAGESET / "0/00000.jpg", tmp_path / "g.jpg")
    (tmp_path / "l.txt").write_text("g.jpg 0\nc.jpg 1\n")
    convert_imageset(f"{tmp_path}/", str(tmp_path / "l.txt"), str(tmp_path / "ok"), gray=True, progress=False)
    with pytest.raises(CaffeError, match=r"l\.txt:2: c\.jpg: 280 values, but the first image had 2304"):
        convert_imageset(f"{tmp_path}/", str(tmp_path / "l.txt"), str(tmp_path / "db"), gray=True,
                         check_size=True, progress=False)


def test_existing_db_is_refused_unless_overwrite(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    with pytest.raises(CaffeError, match="db: already exists"):
        convert_imageset(ROOT, str(IMAGESET / "color.txt"), str(db), progress=False)
    convert_imageset(ROOT, str(IMAGESET / "color.txt"), str(db), overwrite=True, progress=False)
    assert _written(db) == _reference("color_lmdb")


def test_empty_index_is_refused_and_writes_no_database(tmp_path):
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(CaffeError, match=r"empty\.txt: no 'path label' lines: nothing to convert"):
        convert_imageset(ROOT, str(tmp_path / "empty.txt"), str(tmp_path / "db"), progress=False)
    assert not (tmp_path / "db").exists()


def test_check_decode_refuses_a_truncated_jpeg_and_writes_nothing(tmp_path):
    import cv2

    img = np.random.default_rng(1).integers(0, 256, (48, 48), dtype=np.uint8)
    data = cv2.imencode(".jpg", img)[1].tobytes()
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / "a.jpg").write_bytes(data)
    (tmp_path / "0" / "b.jpg").write_bytes(data[:int(len(data) * 0.6)])
    (tmp_path / "list.txt").write_text("0/a.jpg 0\n0/b.jpg 0\n")
    assert convert_imageset(f"{tmp_path}/", str(tmp_path / "list.txt"), str(tmp_path / "db"), gray=True,
                            progress=False) == 2
    with pytest.raises(CaffeError, match=r"list\.txt:2: .*0/b\.jpg: the image is truncated"):
        convert_imageset(f"{tmp_path}/", str(tmp_path / "list.txt"), str(tmp_path / "db2"), gray=True,
                         progress=False, check_decode=True)
    assert not (tmp_path / "db2").exists()
