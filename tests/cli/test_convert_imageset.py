"""tools/convert_imageset with Caffe's command lines: byte-identical LMDBs, glog lines, one-line errors."""
from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys

import pytest

from fer_caffe_compat.io.db import iter_records
from tests.conftest import FIXTURES

IMAGESET = FIXTURES / "imageset"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_caffe_compat.cli.convert_imageset", *map(str, args)],
                          cwd=IMAGESET, capture_output=True, text=True, timeout=120)


def _reference(name: str) -> list[tuple[str, str]]:
    with open(IMAGESET / f"{name}_records.tsv") as f:
        return [(r["key"], r["value_sha256"]) for r in csv.DictReader(f, delimiter="\t")]


def _written(db) -> list[tuple[str, str]]:
    return [(k.decode(), hashlib.sha256(v).hexdigest()) for k, v in iter_records(db)]


@pytest.mark.parametrize("flags, name", [
    (["-gray", "-backend=lmdb"], "gray_lmdb"),
    (["--gray=true", "--encoded", "--backend", "lmdb"], "encoded_lmdb"),
    (["--gray", "-resize_height=40", "-resize_width=36"], "resized_lmdb"),
], ids=["gray", "encoded", "resized"])
def test_caffes_command_lines_give_caffes_lmdbs(tmp_path, flags, name):
    r = _run(*flags, "./", "train.txt", tmp_path / name)
    assert r.returncode == 0, r.stderr
    assert _written(tmp_path / name) == _reference(name)
    sources = re.findall(r"^I\d{4} [\d:.]+ +\d+ (\S+)\] (.*)$", r.stderr, re.M)
    assert sources == [("convert_imageset.cpp:89", "A total of 70 images."),
                       ("db_lmdb.cpp:35", f"Opened lmdb {tmp_path / name}"),
                       ("convert_imageset.cpp:153", "Processed 70 files.")]


def _one_line_error(r, pattern):
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("convert_imageset: error: ") and re.search(pattern, last), r.stderr
    assert not any(ln.startswith("convert_imageset: error") for ln in r.stderr.strip().splitlines()[:-1])


@pytest.mark.parametrize("content, pattern", [
    ("0/00000.jpg 0\n0/00042.jpg 0\n", r"l\.txt:2: \./0/00042\.jpg: no such image file"),
    ("0/00000.jpg 0\n0/00001.jpg\n", r"l\.txt:2: expected 'path label', found no label in '0/00001\.jpg'"),
], ids=["missing_image", "no_label"])
def test_bad_lists_are_one_line_errors_and_leave_no_db(tmp_path, content, pattern):
    (tmp_path / "l.txt").write_text(content)
    r = _run("--gray", "./", tmp_path / "l.txt", tmp_path / "db")
    _one_line_error(r, pattern)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.txt"]


def test_existing_db_is_refused_unless_overwrite(tmp_path):
    (tmp_path / "db").mkdir()
    _one_line_error(_run("./", "color.txt", tmp_path / "db"), r"db: already exists; refusing to overwrite")
    assert _run("./", "color.txt", tmp_path / "db", "--overwrite").returncode == 0
    assert _written(tmp_path / "db") == _reference("color_lmdb")
