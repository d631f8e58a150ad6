"""tools/model_card: nets/pretrained/model.json, README.md and confusion.png from tools/evaluate's metrics.

    tools/model_card --command "make recipe CSV=fer2013.csv" --log docs/runs/pretrained/train.log \\
        --csv fer2013.csv docs/runs/pretrained/eval_{none,flip,shift}/metrics.json

Each metrics.json must have scored the weights in --dir (same sha256) on the same data; its "tta" field
names the row. --csv (the CSV those metrics scored) records a fingerprint of its PublicTest rows, which
tools/check_pretrained compares. The card's confusion.png is the one beside the "none" metrics.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import CaffeError
from ..eval.model_card import FILES, build_card, card_json, read_metrics, render_card
from ..eval.pretrained import CARD_JSON, PRETRAINED_DIR, ROOT, split_fingerprint
from ..fsutil import atomic_path, write_text_atomic
from .common import ArgumentParser, run


def parse(argv: list[str]):
    p = ArgumentParser(prog="model_card", description=__doc__.split("\n")[0])
    p.add_argument("metrics", nargs="+", help="tools/evaluate metrics.json files, one per TTA mode")
    p.add_argument("--dir", default=str(PRETRAINED_DIR), help="the model's folder (nets/pretrained)")
    p.add_argument("--command", required=True, help="the command that trained the weights")
    p.add_argument("--log", required=True, help="its training log (in docs/runs/)")
    p.add_argument("--csv", help="the FER CSV the metrics scored: its PublicTest rows' fingerprint goes on "
                                 "the card")
    p.add_argument("--usage", default="PublicTest", help="the CSV rows the metrics scored (PublicTest)")
    return p.parse_args(argv)


def shown(path: str) -> str:
    """A path as the card shows it: relative to the repository when inside it."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(path)


def csv_fingerprint(csv: str, usage: str) -> str:
    from ..data.fer_csv import USAGES, read_fer_csv
    data = read_fer_csv(csv, progress=False)
    rows = data.usage == USAGES.index(usage)
    if not rows.any():
        raise CaffeError(f"{csv}: no rows with Usage {usage}")
    return split_fingerprint(data.images[rows], data.labels[rows])


def main(argv: list[str]) -> int:
    args = parse(argv)
    metrics, paths = {}, {}
    for path in args.metrics:
        m = read_metrics(path)
        if m["tta"] in metrics:
            raise CaffeError(f"{path}: a second metrics file for --tta {m['tta']} (first: {paths[m['tta']]})")
        metrics[m["tta"]], paths[m["tta"]] = m, shown(path)
    if "none" not in metrics:
        raise CaffeError("no metrics.json with tta none: the card's first row and confusion matrix need it")
    if not os.path.exists(args.log):
        raise CaffeError(f"{args.log}: no such file (the training log the card names)")
    fingerprint = csv_fingerprint(args.csv, args.usage) if args.csv else None
    card = build_card(args.dir, metrics, paths, args.command, shown(args.log), fingerprint)
    folder = Path(args.dir)
    confusion = Path(args.metrics[list(metrics).index("none")]).parent / "confusion.png"
    if not confusion.exists():
        raise CaffeError(f"{confusion}: no such file (tools/evaluate writes it beside metrics.json)")
    with atomic_path(folder / FILES["confusion"]) as tmp:
        shutil.copyfile(confusion, tmp)
    write_text_atomic(folder / CARD_JSON, card_json(card))
    write_text_atomic(folder / "README.md", render_card(card))
    for t, e in card["publictest"]["tta"].items():
        print(f"model_card: tta {t:6s} accuracy {e['accuracy']:.4f}  macro F1 {e['macro_f1']:.4f}")
    print(f"model_card: wrote {folder / CARD_JSON}, {folder / 'README.md'}, {folder / FILES['confusion']}")
    return 0


if __name__ == "__main__":
    run(main, "model_card")
