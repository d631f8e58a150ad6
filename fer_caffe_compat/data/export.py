"""Writing images into the Caffe image-tree layout ``<split>/<class>/<NNNNN>.<ext>``."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
from tqdm import tqdm

from .. import log
from ..errors import CaffeError
from ..fsutil import write_text_atomic

FORMATS = ("jpg", "png")
LABELS_FILE = "labels.txt"  # class names, one per line, line i = label i (written when folders are names)


def encode_params(fmt: str, quality: int) -> tuple[str, list[int]]:
    if fmt not in FORMATS:
        raise CaffeError(f"unknown image format {fmt!r} (expected one of {', '.join(FORMATS)})")
    if fmt == "jpg":
        if not 1 <= quality <= 100:
            raise CaffeError(f"JPEG quality {quality} is out of range 1..100")
        return ".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    return ".png", [cv2.IMWRITE_PNG_COMPRESSION, 3]  # lossless at any level


def class_dir(label: int, class_names: Sequence[str] | None) -> str:
    return class_names[label] if class_names else str(label)


def row_name(row: int, ext: str) -> str:
    return f"{row:05d}{ext}"


def encode_images(images: np.ndarray, fmt: str = "jpg", quality: int = 95, progress: bool = True,
                  desc: str = "encode") -> list[bytes]:
    """Encode HW or HWC (BGR) uint8 images with OpenCV, on two threads (imencode drops the GIL)."""
    ext, params = encode_params(fmt, quality)

    def enc(img: np.ndarray) -> bytes:
        ok, buf = cv2.imencode(ext, img, params)
        if not ok:
            raise CaffeError(f"OpenCV could not encode an image as {fmt}")
        return buf.tobytes()

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(tqdm(pool.map(enc, images),
                         total=len(images), desc=desc, unit="img", leave=False,
                         disable=not progress or log.quiet))


def write_files(root: Path, relpaths: Sequence[str], blobs: Sequence[bytes], progress: bool = True,
                desc: str = "write") -> None:
    """Write ``blobs[i]`` to ``root/relpaths[i]`` (``root`` is a fresh temporary tree)."""
    for d in sorted({os.path.dirname(r) for r in relpaths}):
        (root / d).mkdir(parents=True, exist_ok=True)

    def write(i: int) -> None:
        with open(root / relpaths[i], "wb") as f:
            f.write(blobs[i])

    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in tqdm(pool.map(write, range(len(relpaths))), total=len(relpaths), desc=desc, unit="file",
                      leave=False, disable=not progress or log.quiet):
            pass


def write_labels_file(root: Path, class_names: Sequence[str] | None) -> None:
    if class_names:
        write_text_atomic(root / LABELS_FILE, "".join(f"{n}\n" for n in class_names))
