"""Index files (``relative/path label`` per line) for convert_imageset, from a tree of class folders.

Order is deterministic: by file name (numerically for the FER row numbers, so CSV order), then by
class folder. Class folders are named by their label (``0`` .. ``6``) or by a class name listed in
the tree's ``labels.txt`` (line i = label i).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from ..errors import CaffeError
from ..fsutil import write_text_atomic
from .export import LABELS_FILE

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp")


def read_labels_file(root: Path) -> list[str] | None:
    p = root / LABELS_FILE
    if not p.is_file():
        return None
    names = [n.strip() for n in p.read_text(encoding="utf-8").splitlines() if n.strip()]
    if len(set(names)) != len(names):
        raise CaffeError(f"{p}: a class name appears twice")
    return names


def _sort_key(item: tuple[str, int]) -> tuple:
    stem = os.path.splitext(os.path.basename(item[0]))[0]
    return (0, int(stem), stem, item[1]) if stem.isdigit() else (1, 0, stem, item[1])


def scan_split(split_dir: str | os.PathLike, class_names: Sequence[str] | None = None
               ) -> list[tuple[str, int]]:
    """(path relative to ``split_dir``, label) for every image under ``split_dir/<class>/``."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise CaffeError(f"{split_dir}: no such image folder")
    if class_names is None:
        class_names = read_labels_file(split_dir.parent)
    entries = []
    for d in sorted(p for p in split_dir.iterdir() if p.is_dir()):
        if class_names is not None:
            if d.name not in class_names:
                raise CaffeError(f"{d}: folder is not one of the classes {', '.join(class_names)}")
            label = list(class_names).index(d.name)
        elif d.name.isdigit():
            label = int(d.name)
        else:
            raise CaffeError(f"{d}: class folder name is not a label number (and no {LABELS_FILE} names it)")
        for f in d.iterdir():
            if f.suffix.lower() in IMAGE_EXTS and f.is_file():
                entries.append((f"{d.name}/{f.name}", label))
    return sorted(entries, key=_sort_key)


def write_index(path: str | os.PathLike, entries: Sequence[tuple[str, int]]) -> None:
    """Write ``path label`` lines atomically. Paths may not hold newlines; spaces are fine (the label
    follows the last space)."""
    for rel, _ in entries:
        if "\n" in rel or "\r" in rel:
            raise CaffeError(f"{path}: image path {rel!r} holds a line break")
    write_text_atomic(path, "".join(f"{rel} {int(label)}\n" for rel, label in entries))


def create_index(images_dir: str | os.PathLike, out_dir: str | os.PathLike,
                 splits: Sequence[str] = ("train", "val", "test")) -> dict[str, int]:
    """Write ``out_dir/<split>.txt`` for each split folder present in ``images_dir``; returns counts."""
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    if not images_dir.is_dir():
        raise CaffeError(f"{images_dir}: no such image folder")
    counts = {}
    for split in splits:
        if (images_dir / split).is_dir():
            entries = scan_split(images_dir / split)
            write_index(out_dir / f"{split}.txt", entries)
            counts[split] = len(entries)
    if not counts:
        raise CaffeError(f"{images_dir}: holds none of the split folders {', '.join(splits)}")
    return counts
