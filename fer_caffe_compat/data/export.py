"""Writing images into the Caffe image-tree layout ``<split>/<class>/<NNNNN>.<ext>``."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2

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


def write_labels_file(root: Path, class_names: Sequence[str] | None) -> None:
    if class_names:
        write_text_atomic(root / LABELS_FILE, "".join(f"{n}\n" for n in class_names))
