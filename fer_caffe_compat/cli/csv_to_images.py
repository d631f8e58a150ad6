"""csv_to_images: a FER dataset (FER CSV, class-folder tree or label CSV) as images/<split>/<class>/*.jpg.

    csv_to_images --csv fer2013.csv[.gz] --out data/fer2013/images [--format png] [--quality 95]
    csv_to_images --tree faces/ --out data/faces/images [--val-fraction 0.1] [--size 48x48] [--gray]
    csv_to_images --labels-csv legend.csv [--image-root images/] --out data/fe/images [--size 48x48]
"""
from __future__ import annotations

from pathlib import Path

from ..data.export import FORMATS
from ..data.fer_csv import EMOTIONS, SPLITS, read_fer_csv
from ..data.imagetree import FACIAL_EXPRESSIONS, export_items, read_label_csv, scan_class_tree
from ..data.prepare import export_fer_images
from ..errors import CaffeError
from ..io.db import ensure_new
from .common import ArgumentParser, run


def parse_size(text: str) -> tuple[int, int]:
    """``48x48`` or ``48`` -> (height, width)."""
    try:
        h, _, w = text.lower().partition("x")
        size = (int(h), int(w or h))
    except ValueError:
        raise CaffeError(f"--size {text!r}: expected HEIGHTxWIDTH, e.g. 48x48") from None
    if min(size) <= 0:
        raise CaffeError(f"--size {text!r}: sizes must be positive")
    return size


def parse_class_names(text: str | None, default: tuple[str, ...] | None) -> list[str] | None:
    if text is None:
        return list(default) if default else None
    if text == "fer":
        return list(EMOTIONS)
    if text == "facial_expressions":
        return list(FACIAL_EXPRESSIONS)
    names = [n.strip() for n in text.split(",") if n.strip()]
    if len(set(names)) != len(names) or any("/" in n for n in names):
        raise CaffeError(f"--class-names {text!r}: names must be distinct and hold no '/'")
    return names


def parse_splits(text: str) -> list[str]:
    splits = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise CaffeError(f"--splits {text!r}: expected a comma list of {', '.join(SPLITS)}")
    return splits


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="csv_to_images", description=__doc__.split("\n")[0])
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", help="FER CSV (emotion,pixels,Usage), plain or .gz")
    src.add_argument("--tree", help="folder of class folders (optionally under train/val/test)")
    src.add_argument("--labels-csv", help="CSV of (image path, emotion name), e.g. facial_expressions legend.csv")
    p.add_argument("--image-root", help="folder the --labels-csv paths are relative to")
    p.add_argument("--out", required=True, help="output image root (gets <split>/<class>/ folders)")
    p.add_argument("--format", default="jpg", choices=FORMATS, help="jpg (lossy) or png (lossless)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1..100 (default 95)")
    p.add_argument("--splits", default=",".join(SPLITS), help="which splits to write (default all)")
    p.add_argument("--class-names", help="name the class folders: a comma list, 'fer' (Angry..Neutral) or "
                   "'facial_expressions'; labels.txt lists them")
    p.add_argument("--size", help="resize tree/label-CSV images to HEIGHTxWIDTH (INTER_LINEAR)")
    p.add_argument("--gray", action="store_true", help="convert tree/label-CSV images to grayscale")
    p.add_argument("--val-fraction", type=float, default=0.1, help="share of an unsplit tree put in val")
    p.add_argument("--test-fraction", type=float, default=0.0, help="share of an unsplit tree put in test")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--check_decode", "--check-decode", dest="check_decode", action="store_true",
                   help="refuse a tree/label-CSV image that decodes only partly, such as a truncated JPEG "
                        "(default: a warning names it)")
    a = p.parse_args(argv)
    splits = parse_splits(a.splits)
    ensure_new(a.out, a.overwrite)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if a.csv:
        names = parse_class_names(a.class_names, None)
        data = read_fer_csv(a.csv, n_classes=len(names) if names else len(EMOTIONS))
        done = export_fer_images(data, out, fmt=a.format, quality=a.quality, splits=splits, class_names=names)
        counts = {s: len(e) for s, (e, _) in done.items()}
    else:
        size = parse_size(a.size) if a.size else (0, 0)
        if a.tree:
            items, names = scan_class_tree(a.tree, parse_class_names(a.class_names, None), a.val_fraction,
                                           a.test_fraction)
        else:
            names = parse_class_names(a.class_names, FACIAL_EXPRESSIONS)
            items = read_label_csv(a.labels_csv, a.image_root, names, a.val_fraction, a.test_fraction)
        counts = export_items(items, out, names, fmt=a.format, quality=a.quality, gray=a.gray, size=size,
                              splits=splits, check_decode=a.check_decode)
    print(" ".join(f"{s}={counts.get(s, 0)}" for s in splits), f"images in {out}")
    return 0


if __name__ == "__main__":
    run(main, "csv_to_images")
