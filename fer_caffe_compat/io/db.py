"""LMDB environments of serialized Datum records, as Caffe's db_lmdb reads and writes them."""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator

import lmdb
import numpy as np

from ..errors import CaffeError
from ..fsutil import atomic_path
from ..proto import caffe_pb2

MAP_SIZE = 1 << 40  # Caffe's LMDB_MAP_SIZE (1 TB, sparse)
COMMIT_EVERY = 1000  # convert_imageset commits a transaction every 1000 records


_open: dict[str, list] = {}  # real path -> [lmdb.Environment, readers]
_open_lock = threading.Lock()


@contextlib.contextmanager
def reading(path: str | os.PathLike, where: str | None = None) -> Iterator[lmdb.Environment]:
    """An existing LMDB, open read-only (no lock file) while it is read. python-lmdb refuses a second open
    of one database in a process, so every reader here shares one environment (a net's prefetch threads,
    a tool reading the records while a net reads them too); the last one done closes it. ``where`` prefixes
    an error that names the database."""
    p = Path(path)
    at = f"{where}: " if where else ""
    if not (p / "data.mdb").is_file():
        raise CaffeError(f"{at}{path}: not an LMDB database (no data.mdb)")
    key = os.path.realpath(p)
    with _open_lock:
        entry = _open.get(key)
        if entry is None:
            try:
                env = lmdb.open(str(p), readonly=True, lock=False, readahead=False, subdir=True)
            except lmdb.Error as e:
                raise CaffeError(f"{at}{path}: cannot open LMDB: {e}") from None
            entry = _open[key] = [env, 0]
        entry[1] += 1
    try:
        yield entry[0]
    finally:
        with _open_lock:
            entry[1] -= 1
            if entry[1] == 0:
                del _open[key]
                entry[0].close()


def iter_records(path: str | os.PathLike) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs in key order, as Caffe's cursor visits them."""
    with reading(path) as env, env.begin(buffers=False) as txn:
        yield from txn.cursor()


def count_records(path: str | os.PathLike) -> int:
    with reading(path) as env:
        return env.stat()["entries"]


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


def array_to_datum(chw: np.ndarray, label: int) -> caffe_pb2.Datum:
    """A raw Datum from a CHW uint8 array, as CVMatToDatum + set_label build it.

    CVMatToDatum calls set_encoded(false), so the field is present (2 bytes) in Caffe's records.
    """
    c, h, w = chw.shape
    return caffe_pb2.Datum(channels=c, height=h, width=w, data=np.ascontiguousarray(chw, np.uint8).tobytes(),
                           label=int(label), encoded=False)


def encoded_datum(data: bytes, label: int) -> caffe_pb2.Datum:
    """An encoded Datum (ReadFileToDatum / imencode): image file bytes, label, encoded=true; no shape."""
    return caffe_pb2.Datum(data=data, label=int(label), encoded=True)


def ensure_new(path: str | os.PathLike, overwrite: bool = False) -> None:
    """Refuse an existing output, as Caffe's db::NEW does (mkdir fails), unless ``overwrite``."""
    if os.path.lexists(path) and not overwrite:
        raise CaffeError(f"{path}: already exists; refusing to overwrite it (use --overwrite)")


class LmdbWriter:
    """Puts into one LMDB being written (``lmdb_writer`` makes it), committing a transaction every
    ``commit_every`` records and calling ``on_commit(count)`` after each such commit."""

    def __init__(self, env: lmdb.Environment, commit_every: int, on_commit: Callable[[int], None] | None):
        self._env, self.commit_every, self.on_commit = env, commit_every, on_commit
        self._txn = env.begin(write=True)
        self.count = 0

    def put(self, key: bytes, value: bytes) -> None:
        self._txn.put(key, value)
        self.count += 1
        if self.count % self.commit_every == 0:
            self._txn.commit()
            if self.on_commit:
                self.on_commit(self.count)
            self._txn = self._env.begin(write=True)

    def finish(self) -> None:
        """Commit the last records (the end of ``lmdb_writer`` does it when the caller has not)."""
        if self._txn is not None:
            self._txn.commit()
            self._txn = None

    def abort(self) -> None:
        if self._txn is not None:
            self._txn.abort()
            self._txn = None


@contextlib.contextmanager
def lmdb_writer(path: str | os.PathLike, commit_every: int = COMMIT_EVERY,
                on_commit: Callable[[int], None] | None = None) -> Iterator[LmdbWriter]:
    """A new LMDB at ``path``, built under a temporary name and renamed when the block ends without error
    (a failure leaves nothing behind). An LMDB failure (a full disk) is an OSError naming ``path``."""
    try:
        with atomic_path(path) as tmp:
            env = lmdb.open(str(tmp), map_size=MAP_SIZE, subdir=True, meminit=False, map_async=True)
            try:
                writer = LmdbWriter(env, commit_every, on_commit)
                try:
                    yield writer
                    writer.finish()
                except BaseException:
                    writer.abort()
                    raise
                env.sync(True)
            finally:
                env.close()
    except lmdb.Error as e:
        raise lmdb_os_error(e, path) from None


def write_lmdb(path: str | os.PathLike, records: Iterable[tuple[bytes, bytes]], overwrite: bool = False,
               commit_every: int = COMMIT_EVERY, on_commit: Callable[[int], None] | None = None) -> int:
    """Write ``(key, value)`` records into a new LMDB at ``path``; returns the record count.

    Transactions are committed every ``commit_every`` records and once at the end, calling
    ``on_commit(count)`` after each commit (convert_imageset logs "Processed N files." there).
    An existing ``path`` is refused unless ``overwrite``; see ``lmdb_writer`` for the rest.
    """
    ensure_new(path, overwrite)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with lmdb_writer(path, commit_every, on_commit) as w:
        for key, value in records:
            w.put(key, value)
        w.finish()
        if w.count % commit_every and on_commit:
            on_commit(w.count)
    return w.count


def lmdb_os_error(e: lmdb.Error, path: str | os.PathLike) -> OSError:
    """py-lmdb's ``mdb_txn_commit: No space left on device`` as an OSError naming the database."""
    reason = str(e).split(": ", 1)[-1]
    code = next((n for n in range(1, 134) if os.strerror(n) == reason), None)
    return OSError(code, reason, os.fspath(path)) if code else OSError(None, f"LMDB: {e}", os.fspath(path))
