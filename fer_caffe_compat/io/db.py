"""LMDB environments of serialized Datum records, as Caffe's db_lmdb reads and writes them."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import lmdb
import numpy as np

from ..errors import CaffeError
from ..proto import caffe_pb2

MAP_SIZE = 1 << 40  # Caffe's LMDB_MAP_SIZE (1 TB, sparse)


def open_read(path: str | os.PathLike) -> lmdb.Environment:
    """Open an existing LMDB read-only (no lock file needed)."""
    p = Path(path)
    if not (p / "data.mdb").is_file():
        raise CaffeError(f"{path}: not an LMDB database (no data.mdb)")
    try:
        return lmdb.open(str(p), readonly=True, lock=False, readahead=False, max_readers=1, subdir=True)
    except lmdb.Error as e:
        raise CaffeError(f"{path}: cannot open LMDB: {e}") from None


def iter_records(path: str | os.PathLike) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs in key order, as Caffe's cursor visits them."""
    env = open_read(path)
    try:
        with env.begin(buffers=False) as txn:
            yield from txn.cursor()
    finally:
        env.close()


def count_records(path: str | os.PathLike) -> int:
    env = open_read(path)
    try:
        return env.stat()["entries"]
    finally:
        env.close()


def parse_datum(value: bytes, where: str = "record") -> caffe_pb2.Datum:
    d = caffe_pb2.Datum()
    try:
        d.ParseFromString(value)
    except Exception:
        raise CaffeError(f"{where}: not a serialized Datum") from None
    return d


def datum_to_array(d: caffe_pb2.Datum, where: str = "record") -> np.ndarray:
    """A raw (not encoded) Datum as a CHW array: uint8 from ``data``, float32 from ``float_data``."""
    shape = (d.channels, d.height, d.width)
    if d.encoded:
        from ..data.image import decode_datum  # encoded records need an image decoder
        return decode_datum(d, where)
    if d.data:
        a = np.frombuffer(d.data, dtype=np.uint8)
    else:
        a = np.asarray(d.float_data, dtype=np.float32)
    if a.size != shape[0] * shape[1] * shape[2]:
        raise CaffeError(f"{where}: Datum holds {a.size} values, but {shape} needs {np.prod(shape)}")
    return a.reshape(shape)
