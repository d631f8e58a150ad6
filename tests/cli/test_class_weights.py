"""tools/class_weights: the H matrix of an LMDB written beside it, the table printed, one-line errors."""
from __future__ import annotations

import numpy as np
import pytest

from fer_caffe_compat.cli import class_weights
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.blob import read_blob_file
from fer_caffe_compat.io.db import array_to_datum, write_lmdb

from .tool_run import assert_one_line_error, run_tool


def _db(path, labels):
    img = np.zeros((1, 4, 4), np.uint8)
    write_lmdb(path, ((f"{i:08d}".encode(), array_to_datum(img, k).SerializeToString()) for i, k in enumerate(labels)))
    return path


def test_writes_the_balanced_h_beside_the_lmdb(tmp_path, capsys):
    db = _db(tmp_path / "train_lmdb", [0] * 4 + [1] * 2 + [2] * 2)
    assert class_weights.main(["--db", str(db), "--labels", str(_names(tmp_path))]) == 0
    out = capsys.readouterr().out
    h = read_blob_file(tmp_path / "class_weights.binaryproto")[0, 0]
    assert np.allclose(h, np.diag([8 / 12, 8 / 6, 8 / 6]))
    assert "8 records, 3 classes" in out and "  b        2  1.333333" in out


def _names(tmp_path):
    p = tmp_path / "names.txt"
    p.write_text("a\nb\nc\n")
    return p


def test_existing_output_and_missing_class_are_one_line_errors(tmp_path):
    db = _db(tmp_path / "train_lmdb", [0, 2])
    assert_one_line_error(run_tool("class_weights", "--db", db), "class_weights", "class 1 has no sample")
    (tmp_path / "h.binaryproto").write_bytes(b"")
    with pytest.raises(CaffeError, match="h.binaryproto: already exists"):
        class_weights.main(["--db", str(db), "--out", str(tmp_path / "h.binaryproto")])
    with pytest.raises(CaffeError, match="nope: no such LMDB folder"):
        class_weights.main(["--db", str(tmp_path / "nope")])
