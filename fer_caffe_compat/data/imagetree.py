"""The two other shapes a FER dataset comes in, turned into the same image tree as the CSV:

* a tree of class folders (``root/<class>/*.jpg``, or ``root/<split>/<class>/*.jpg`` with split
  folders train/val/test);
* a label CSV of (image path, emotion name), as the LFW-based facial_expressions set's legend.csv
  (``user.id,image,emotion``; 8 classes, colour, 350x350).
"""
from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2

from ..errors import CaffeError
from ..fsutil import atomic_path
from .export import class_dir, encode_params, write_labels_file
from .fer_csv import SPLITS
from .image import read_image
from .index import IMAGE_EXTS
from .progress import bar

FACIAL_EXPRESSIONS = ("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")


@dataclass(frozen=True)
class Item:
    source: Path  # the image file to read
    label: int
    split: str
    name: str  # output file name without extension


def assign_split(key: str, val_fraction: float, test_fraction: float) -> str:
    """A split from a hash of ``key``: deterministic, and stable when other files come or go."""
    u = int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "big") / 2.0 ** 64
    return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def scan_class_tree(root: str | os.PathLike, class_names: Sequence[str] | None = None,
                    val_fraction: float = 0.1, test_fraction: float = 0.0) -> tuple[list[Item], list[str]]:
    """Items of a class-folder tree and the class names (label i = names[i]). Folder names that are all
    numbers are labels themselves; otherwise labels follow ``class_names`` or the sorted folder names."""
    root = Path(root)
    if not root.is_dir():
        raise CaffeError(f"{root}: no such folder")
    split_roots = {s: root / s for s in SPLITS if (root / s).is_dir()}
    folders = sorted({d.name for base in (split_roots.values() or [root]) for d in base.iterdir() if d.is_dir()})
    if not folders:
        raise CaffeError(f"{root}: holds no class folders")
    if class_names is None:
        class_names = ([str(i) for i in range(max(map(int, folders)) + 1)]
                       if all(f.isdigit() for f in folders) else folders)
    names = list(class_names)
    for f in folders:
        if f not in names:
            raise CaffeError(f"{root}: folder {f!r} is not one of the classes {', '.join(names)}")
    items = []
    for split, base in (split_roots.items() or [(None, root)]):
        for d in sorted(p for p in base.iterdir() if p.is_dir()):
            for img in _images_in(d):
                s = split or assign_split(f"{d.name}/{img.name}", val_fraction, test_fraction)
                items.append(Item(img, names.index(d.name), s, img.stem))
    if not items:
        raise CaffeError(f"{root}: holds no images")
    return items, names


def read_label_csv(path: str | os.PathLike, image_root: str | os.PathLike | None = None,
                   class_names: Sequence[str] = FACIAL_EXPRESSIONS, val_fraction: float = 0.1,
                   test_fraction: float = 0.0) -> list[Item]:
    """Items of a label CSV. The header names an image column (``image``/``path``/``file``) and an
    ``emotion``/``label`` column; without such a header the first two columns are (path, emotion).
    Emotion names are matched case-insensitively; paths are relative to ``image_root`` (default:
    an ``images`` folder beside the CSV's folder, as in facial_expressions, else the CSV's folder)."""
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except OSError as e:
        raise CaffeError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise CaffeError(f"{path}: not a text CSV (not UTF-8)") from None
    if not rows:
        raise CaffeError(f"{path}: empty file")
    header = [c.strip().lower() for c in rows[0]]
    img_col = next((header.index(c) for c in ("image", "path", "file", "filename") if c in header), None)
    emo_col = next((header.index(c) for c in ("emotion", "label", "expression") if c in header), None)
    first = 1
    if img_col is None or emo_col is None:
        img_col, emo_col, first = 0, 1, 0
    if image_root is None:
        image_root = path.parent.parent / "images" if (path.parent.parent / "images").is_dir() else path.parent
    image_root = Path(image_root)
    lower = [n.lower() for n in class_names]
    items = []
    for n, row in enumerate(rows[first:], first + 1):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) <= max(img_col, emo_col):
            raise CaffeError(f"{path}:{n}: expected an image path and an emotion, found {len(row)} fields")
        rel, emotion = row[img_col].strip(), row[emo_col].strip().lower()
        if emotion not in lower:
            raise CaffeError(f"{path}:{n}: unknown emotion {row[emo_col].strip()!r} "
                             f"(expected one of {', '.join(class_names)})")
        src = image_root / rel
        if not src.is_file():
            raise CaffeError(f"{path}:{n}: image {src} does not exist")
        items.append(Item(src, lower.index(emotion), assign_split(rel, val_fraction, test_fraction),
                          Path(rel).stem))
    if not items:
        raise CaffeError(f"{path}: no rows")
    return items


def export_items(items: Sequence[Item], images_dir: str | os.PathLike, class_names: Sequence[str] | None,
                 *, fmt: str = "jpg", quality: int = 95, gray: bool = False, size: tuple[int, int] = (0, 0),
                 splits: Sequence[str] = SPLITS, progress: bool = True, check_decode: bool = False
                 ) -> dict[str, int]:
    """Re-encode ``items`` into ``images_dir/<split>/<class>/<name>.<fmt>`` (resized to ``size`` = (h, w)
    when given, INTER_LINEAR as Caffe). Returns the count per split."""
    ext, params = encode_params(fmt, quality)
    counts: dict[str, int] = {}
    with atomic_path(images_dir) as tmp:
        tmp.mkdir(parents=True)
        write_labels_file(tmp, class_names if class_names and not all(c.isdigit() for c in class_names)
                          else None)
        for it in bar([i for i in items if i.split in splits], progress=progress, desc="images", unit="img"):
            img = read_image(it.source, not gray, size[0], size[1], check_decode)
            folder = tmp / it.split / class_dir(it.label, class_names)
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{it.name}{ext}"
            if target.exists():
                raise CaffeError(f"{it.source}: a second image named {it.name} in class {it.label}")
            ok, buf = cv2.imencode(ext, img, params)
            if not ok:
                raise CaffeError(f"{it.source}: OpenCV could not encode it as {fmt}")
            target.write_bytes(buf.tobytes())
            counts[it.split] = counts.get(it.split, 0) + 1
    return counts
