"""tools/evaluate: accuracy, top-k, per-class report, confusion matrix and ROC/AUC of a trained net.

    tools/evaluate --model nets/lenet_deploy.prototxt --weights snapshots/lenet_iter_10000.caffemodel \\
        --db data/fer2013/val_lmdb --mean data/fer2013/mean.binaryproto --scale 0.00390625

Writes confusion.png, roc.png and metrics.json into --out (default: <weights without .caffemodel>_eval/).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from ..errors import CaffeError
from ..eval import metrics, plots
from ..eval.labels import class_names
from ..eval.predict import csv_samples, list_samples, lmdb_samples
from ..eval.tta import MODES, SHIFT_PIXELS
from ..fsutil import write_text_atomic
from ..io import db as lmdb_io
from .common import ArgumentParser, run
from .net_args import add_model_args, make_predictor
from .speed_args import add_speed_arguments, apply_to_net


def parse(argv: list[str]):
    p = ArgumentParser(prog="evaluate", description=__doc__.split("\n")[0])
    add_model_args(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--db", help="LMDB of Datum records (as the Data layer reads them)")
    src.add_argument("--list", help="list file of 'relative/path label' lines (needs --root)")
    src.add_argument("--csv", help="FER CSV (with --usage)")
    p.add_argument("--root", help="folder the --list paths are relative to (default: the list file's folder)")
    p.add_argument("--usage", default="PublicTest", help="FER CSV rows to use (PublicTest, PrivateTest, Training)")
    p.add_argument("--labels", help="class names, one per line (default: FER's seven)")
    p.add_argument("--oversample", action="store_true",
                   help="average the 10 crops (4 corners, centre, and their mirrors) as Caffe's classifier "
                        "(the same as --tta tencrop)")
    p.add_argument("--tta", choices=MODES, default=None,
                   help="test-time augmentation (extension): none (Caffe's centre crop), flip (centre and "
                        f"mirror), tencrop (Caffe's oversample), shift (centre and four {SHIFT_PIXELS}-pixel "
                        "shifts, and their mirrors: for nets that see the whole image)")
    p.add_argument("--top-k", type=int, default=2, help="k of the top-k accuracy (2)")
    p.add_argument("--out", help="folder for confusion.png, roc.png, metrics.json")
    add_speed_arguments(p, train=False)
    return p.parse_args(argv)


def _sample_shape(args) -> tuple[int, int, int]:
    """The (C, H, W) of the data before any crop (train_val nets size their input from it)."""
    if args.db:
        for key, value in lmdb_io.iter_records(args.db):
            return lmdb_io.datum_to_array(lmdb_io.parse_datum(value, f"{args.db}: record {key!r}")).shape
        raise CaffeError(f"{args.db}: the database is empty")
    if args.csv:
        return 1, 48, 48
    first = Path(args.list).read_text(encoding="utf-8").split("\n", 1)[0].strip().rpartition(" ")[0]
    img = cv2.imread(os.path.join(_root(args), first), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise CaffeError(f"{args.list}:1: cannot read image {first}")
    return (1 if img.ndim == 2 else 3), img.shape[0], img.shape[1]


def _root(args) -> str:
    return args.root if args.root is not None else os.path.dirname(os.path.abspath(args.list))


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.top_k < 1:
        raise CaffeError(f"--top-k {args.top_k}: must be at least 1")
    for path in (args.model, args.weights.split(",")[0], args.db or args.list or args.csv):
        if not os.path.exists(path):
            raise CaffeError(f"{path}: no such file or directory")
    pred = make_predictor(args, _sample_shape(args))
    apply_to_net(args, pred.net)  # --precision, --channels_last, --compile (extensions)
    names = class_names(args.labels, pred.num_classes)
    if args.db:
        n, samples = lmdb_samples(args.db)
    elif args.list:
        n, samples = list_samples(args.list, _root(args), pred.input_shape[0], pred.fit_image)
    else:
        n, samples = csv_samples(args.csv, args.usage, pred.fit_image)
    labels: list[int] = []

    def images():
        for img, label, where in tqdm(samples, total=n, desc="evaluate", unit="img", leave=False):
            labels.append(label)
            yield img, where

    if args.oversample and args.tta not in (None, "tencrop"):
        raise CaffeError(f"--oversample is --tta tencrop; it cannot be combined with --tta {args.tta}")
    tta = "tencrop" if args.oversample else args.tta or "none"
    probs = pred.predict(images(), oversample=tta)
    y = np.asarray(labels, dtype=np.int64)
    source = args.db or args.list or args.csv
    if y.size and (y.min() < 0 or y.max() >= pred.num_classes):
        bad = int(y.max() if y.max() >= pred.num_classes else y.min())
        raise CaffeError(f"{source}: label {bad} is outside the net's {pred.num_classes} outputs")
    result = metrics.evaluate(y, probs, names, args.top_k)
    result.update(model=str(args.model), weights=str(args.weights), data=str(source),
                  oversample=tta == "tencrop", tta=tta, output_blob=pred.output_blob)
    print(summary(result, y, probs))
    out = Path(args.out) if args.out else Path(str(args.weights).split(",")[-1]).with_suffix("")
    if not args.out:
        out = out.with_name(out.name + "_eval")
    out.mkdir(parents=True, exist_ok=True)
    plots.plot_confusion(out / "confusion.png", np.asarray(result["confusion"]), names)
    plots.plot_roc(out / "roc.png", metrics.roc_curves(y, probs), names)
    write_text_atomic(out / "metrics.json", json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'confusion.png'}, {out / 'roc.png'}, {out / 'metrics.json'}")
    return 0


def summary(result: dict, labels: np.ndarray, probs: np.ndarray) -> str:
    names = result["classes"]
    auc = result["roc_auc"]
    fmt = lambda a: "n/a" if a is None else f"{a:.4f}"  # noqa: E731
    lines = [
        f"samples: {result['num_samples']}",
        f"accuracy: {result['accuracy']:.4f}",
        f"top-{result['top_k']} accuracy: {result['top_k_accuracy']:.4f}",
        "",
        metrics.report_text(labels, probs.argmax(1), names).rstrip(),
        "",
        metrics.confusion_text(np.asarray(result["confusion"]), names),
        "",
        "ROC AUC (one vs rest, from probabilities):",
        *[f"  {n}: {fmt(auc['per_class'][n])}" for n in names],
        f"  micro-average: {fmt(auc['micro'])}",
        f"  macro-average: {fmt(auc['macro'])}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    run(main, "evaluate")
