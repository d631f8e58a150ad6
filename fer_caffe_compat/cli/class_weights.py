"""class_weights: Keras' "balanced" class weights of an LMDB as an InfogainLoss H matrix (binaryproto).

    tools/class_weights --db data/fer2013/train_lmdb [--out data/fer2013/class_weights.binaryproto]

H = diag(n / (K * n_k)): an InfogainLoss layer reading it (infogain_loss_param { source: ... }) weights each
sample's cross-entropy by its class's weight, as Keras' class_weight="balanced" does.
"""
from __future__ import annotations

import os

from ..data.class_weights import balanced_weights, db_labels, infogain_matrix, write_infogain
from ..errors import CaffeError
from ..eval.labels import class_names
from ..io.db import ensure_new
from .common import ArgumentParser, run

DEFAULT_NAME = "class_weights.binaryproto"


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="class_weights", description=__doc__.split("\n")[0])
    p.add_argument("--db", required=True, help="the training LMDB (Datum records)")
    p.add_argument("--out", help=f"H matrix to write (default: {DEFAULT_NAME} beside the LMDB)")
    p.add_argument("--num-classes", type=int, help="K (default: the largest label + 1)")
    p.add_argument("--labels", help="class names, one per line, for the printed table (default: FER's seven)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    a = p.parse_args(argv)
    if not os.path.isdir(a.db):
        raise CaffeError(f"{a.db}: no such LMDB folder")
    if a.num_classes is not None and a.num_classes < 1:
        raise CaffeError(f"--num-classes {a.num_classes}: must be at least 1")
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.db.rstrip("/"))), DEFAULT_NAME)
    ensure_new(out, a.overwrite)
    labels = db_labels(a.db)
    weights = balanced_weights(labels, a.num_classes, a.db)
    names = class_names(a.labels, len(weights))
    counts = [int((labels == k).sum()) for k in range(len(weights))]
    width = max(len(n) for n in names)
    print(f"{len(labels)} records, {len(weights)} classes; weight = n / (K * n_k):")
    for name, n_k, w in zip(names, counts, weights):
        print(f"  {name.ljust(width)} {n_k:8d}  {w:.6f}")
    write_infogain(out, infogain_matrix(weights))
    print(f"wrote {out} (InfogainLoss H, {len(weights)}x{len(weights)} diagonal)")
    return 0


if __name__ == "__main__":
    run(main, "class_weights")
