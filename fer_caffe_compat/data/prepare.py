"""``make lmdb`` in one pass: FER CSV -> image tree, index files, LMDBs and mean.binaryproto.

Gives the same files as the step-by-step route (csv_to_images, create_aux.sh, ``convert_imageset
--gray`` and compute_image_mean), without reading the images back from disk: each image is encoded,
written, and decoded from the very bytes written (cv2.imdecode of a file's bytes equals cv2.imread of
the file), and the LMDB and mean are built from those decoded pixels.
"""
from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from .. import log
from ..errors import CaffeError
from ..fsutil import atomic_path, remove, renamed, replace, with_path
from ..io.blob import write_blob_file
from ..io.db import array_to_datum, ensure_new, write_lmdb
from .convert import log_processed
from .export import class_dir, encode_params, row_name, write_labels_file
from .fer_csv import EMOTIONS, SPLITS, FerData, read_fer_csv
from .index import write_index
from .mean import MeanAccumulator, log_mean
from .progress import bar

_CHUNK = 512


@dataclass
class Timings:
    """Seconds and image counts per step, for ``make bench-data``."""

    steps: list[tuple[str, float, int]] = field(default_factory=list)

    def add(self, name: str, t0: float, n: int) -> float:
        now = time.perf_counter()
        self.steps.append((name, now - t0, n))
        return now


def _chunked(fn: Callable[[int, int], None], n: int, pbar) -> None:
    """Run ``fn(lo, hi)`` over chunks of range(n) on two threads (OpenCV and file I/O drop the GIL)."""
    def run(lo: int) -> None:
        hi = min(n, lo + _CHUNK)
        fn(lo, hi)
        pbar.update(hi - lo)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, range(0, n, _CHUNK)))


def export_fer_images(data: FerData, images_dir: Path, *, fmt: str = "jpg", quality: int = 95,
                      splits: Sequence[str] = SPLITS, class_names: Sequence[str] | None = None,
                      progress: bool = True, timings: Timings | None = None
                      ) -> dict[str, tuple[list[tuple[str, int]], np.ndarray]]:
    """Write ``images_dir/<split>/<class>/<NNNNN>.<fmt>`` (atomically, as one tree) for the splits that have
    rows. Returns per split the index entries (path relative to the split folder, label) in CSV order
    and the pixels (N, 1, H, W) that reading the written files back gives."""
    ext, params = encode_params(fmt, quality)
    out: dict[str, tuple[list[tuple[str, int]], np.ndarray]] = {}
    t = time.perf_counter()
    with atomic_path(images_dir) as tmp_images:
        tmp_images.mkdir(parents=True)
        write_labels_file(tmp_images, class_names)
        for split in [s for s in splits if len(data.split(s))]:
            rows = data.split(split)
            labels = data.labels[rows]
            rel = [f"{class_dir(int(lab), class_names)}/{row_name(int(r), ext)}" for r, lab in zip(rows, labels)]
            base = f"{tmp_images / split}{os.sep}"
            for d in sorted({r.split('/')[0] for r in rel}):
                os.makedirs(base + d)
            pixels = np.empty((len(rows), 1) + data.images.shape[1:], np.uint8)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC

            def work(lo: int, hi: int) -> None:
                for i in range(lo, hi):
                    ok, buf = cv2.imencode(ext, data.images[rows[i]], params)
                    if not ok:
                        raise CaffeError(f"OpenCV could not encode row {rows[i]} as {fmt}")
                    try:
                        fd = os.open(base + rel[i], flags, 0o666)  # the umask decides, as for any file
                        try:
                            view = memoryview(buf)
                            while view:  # a write may be short (a disk that fills up)
                                view = view[os.write(fd, view):]
                        finally:
                            os.close(fd)
                    except OSError as e:
                        raise with_path(e, images_dir / split / rel[i]) from None
                    # what convert_imageset --gray stores: cv::imread(file, IMREAD_GRAYSCALE)
                    pixels[i, 0] = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)

            with bar(progress=progress, total=len(rows), desc=f"images {split}", unit="img") as pbar:
                _chunked(work, len(rows), pbar)
            out[split] = (list(zip(rel, labels.tolist())), pixels)
            if timings:
                t = timings.add(f"images {split}", t, len(rows))
    return out


def prepare_fer(csv: str | os.PathLike, out_dir: str | os.PathLike, *, fmt: str = "jpg", quality: int = 95,
                splits: Sequence[str] = SPLITS, class_names: Sequence[str] | None = None,
                overwrite: bool = False, progress: bool = True) -> Timings:
    """Write ``out_dir``/images/<split>/<class>/<NNNNN>.<fmt>, <split>.txt, <split>_lmdb (splits with rows)
    and mean.binaryproto (of train_lmdb). Existing outputs are refused unless ``overwrite``.

    Everything is built in a hidden folder inside ``out_dir`` and moved into place once complete, so a
    failure (bad input, a full disk, Ctrl-C) leaves ``out_dir`` as it was: no half-built image tree or LMDB,
    and no ``out_dir`` at all when this run created it.
    """
    out = Path(out_dir)
    encode_params(fmt, quality)
    timings = Timings()
    outputs = [out / "images", out / "mean.binaryproto"] + [out / f"{s}_lmdb" for s in SPLITS] + \
              [out / f"{s}.txt" for s in SPLITS]
    for p in outputs:
        ensure_new(p, overwrite)
    t = time.perf_counter()
    data = read_fer_csv(csv, n_classes=len(class_names) if class_names else len(EMOTIONS), progress=progress)
    timings.add("parse csv", t, len(data.labels))
    created = _make_dirs(out)
    _remove_stale_stages(out)
    stage = out / f"{_STAGE}{os.getpid()}"
    try:
        stage.mkdir()
        built = _build(data, out, stage, fmt, quality, splits, class_names, progress, timings)
        for name in built:
            replace(stage / name, out / name)
        for p in outputs:  # outputs of an earlier run (--overwrite) that the new image tree does not match
            if p.name not in built:
                remove(p)
    except BaseException as e:
        remove(stage)
        for d in created:
            with contextlib.suppress(OSError):
                d.rmdir()
        if isinstance(e, OSError):
            raise renamed(e, stage, out) from None  # the path the user knows, not the build folder's
        raise
    remove(stage)
    return timings


_STAGE = ".make_lmdb.tmp"


def _build(data: FerData, out: Path, stage: Path, fmt: str, quality: int, splits: Sequence[str],
           class_names: Sequence[str] | None, progress: bool, timings: Timings) -> list[str]:
    """Write every output into ``stage`` (logging their final paths in ``out``); returns their names."""
    exported = export_fer_images(data, stage / "images", fmt=fmt, quality=quality, splits=splits,
                                 class_names=class_names, progress=progress, timings=timings)
    built = ["images"]
    t = time.perf_counter()
    for split, (entries, pixels) in exported.items():
        write_index(stage / f"{split}.txt", entries)
        built.append(f"{split}.txt")
        t = timings.add(f"index {split}", t, len(entries))

        def records(entries=entries, pixels=pixels, split=split):
            for i, (rel, lab) in enumerate(bar(entries, progress=progress, desc=f"{split}_lmdb", unit="img")):
                yield f"{i:08d}_{rel}".encode(), array_to_datum(pixels[i], lab).SerializeToString()

        log.info("db_lmdb.cpp:35", f"Opened lmdb {out / f'{split}_lmdb'}")
        n = write_lmdb(stage / f"{split}_lmdb", records(), on_commit=log_processed)
        built.append(f"{split}_lmdb")
        t = timings.add(f"lmdb {split}", t, n)
    if "train" in exported:
        acc = MeanAccumulator()
        acc.add(exported["train"][1])
        mean = acc.mean()
        write_blob_file(stage / "mean.binaryproto", mean[None], legacy_4d=True)
        built.append("mean.binaryproto")
        log_mean(mean, str(out / "mean.binaryproto"))
        timings.add("mean", t, acc.count)
    return built


def _make_dirs(path: Path) -> list[Path]:
    """mkdir -p ``path``; returns the folders it created, deepest first."""
    created = []
    p = path
    while not p.exists() and p != p.parent:
        created.append(p)
        p = p.parent
    path.mkdir(parents=True, exist_ok=True)
    return created


def _remove_stale_stages(out: Path) -> None:
    """The hidden build folders of earlier runs that were killed (their process is gone)."""
    for stage in out.glob(f"{_STAGE}*"):
        pid = stage.name[len(_STAGE):]
        if pid.isdigit() and not _alive(int(pid)):
            remove(stage)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
