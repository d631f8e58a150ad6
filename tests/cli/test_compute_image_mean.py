"""tools/compute_image_mean with Caffe's command line, and its one-line errors."""
from __future__ import annotations

import re
import subprocess
import sys

from fer_caffe_compat.io.db import write_lmdb
from tests.conftest import FIXTURES

IMAGESET = FIXTURES / "imageset"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_caffe_compat.cli.compute_image_mean", *map(str, args)],
                          cwd=IMAGESET, capture_output=True, text=True, timeout=120)


def test_caffes_command_line_gives_caffes_mean_file(tmp_path):
    r = _run("-backend=lmdb", "gray_lmdb", tmp_path / "mean.binaryproto")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mean.binaryproto").read_bytes() == (IMAGESET / "mean_gray.binaryproto").read_bytes()
    assert re.search(r"compute_image_mean\.cpp:119\] mean_value channel \[0\]: 129\.222$", r.stderr, re.M)


def test_mean_over_an_empty_db_is_one_line_and_writes_nothing(tmp_path):
    write_lmdb(tmp_path / "empty_lmdb", [])
    r = _run(tmp_path / "empty_lmdb", tmp_path / "mean.binaryproto")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (f"compute_image_mean: error: {tmp_path / 'empty_lmdb'}: the database "
                                                 "holds no records; cannot compute a mean")
    assert not (tmp_path / "mean.binaryproto").exists()


def test_a_missing_db_is_one_line(tmp_path):
    r = _run(tmp_path / "nope", tmp_path / "m.binaryproto")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"compute_image_mean: error: {tmp_path / 'nope'}: not an LMDB database (no data.mdb)"
