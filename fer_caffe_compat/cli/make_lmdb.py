"""make_lmdb CSV OUT_DIR: what `make lmdb` runs. A FER CSV -> OUT_DIR/images, train/val/test.txt,
<split>_lmdb and mean.binaryproto in one pass; the same files as csv_to_images, create_aux.sh,
`convert_imageset --gray` and compute_image_mean run one after the other."""
from __future__ import annotations

from ..data.prepare import prepare_fer
from .common import ArgumentParser, run
from .csv_to_images import parse_class_names, parse_splits


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="make_lmdb", description=__doc__.split("\n")[0])
    p.add_argument("csv", metavar="CSV", help="FER CSV, plain or .gz")
    p.add_argument("out_dir", metavar="OUT_DIR", help="e.g. data/fer2013")
    p.add_argument("--format", default="jpg", choices=("jpg", "png"))
    p.add_argument("--quality", type=int, default=95)
    p.add_argument("--splits", default="train,val,test")
    p.add_argument("--class-names", help="name the class folders (comma list or 'fer')")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    a = p.parse_args(argv)
    t = prepare_fer(a.csv, a.out_dir, fmt=a.format, quality=a.quality, splits=parse_splits(a.splits),
                    class_names=parse_class_names(a.class_names, None), overwrite=a.overwrite)
    for name, secs, n in t.steps:
        if name.startswith("lmdb"):
            print(f"{a.out_dir}/{name.split()[1]}_lmdb: {n} records")
    return 0


if __name__ == "__main__":
    run(main, "make_lmdb")
