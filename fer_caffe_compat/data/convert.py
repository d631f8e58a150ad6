"""convert_imageset: a list of (image path, label) lines into an LMDB of serialized Datum.

Follows tools/convert_imageset.cpp and ReadImageToDatum of Caffe 1.0: keys ``%08d_<path>`` (line
number after an optional shuffle), raw records CHW uint8 (BGR for colour), ``--encoded`` records
with the file's own bytes when its extension is the encoding, commits every 1000 records.
Where Caffe only logs and skips an unreadable image, this fails (the whole DB is then not written).
"""
from __future__ import annotations

import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import cv2

from .. import log
from ..errors import CaffeError
from ..io.db import array_to_datum, encoded_datum, ensure_new, write_lmdb
from .image import hwc_to_chw, read_image
from .progress import bar

SRC = "convert_imageset.cpp"


@dataclass(frozen=True)
class ListLine:
    lineno: int  # 1-based line in the list file
    path: str  # as written in the list (relative to ROOT)
    label: int


def read_list(listfile: str | os.PathLike) -> list[ListLine]:
    """Parse a list file: ``path label`` per line; the label follows the last space (as Caffe's
    find_last_of(' ')), so paths may hold spaces. Blank lines are skipped."""
    try:
        with open(listfile, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise CaffeError(f"{listfile}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise CaffeError(f"{listfile}: not a text list file (not UTF-8)") from None
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        path, sep, label = line.rpartition(" ")
        if not sep or not path:
            raise CaffeError(f"{listfile}:{n}: expected 'path label', found no label in {line!r}")
        try:
            out.append(ListLine(n, path, int(label)))
        except ValueError:
            raise CaffeError(f"{listfile}:{n}: label {label!r} is not an integer") from None
    return out


def match_ext(filename: str, encoding: str) -> bool:
    """Caffe's matchExt: the file's extension equals the encoding (case-insensitive; jpeg counts as jpg)."""
    ext = filename.rsplit(".", 1)[-1].lower()
    enc = encoding.lower()
    return ext == enc or (enc == "jpg" and ext == "jpeg")


def image_to_datum_bytes(root: str, item: ListLine, listfile: str, is_color: bool, resize_h: int,
                         resize_w: int, encoding: str, check_decode: bool = False) -> tuple[bytes, int]:
    """ReadImageToDatum for one list line: the serialized Datum and its pixel count (c*h*w)."""
    full = root + item.path  # Caffe concatenates ROOT and the path as strings
    try:
        img = read_image(full, is_color, resize_h, resize_w, check_decode)
    except CaffeError as e:
        raise CaffeError(f"{listfile}:{item.lineno}: {e}") from None
    if encoding:
        if ((img.ndim == 3) == is_color and not resize_h and not resize_w
                and match_ext(item.path, encoding)):
            with open(full, "rb") as f:
                return encoded_datum(f.read(), item.label).SerializeToString(), img.size
        ok, buf = cv2.imencode("." + encoding, img)
        if not ok:
            raise CaffeError(f"{listfile}:{item.lineno}: cannot encode {full} as {encoding!r}")
        return encoded_datum(buf.tobytes(), item.label).SerializeToString(), img.size
    return array_to_datum(hwc_to_chw(img), item.label).SerializeToString(), img.size


def log_processed(count: int) -> None:
    """convert_imageset's line after each commit: in the loop every 1000 records, then the last batch."""
    log.info(f"{SRC}:{147 if count % 1000 == 0 else 153}", f"Processed {count} files.")


def convert_imageset(root: str, listfile: str, db_name: str, *, gray: bool = False, shuffle: bool = False,
                     resize_height: int = 0, resize_width: int = 0, check_size: bool = False,
                     encoded: bool = False, encode_type: str = "", overwrite: bool = False,
                     seed: int | None = None, progress: bool = True, check_decode: bool = False) -> int:
    """Build ``db_name`` from ``listfile``; returns the number of records written. ``check_decode``
    refuses an image that decodes only partly (by default a warning names it)."""
    ensure_new(db_name, overwrite)
    lines = read_list(listfile)
    if not lines:
        raise CaffeError(f"{listfile}: no 'path label' lines: nothing to convert (Caffe would write an empty "
                         f"database)")
    if shuffle:
        log.info(f"{SRC}:86", "Shuffling data")
        random.Random(seed).shuffle(lines)  # Caffe seeds from /dev/urandom: the order is not reproducible
    log.info(f"{SRC}:89", f"A total of {len(lines)} images.")
    if encode_type and not encoded:
        log.info(f"{SRC}:92", "encode_type specified, assuming encoded=true.")
    resize_h, resize_w = max(0, resize_height), max(0, resize_width)
    is_color = not gray

    def encoding_of(path: str) -> str:
        if encoded and not encode_type:
            if "." not in path:
                log.warning(f"{SRC}:120", f"Failed to guess the encoding of '{path}'")
            return path.rsplit(".", 1)[-1].lower()
        return encode_type

    def one(item: ListLine) -> tuple[bytes, int]:
        return image_to_datum_bytes(root, item, listfile, is_color, resize_h, resize_w,
                                    encoding_of(item.path), check_decode)

    def records() -> Iterator[tuple[bytes, bytes]]:
        size = None
        with ThreadPoolExecutor(max_workers=2) as pool:  # OpenCV decodes without the GIL
            values = pool.map(one, lines)
            for line_id, (item, (value, n)) in enumerate(
                    bar(zip(lines, values), progress=progress, total=len(lines),
                        desc=os.path.basename(db_name), unit="img")):
                if check_size:
                    if size is None:
                        size = n
                    elif n != size:
                        raise CaffeError(f"{listfile}:{item.lineno}: {item.path}: {n} values, but the first "
                                         f"image had {size} (--check_size)")
                yield f"{line_id:08d}_{item.path}".encode(), value

    log.info("db_lmdb.cpp:35", f"Opened lmdb {db_name}")
    return write_lmdb(db_name, records(), overwrite=overwrite, on_commit=log_processed)
