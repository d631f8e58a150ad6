"""compute_image_mean: the per-pixel mean of an LMDB's Datums, as tools/compute_image_mean.cpp."""
from __future__ import annotations

import os

import numpy as np

from .. import log
from ..errors import CaffeError
from ..io.blob import write_blob_file
from ..io.db import count_records, datum_to_array, iter_records, parse_datum
from .progress import bar

SRC = "compute_image_mean.cpp"
_EXACT_LIMIT = 1 << 24  # float32 holds every integer below 2**24 exactly


class MeanAccumulator:
    """Caffe's float32 running sum ``sum_blob.data(i) += value``, record by record.

    Sums of uint8 records are kept in int64 while they stay below 2**24, where Caffe's float32
    additions are exact, so bulk adds give the same bits as Caffe's sequential loop.
    """

    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = None
        self.count = 0
        self._int: np.ndarray | None = None
        self._float: np.ndarray | None = None

    def add(self, batch: np.ndarray, where: str = "record") -> None:
        """Add records of shape (N, C, H, W), uint8 or float32."""
        if self.shape is None:
            self.shape = batch.shape[1:]
            self._int = np.zeros(self.shape, np.int64)
            self._float = np.zeros(self.shape, np.float32)
        elif batch.shape[1:] != self.shape:
            raise CaffeError(f"{where}: Datum of shape {list(batch.shape[1:])}, but the first record "
                             f"had {list(self.shape)} (Incorrect data field size)")
        if batch.dtype == np.uint8 and self._int.max(initial=0) + 255 * len(batch) < _EXACT_LIMIT:
            self._int += batch.sum(0, dtype=np.int64)
        else:
            self._spill()
            for rec in batch:
                self._float += rec.astype(np.float32)
        self.count += len(batch)

    def _spill(self) -> None:
        self._float += self._int.astype(np.float32)
        self._int[...] = 0

    def mean(self) -> np.ndarray:
        """The mean as float32 CHW: float sum / count, as Caffe divides."""
        self._spill()
        return self._float / np.float32(self.count)


def channel_means(mean: np.ndarray) -> list[float]:
    """Caffe's per-channel log values: a float32 running sum over the channel, divided by H*W."""
    c = mean.shape[0]
    flat = mean.reshape(c, -1).astype(np.float32)
    return [float(np.add.accumulate(flat[i], dtype=np.float32)[-1] / np.float32(flat.shape[1]))
            for i in range(c)]


def log_mean(mean: np.ndarray, out_file: str | None) -> None:
    if out_file:
        log.info(f"{SRC}:108", f"Write to {out_file}")
    log.info(f"{SRC}:114", f"Number of channels: {mean.shape[0]}")
    for c, m in enumerate(channel_means(mean)):
        log.info(f"{SRC}:119", f"mean_value channel [{c}]: {log.fmt(m)}")


def db_mean(db: str | os.PathLike, progress: bool = True, batch: int = 1024) -> np.ndarray:
    """The mean image (C, H, W) float32 of every record in ``db`` (raw, float or encoded Datums)."""
    total = count_records(db)
    log.info("db_lmdb.cpp:35", f"Opened lmdb {db}")
    if total == 0:
        raise CaffeError(f"{db}: the database holds no records; cannot compute a mean")
    acc = MeanAccumulator()
    log.info(f"{SRC}:70", "Starting iteration")
    pending: list[np.ndarray] = []
    pbar = bar(progress=progress, total=total, desc=f"mean {os.path.basename(os.fspath(db))}", unit="img")
    for i, (key, value) in enumerate(iter_records(db)):
        where = f"{db}: record {i} ({key.decode(errors='replace')})"
        pending.append(datum_to_array(parse_datum(value, where), where))
        if len(pending) == batch:
            _flush(acc, pending, where, pbar)
    if pending:
        _flush(acc, pending, f"{db}", pbar)
    pbar.close()
    if acc.count % 10000:
        log.info(f"{SRC}:101", f"Processed {acc.count} files.")
    return acc.mean()


def _flush(acc: MeanAccumulator, pending: list[np.ndarray], where: str, pbar) -> None:
    shapes = {a.shape for a in pending}
    dtypes = {a.dtype for a in pending}
    if len(shapes) > 1 or len(dtypes) > 1:
        for a in pending:
            acc.add(a[None], where)
    else:
        acc.add(np.stack(pending), where)
    before = acc.count - len(pending)
    for n in range(before // 10000 + 1, acc.count // 10000 + 1):
        log.info(f"{SRC}:95", f"Processed {n * 10000} files.")
    pbar.update(len(pending))
    pending.clear()


def compute_image_mean(db: str | os.PathLike, out_file: str | None = None, progress: bool = True
                       ) -> np.ndarray:
    """compute_image_mean [INPUT_DB] [OUTPUT_FILE]: the mean, written as a legacy 4-D BlobProto."""
    mean = db_mean(db, progress)
    if out_file:
        write_blob_file(out_file, mean[None], legacy_4d=True)
    log_mean(mean, out_file)
    return mean
