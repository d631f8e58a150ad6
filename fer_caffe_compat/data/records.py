"""What the Data and ImageData layers read, and where their cursor is.

``LmdbRecords`` walks an LMDB of Datum records in key order and wraps around (DataLayer::Next);
``ImageList`` walks the lines of an ImageData list, reshuffled at each wrap when asked. When every
record decodes to one shape and the whole source needs at most ``data_param.cache_mb`` MiB, it is decoded
once into one array (``DecodedSource``, shared by the nets of a process that read the same source) and a
batch is an index into it; otherwise each batch is read and decoded as it is needed, and a bad record
fails in the forward that reaches it, with the same one-line error either way.
"""
from __future__ import annotations

import contextlib
import os
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import lmdb
import numpy as np

from .. import log
from ..errors import CaffeError
from ..io.db import reading

Decode = Callable[[bytes, str], tuple[np.ndarray, float]]  # a record's value -> (CHW image, label)


@dataclass
class DecodedSource:
    """Every record of a source decoded: images (N, C, H, W) uint8 (or float32), labels (N,) float32, and
    where each came from (for error messages)."""
    images: np.ndarray
    labels: np.ndarray
    wheres: list[str]


_shared: "weakref.WeakValueDictionary[tuple, DecodedSource]" = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def _decode_all(items: Iterator[tuple[str, Callable[[], tuple[np.ndarray, float]]]], n: int,
                cap_mb: int, what: str) -> DecodedSource | None:
    """Decode ``n`` records into one array; None when one fails, the shapes differ or it needs > cap_mb."""
    images = labels = None
    wheres: list[str] = []
    i = -1
    for i, (where, load) in enumerate(items):
        wheres.append(where)
        try:
            img, label = load()
        except CaffeError:
            return None  # read record by record: the error comes in the forward that reaches it
        if images is None:
            need = n * img.nbytes
            if need > cap_mb * (1 << 20):
                log.info("records.py:52", f"{what}: {need / (1 << 20):.0f} MiB decoded is over data_param "
                                          f"cache_mb {cap_mb}: reading it batch by batch")
                return None
            images = np.empty((n, *img.shape), img.dtype)
            labels = np.empty(n, np.float32)
        if img.shape != images.shape[1:] or img.dtype != images.dtype:
            return None
        images[i] = img
        labels[i] = label
    if images is None or i != n - 1:
        return None
    return DecodedSource(images, labels, wheres)


def _shared_decode(key: tuple, build: Callable[[], DecodedSource | None]) -> DecodedSource | None:
    with _shared_lock:
        src = _shared.get(key)
        if src is None:
            src = build()
            if src is not None:
                _shared[key] = src
        return src


class LmdbRecords:
    """A cursor over an LMDB that wraps around, in key order (Caffe's DataLayer::Next) or, with ``shuffle``
    (an extension), in a new order from the layer's generator at every pass; every ``stride``-th record
    of this rank when several processes share the database.

    Read record by record, the database is open only while a batch is read (a tool may open it too), and
    the cursor is the key of the next record; with the decoded copy or a shuffled order it is an index.
    ``before_move`` (the layer's prefetcher rewind) runs before a move from outside.
    """

    def __init__(self, source: str, where: str, shuffle: Callable[[int], np.ndarray] | None = None):
        self.source, self.where = source, where
        path = Path(source)
        if not (path / "data.mdb").is_file():
            raise CaffeError(f"{where}: data_param source {source}: not an LMDB database (no data.mdb)")
        with self._cursor() as cur:
            if not cur.first():
                raise CaffeError(f"{where}: data_param source {source} holds no records")
            self.next_key: bytes = cur.key()
            self.first_value: bytes = cur.value()
            self.keys = list(cur.iternext(keys=True, values=False)) if shuffle is not None else None
        log.info("db_lmdb.cpp:35", f"Opened lmdb {source}")
        self.decoded: DecodedSource | None = None
        self.pos = 0
        self.stride = 1
        self.shuffle = shuffle
        self.order = shuffle(len(self.keys)) if shuffle is not None else None
        self.before_move: Callable[[], None] | None = None

    def _env(self):
        """The database, open while it is read (shared with every other reader of the process: io/db)."""
        return reading(self.source, self.where)

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[lmdb.Cursor]:
        with self._env() as env, env.begin(buffers=False) as txn:
            yield txn.cursor()

    def record_where(self, key: bytes) -> str:
        return f"{self.source}: record {key.decode(errors='replace')}"

    # -- the decoded copy ---------------------------------------------------------------------
    def decode_all(self, decode: Decode, cap_mb: int, key: tuple) -> bool:
        """Decode every record once (before any move), if they fit in ``cap_mb`` MiB; True when done."""
        if cap_mb <= 0:
            return False
        st = os.stat(Path(self.source) / "data.mdb")
        cache_key = (os.path.realpath(self.source), st.st_mtime_ns, st.st_size, key)

        def build() -> DecodedSource | None:
            with self._env() as env, env.begin(buffers=False) as txn:
                n = env.stat()["entries"]
                items = ((self.record_where(k), lambda k=k, v=v: decode(v, self.record_where(k)))
                         for k, v in txn.cursor())
                return _decode_all(items, n, cap_mb, f"{self.where}: {self.source}")
        self.decoded = _shared_decode(cache_key, build)
        return self.decoded is not None

    # -- moving -------------------------------------------------------------------------------
    def state(self):
        return self.pos, self.next_key, self.order

    def set_state(self, state) -> None:
        self.pos, self.next_key, self.order = state

    def take(self, n: int) -> None:
        """Move the cursor past the next ``n`` records (of this rank), as reading them would."""
        if self.before_move is not None:
            self.before_move()
        self._log_wraps(self._walk(n * self.stride, keep=False)[1])

    def shard(self, rank: int, world: int) -> None:
        """Caffe's DataLayer::Skip for several solvers: rank r reads records r, r + W, r + 2W, ..."""
        if self.before_move is not None:
            self.before_move()
        if rank:
            self._log_wraps(self._walk(rank, keep=False)[1])
        self.stride = world

    @staticmethod
    def _log_wraps(wraps: int) -> None:
        for _ in range(wraps):
            log.info("data_layer.cpp:73", "Restarting data prefetching from start.")

    def read(self, n: int) -> tuple[np.ndarray | list[tuple[bytes, bytes]], int]:
        """The next ``n`` records of this rank and how often the cursor wrapped: indices into the decoded
        copy, or (key, value) pairs read from the database."""
        got, wraps = self._walk(n * self.stride, keep=True)
        return got[::self.stride], wraps

    def _walk(self, n: int, keep: bool) -> tuple:
        if self.decoded is None and self.order is None:
            return self._read_stream(n, keep)
        size = len(self.keys) if self.order is not None else len(self.decoded.labels)
        parts, wraps = [], 0
        while n:
            k = min(n, size - self.pos)
            idx = np.arange(self.pos, self.pos + k)
            parts.append(idx if self.order is None else self.order[idx])
            self.pos += k
            n -= k
            if self.pos == size:
                self.pos, wraps = 0, wraps + 1
                if self.order is not None:
                    self.order = self.shuffle(size)
        idx = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        if keep and self.decoded is None:  # shuffled, read record by record
            with self._env() as env, env.begin(buffers=False) as txn:
                return [(self.keys[i], txn.get(self.keys[i])) for i in idx], wraps
        return idx, wraps

    def _read_stream(self, n: int, keep: bool) -> tuple[list[tuple[bytes, bytes]], int]:
        out, wraps = [], 0
        with self._cursor() as cur:
            if not cur.set_range(self.next_key):
                cur.first()
            for _ in range(n):
                if keep:
                    out.append((cur.key(), cur.value()))
                if not cur.next():
                    wraps += 1
                    cur.first()
            self.next_key = cur.key()
        return out, wraps


class ImageList:
    """ImageData's list: (path, label) lines in order, or reshuffled from the layer's generator at each wrap."""

    def __init__(self, lines: list[tuple[str, int]], shuffle: Callable[[int], np.ndarray] | None):
        self.lines = lines
        self.order = np.arange(len(lines))
        self.shuffle = shuffle
        self.pos = 0
        self.decoded: DecodedSource | None = None

    def reshuffle(self) -> None:
        if self.shuffle is not None:
            self.order = self.order[self.shuffle(len(self.lines))]

    def state(self) -> tuple[int, np.ndarray]:
        return self.pos, self.order

    def set_state(self, state: tuple[int, np.ndarray]) -> None:
        self.pos, self.order = state

    def decode_all(self, load: Callable[[int], tuple[np.ndarray, float]], where: Callable[[int], str],
                   cap_mb: int, key: tuple) -> bool:
        if cap_mb <= 0:
            return False
        items = ((where(i), lambda i=i: load(i)) for i in range(len(self.lines)))
        self.decoded = _shared_decode(key, lambda: _decode_all(items, len(self.lines), cap_mb, key[0]))
        return self.decoded is not None

    def segments(self, n: int) -> Iterator[np.ndarray]:
        """The line indices of the next ``n`` items, one array per stretch between reshuffles; the
        reshuffle happens when the caller asks for the next stretch, as ImageDataLayer does at the wrap."""
        while n:
            k = min(n, len(self.lines) - self.pos)
            yield self.order[self.pos:self.pos + k]
            self.pos += k
            n -= k
            if self.pos >= len(self.lines):  # Caffe's restart message here is a DLOG: silent in release
                self.pos = 0
                self.reshuffle()
