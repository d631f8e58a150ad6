"""FER2013 CSV files (``emotion,pixels,Usage``; .csv or .csv.gz): parsing and validation.

Rows are parsed in blocks with numpy (a 35,887-row file is 300 MB of text); a block that does not
have the canonical layout is re-read line by line, which either parses it or names the first bad
line (``fer2013.csv:17: expected 2304 pixels, found 2303``).
"""
from __future__ import annotations

import gzip
import os
import queue
import threading
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..errors import CaffeError
from ..fsutil import write_bytes_atomic
from .progress import bar

EMOTIONS = ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")
USAGES = ("Training", "PublicTest", "PrivateTest")
SPLITS = ("train", "val", "test")  # where each Usage goes
SIDE = 48
HEADERS = {("emotion", "pixels", "usage"): 3, ("emotion", "pixels"): 2}
_BLOCK = 8 << 20
_USAGE_CODE = {u.encode(): i for i, u in enumerate(USAGES)}


@dataclass
class FerData:
    """A parsed FER CSV: ``images`` uint8 (N, side, side), ``labels`` int64 (N,), ``usage`` int8 (N,)
    indexing USAGES. Index i is the 0-based data row (file line i + 2)."""

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray

    def split(self, name: str) -> np.ndarray:
        """Row indices of a split (train, val, test) in CSV order."""
        return np.flatnonzero(self.usage == SPLITS.index(name))


def _raw_chunks(path: str, tick: Callable[[int], object]) -> Iterator[bytes]:
    """The file's bytes in chunks; gzip (detected by its magic bytes) is inflated on a thread so that
    decompression overlaps the parsing. ``tick(n)`` reports n more bytes of the file consumed."""
    try:
        f = open(path, "rb")
    except OSError as e:
        raise CaffeError(f"{path}: cannot read: {e.strerror}") from None
    with f:
        head = f.read(2)
        f.seek(0)
        if head != b"\x1f\x8b":
            while chunk := f.read(_BLOCK):
                tick(len(chunk))
                yield chunk
            return
        q: queue.Queue = queue.Queue(maxsize=8)
        stop = threading.Event()

        def put(item) -> None:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return
                except queue.Full:
                    continue

        def inflate() -> None:
            d = zlib.decompressobj(31)
            try:
                while not stop.is_set() and (raw := f.read(1 << 20)):
                    put((d.decompress(raw), len(raw)))
                    while d.eof and d.unused_data:  # concatenated gzip members
                        rest = d.unused_data
                        d = zlib.decompressobj(31)
                        put((d.decompress(rest), 0))
                if not d.eof and not stop.is_set():
                    raise zlib.error("truncated gzip stream")
                put(None)
            except zlib.error as e:
                put(CaffeError(f"{path}: corrupt gzip data ({e})"))
            except (OSError, ValueError) as e:
                put(CaffeError(f"{path}: cannot read: {e}"))

        t = threading.Thread(target=inflate, daemon=True)
        t.start()
        try:
            while (item := q.get()) is not None:
                if isinstance(item, Exception):
                    raise item
                tick(item[1])
                yield item[0]
        finally:
            stop.set()
            t.join()


def _line_blocks(path: str, tick: Callable[[int], object]) -> Iterator[bytes]:
    """Blocks of complete lines (each ending in newline)."""
    rest = b""
    pending: list[bytes] = []
    size = 0
    for chunk in _raw_chunks(path, tick):
        pending.append(chunk)
        size += len(chunk)
        if size < _BLOCK:
            continue
        data = rest + b"".join(pending)
        pending, size = [], 0
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
            rest = data[cut:]
        else:
            rest = data
    data = rest + b"".join(pending)
    if data:
        yield data if data.endswith(b"\n") else data + b"\n"


def _check_header(path: str, line: bytes) -> int:
    names = tuple(c.strip().strip('"').lower() for c in line.decode("utf-8", "replace").strip().split(","))
    if names not in HEADERS:
        shown = line.decode("utf-8", "replace").strip()[:60]
        raise CaffeError(f"{path}:1: expected the header 'emotion,pixels,Usage', found {shown!r}")
    return HEADERS[names]


def _parse_fast(block: bytes, ncols: int, side: int, n_classes: int):
    """Vectorised parse of a block in the canonical layout; None when anything is irregular."""
    npix = side * side
    a = np.frombuffer(block, np.uint8)
    nl = np.flatnonzero(a == 10)
    rows = len(nl)
    starts = np.empty(rows, np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl - (a[nl - 1] == 13)  # strip \r
    commas = np.flatnonzero(a == 44)
    if len(commas) != rows * (ncols - 1):
        return None
    commas = commas.reshape(rows, ncols - 1)
    c1 = commas[:, 0]
    c2 = commas[:, 1] if ncols == 3 else ends
    if np.any(c1 != starts + 1) or np.any(c2 >= ends + (ncols == 2)) or np.any(c2 <= c1):
        return None
    sp = np.flatnonzero(a == 32)
    if len(sp) != rows * (npix - 1):
        return None
    sp = sp.reshape(rows, npix - 1)
    if np.any(sp[:, 0] <= c1 + 1) or np.any(sp[:, -1] >= c2 - 1):
        return None
    tok_end = np.empty((rows, npix), np.int64)
    tok_end[:, :-1] = sp - 1
    tok_end[:, -1] = c2 - 1
    tok_start = np.empty((rows, npix), np.int64)
    tok_start[:, 0] = c1 + 1
    tok_start[:, 1:] = sp + 1
    ln = tok_end - tok_start  # digits - 1
    if ln.min() < 0 or ln.max() > 2:
        return None
    d = a - np.uint8(48)  # digits become 0..9, everything else > 9
    d0 = d[tok_end]
    d1 = d[tok_end - 1]
    d2 = d[tok_end - 2]
    if d0.max() > 9 or np.any((d1 > 9) & (ln >= 1)) or np.any((d2 > 9) & (ln >= 2)):
        return None
    v = d0.astype(np.uint16)
    v += (ln >= 1) * d1.astype(np.uint16) * 10
    v += (ln >= 2) * d2.astype(np.uint16) * 100
    if v.max() > 255:
        return None
    labels = d[starts].astype(np.int64)
    if labels.max() >= n_classes:
        return None
    if ncols == 3:
        usage = np.empty(rows, np.int8)
        for i in range(rows):
            code = _USAGE_CODE.get(block[c2[i] + 1:ends[i]], -1)
            if code < 0:
                return None
            usage[i] = code
    else:
        usage = np.zeros(rows, np.int8)
    return v.astype(np.uint8).reshape(rows, side, side), labels, usage


def _parse_slow(path: str, block: bytes, first_line: int, ncols: int, side: int, n_classes: int):
    """Line-by-line parse of a block, raising a CaffeError that names the first bad line."""
    npix = side * side
    images, labels, usage = [], [], []
    for i, raw in enumerate(block.split(b"\n")[:-1]):
        where = f"{path}:{first_line + i}"
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line.strip():
            continue
        fields = [f.strip().strip('"') for f in line.split(",")]
        if len(fields) != ncols:
            raise CaffeError(f"{where}: expected {ncols} comma-separated fields, found {len(fields)}")
        try:
            emotion = int(fields[0])
        except ValueError:
            raise CaffeError(f"{where}: emotion {fields[0]!r} is not an integer") from None
        if not 0 <= emotion < n_classes:
            raise CaffeError(f"{where}: unknown emotion {emotion} (expected 0..{n_classes - 1})")
        toks = fields[1].split()
        if len(toks) != npix:
            raise CaffeError(f"{where}: expected {npix} pixels, found {len(toks)}")
        try:
            px = np.array([int(t) for t in toks], np.int64)
        except ValueError:
            bad = next(t for t in toks if not t.lstrip("+-").isdigit())
            raise CaffeError(f"{where}: pixel {toks.index(bad) + 1} is not an integer: {bad!r}") from None
        out = np.flatnonzero((px < 0) | (px > 255))
        if len(out):
            raise CaffeError(f"{where}: pixel {out[0] + 1} is out of range 0..255: {px[out[0]]}")
        code = 0
        if ncols == 3:
            if fields[2] not in USAGES:
                raise CaffeError(f"{where}: unknown Usage {fields[2]!r} (expected {', '.join(USAGES)})")
            code = USAGES.index(fields[2])
        images.append(px.astype(np.uint8).reshape(side, side))
        labels.append(emotion)
        usage.append(code)
    if not images:
        return (np.zeros((0, side, side), np.uint8), np.zeros(0, np.int64), np.zeros(0, np.int8))
    return np.stack(images), np.array(labels, np.int64), np.array(usage, np.int8)


def read_fer_csv(path: str | os.PathLike, n_classes: int = len(EMOTIONS), side: int = SIDE,
                 progress: bool = True) -> FerData:
    """Read and validate a FER CSV (plain or gzip). Every problem is a CaffeError naming file:line."""
    path = os.fspath(path)
    parts = []
    line_no = 1
    ncols = 0
    total = os.path.getsize(path) if os.path.isfile(path) else None
    with bar(progress=progress, total=total, desc=f"read {os.path.basename(path)}", unit="B",
             unit_scale=True) as pbar:
        for block in _line_blocks(path, pbar.update):
            if not ncols:
                head, _, block = block.partition(b"\n")
                ncols = _check_header(path, head.removeprefix(b"\xef\xbb\xbf"))  # Excel's UTF-8 BOM
                line_no = 2
                if not block:
                    continue
            n_lines = block.count(b"\n")
            got = _parse_fast(block, ncols, side, n_classes) if b'"' not in block else None
            if got is None:
                got = _parse_slow(path, block, line_no, ncols, side, n_classes)
            parts.append(got)
            line_no += n_lines
    if not ncols:
        raise CaffeError(f"{path}: empty file (expected the header 'emotion,pixels,Usage')")
    if not parts or sum(len(p[1]) for p in parts) == 0:
        raise CaffeError(f"{path}: no data rows after the header")
    return FerData(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                   np.concatenate([p[2] for p in parts]))


def write_fer_csv(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray, usage: np.ndarray,
                  compress: bool | None = None) -> None:
    """Write a FER-format CSV (gzip when ``path`` ends in .gz), atomically."""
    lines = ["emotion,pixels,Usage"]
    flat = images.reshape(len(images), -1)
    for img, lab, u in zip(flat, labels, usage):
        lines.append(f"{int(lab)},{' '.join(map(str, img.tolist()))},{USAGES[int(u)]}")
    data = ("\n".join(lines) + "\n").encode()
    if compress if compress is not None else os.fspath(path).endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    write_bytes_atomic(path, data)
