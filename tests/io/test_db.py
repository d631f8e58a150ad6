"""LMDB writing: round trip, batched commits, refusal of an existing DB, atomicity, Caffe's Datum bytes."""
from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.db import (array_to_datum, count_records, datum_to_array, encoded_datum, iter_records,
                                    parse_datum, write_lmdb)
from tests.conftest import FIXTURES

IMAGESET = FIXTURES / "imageset"


def _records(name: str) -> list[dict]:
    with open(IMAGESET / f"{name}_records.tsv") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_write_lmdb_round_trip_keeps_every_record_in_key_order(tmp_path):
    recs = [(f"{i:08d}_x/{i}.jpg".encode(), bytes([i % 256]) * (i + 1)) for i in range(300)]
    n = write_lmdb(tmp_path / "db", reversed(recs))
    assert n == 300
    assert count_records(tmp_path / "db") == 300
    assert list(iter_records(tmp_path / "db")) == recs


def test_write_lmdb_commits_every_1000_records_and_once_at_the_end(tmp_path):
    commits = []
    write_lmdb(tmp_path / "db", ((b"%08d" % i, b"v") for i in range(2500)), on_commit=commits.append)
    assert commits == [1000, 2000, 2500]
    commits.clear()
    write_lmdb(tmp_path / "db2", ((b"%08d" % i, b"v") for i in range(2000)), on_commit=commits.append)
    assert commits == [1000, 2000]


def test_write_lmdb_refuses_an_existing_db_unless_overwrite(tmp_path):
    write_lmdb(tmp_path / "db", [(b"a", b"1")])
    with pytest.raises(CaffeError, match=r"db: already exists"):
        write_lmdb(tmp_path / "db", [(b"b", b"2")])
    assert list(iter_records(tmp_path / "db")) == [(b"a", b"1")]
    write_lmdb(tmp_path / "db", [(b"b", b"2")], overwrite=True)
    assert list(iter_records(tmp_path / "db")) == [(b"b", b"2")]


def test_write_lmdb_failure_leaves_no_partial_db(tmp_path):
    def records():
        for i in range(1500):
            yield b"%08d" % i, b"v"
        raise CaffeError("list.txt:1501: boom")

    with pytest.raises(CaffeError, match="boom"):
        write_lmdb(tmp_path / "db", records())
    assert list(tmp_path.iterdir()) == []


def test_raw_datum_serializes_to_caffes_bytes():
    # Caffe's CVMatToDatum sets encoded=false explicitly: 2317 bytes for a 48x48 gray record
    rec = _records("gray_lmdb")[0]
    value = dict(iter_records(IMAGESET / "gray_lmdb"))[rec["key"].encode()]
    arr = datum_to_array(parse_datum(value))
    out = array_to_datum(arr, int(rec["label"])).SerializeToString()
    assert len(out) == int(rec["value_len"]) == 2317
    assert hashlib.sha256(out).hexdigest() == rec["value_sha256"]


def test_encoded_datum_serializes_to_caffes_bytes():
    rec = _records("encoded_lmdb")[0]
    path = IMAGESET / rec["key"].split("_", 1)[1]
    out = encoded_datum(path.read_bytes(), int(rec["label"])).SerializeToString()
    assert hashlib.sha256(out).hexdigest() == rec["value_sha256"]


def test_datum_to_array_decodes_encoded_records_to_the_raw_pixels():
    raw = dict(iter_records(IMAGESET / "gray_lmdb"))
    key = b"00000003_0/00003.jpg"
    enc = encoded_datum((IMAGESET / "0/00003.jpg").read_bytes(), 0)
    np.testing.assert_array_equal(datum_to_array(enc), datum_to_array(parse_datum(raw[key])))
