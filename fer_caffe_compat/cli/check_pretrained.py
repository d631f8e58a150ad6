"""tools/check_pretrained: score the shipped model (nets/pretrained) again on a CSV's PublicTest rows, with
every test-time augmentation mode its card lists, and compare with model.json.

    tools/check_pretrained --csv fer2013.csv        # make check-pretrained CSV=fer2013.csv

Checked: the weights' sha256, the number of rows, and per mode the accuracy (within --acc-tol points) and
the macro F1 (within --f1-tol points). The same CPU float32 path on the same rows gives the same numbers up
to an image or two whose two best classes nearly tie: other CPUs, thread counts or oneDNN kernels round the
sums differently. One image is 0.03 points of accuracy over 3,589 rows, and up to about 0.3 points of macro F1
(one of Disgust's 56 faces), hence the defaults 0.1 and 0.5. A CSV whose PublicTest pixels differ from the
card's (the original Kaggle CSV against the JPEG-rounded one, say) is said so; its numbers may then differ
by more. Exit 0 when all agree, 1 with one line naming each disagreement.
"""
from __future__ import annotations

import numpy as np

from .. import log
from ..errors import CaffeError
from ..eval import metrics
from ..eval.labels import read_labels
from ..eval.pretrained import PRETRAINED_DIR, load, sha256_file, split_fingerprint
from ..eval.predict import Predictor
from .common import ArgumentParser, run


def parse(argv: list[str]):
    p = ArgumentParser(prog="check_pretrained", description=__doc__.split("\n")[0])
    p.add_argument("--csv", required=True, help="FER CSV (plain or .gz) holding the PublicTest rows")
    p.add_argument("--dir", default=str(PRETRAINED_DIR), help="the model's folder (nets/pretrained)")
    p.add_argument("--acc-tol", type=float, default=0.1, help="accuracy tolerance in points (0.1)")
    p.add_argument("--f1-tol", type=float, default=0.5, help="macro F1 tolerance in points (0.5)")
    p.add_argument("--batch-size", type=int, default=100, help="images per forward pass (100)")
    return p.parse_args(argv)


def score(pred: Predictor, images: np.ndarray, labels: np.ndarray, names: list[str], tta: str) -> dict:
    probs = pred.predict(((pred.fit_image(img), f"PublicTest row {i}") for i, img in enumerate(images)),
                         oversample=tta)
    return metrics.evaluate(labels, probs, names)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.batch_size < 10:
        raise CaffeError(f"--batch-size {args.batch_size}: must be at least 10 (the views of --tta shift)")
    model = load(args.dir)
    sha = sha256_file(model.weights)
    if sha != model.card["weights_sha256"]:
        raise CaffeError(f"{model.weights}: sha256 {sha} is not the card's {model.card['weights_sha256']}")
    from ..data.fer_csv import USAGES, read_fer_csv
    data = read_fer_csv(args.csv, progress=False)
    rows = data.usage == USAGES.index("PublicTest")
    images, labels = data.images[rows], data.labels[rows].astype(np.int64)
    card = model.card["publictest"]
    if images.shape[0] != card["num_samples"]:
        raise CaffeError(f"{args.csv}: {images.shape[0]} PublicTest rows, the card scored {card['num_samples']}")
    same = split_fingerprint(images, labels) == card.get("rows_sha256")
    print(f"check_pretrained: {args.csv}: {images.shape[0]} PublicTest rows, "
          + ("the card's very rows" if same else f"NOT the rows of the card's {card['data']} "
             "(other pixels: the numbers may differ by more than the tolerance)"), flush=True)
    quiet, log.quiet = log.quiet, True  # the net's construction log is not this tool's output
    try:
        pred = Predictor(model.model, model.weights, mean=model.mean, scale=model.scale,
                         batch_size=args.batch_size)
    finally:
        log.quiet = quiet
    names = read_labels(model.labels)
    bad = []
    for tta, want in card["tta"].items():
        got = score(pred, images, labels, names, tta)
        acc, f1 = got["accuracy"], got["report"]["macro avg"]["f1-score"]
        d_acc, d_f1 = 100 * (acc - want["accuracy"]), 100 * (f1 - want["macro_f1"])
        ok = abs(d_acc) <= args.acc_tol and abs(d_f1) <= args.f1_tol
        print(f"  tta {tta:6s} accuracy {acc:.4f} (card {want['accuracy']:.4f}, {d_acc:+.2f} points)  "
              f"macro F1 {f1:.4f} (card {want['macro_f1']:.4f}, {d_f1:+.2f} points)  {'ok' if ok else 'DIFFERS'}",
              flush=True)
        if not ok:
            bad.append(f"tta {tta}: accuracy {d_acc:+.2f}, macro F1 {d_f1:+.2f} points")
    if bad:
        raise CaffeError(f"{model.folder / 'model.json'}: the model scores differently on {args.csv}: "
                         + "; ".join(bad) + f" (tolerance {args.acc_tol:g} / {args.f1_tol:g} points)")
    print("check_pretrained: the model scores as its card says")
    return 0


if __name__ == "__main__":
    run(main, "check_pretrained")
