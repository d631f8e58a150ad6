"""make_demo_csv --out data/demo/demo.csv: the embedded synthetic FER dataset (no download)."""
from __future__ import annotations

from ..data.demo import write_demo_csv
from ..errors import CaffeError
from .common import ArgumentParser, run


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="make_demo_csv", description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="CSV to write (.csv or .csv.gz)")
    p.add_argument("--train", type=int, default=4000, help="Training rows (default 4000)")
    p.add_argument("--val", type=int, default=600, help="PublicTest rows (default 600)")
    p.add_argument("--test", type=int, default=600, help="PrivateTest rows (default 600)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--label-noise", type=float, default=0.04, help="share of random labels (default 0.04)")
    p.add_argument("--preview", help="also write a PNG with 10 faces of each expression, one row per class")
    a = p.parse_args(argv)
    if min(a.train, a.val, a.test) < 0 or a.train + a.val + a.test == 0:
        raise CaffeError("row counts must be >= 0 and not all 0")
    if not 0 <= a.label_noise <= 1:
        raise CaffeError(f"--label-noise {a.label_noise}: expected 0..1")
    n = write_demo_csv(a.out, a.train, a.val, a.test, a.seed, a.label_noise, a.preview)
    print(f"{a.out}: {n} rows ({a.train} Training, {a.val} PublicTest, {a.test} PrivateTest)")
    return 0


if __name__ == "__main__":
    run(main, "make_demo_csv")
