"""A stand-in for nets/pretrained/ built the way the real one is: the tiny FER net with seeded filler weights,
scored by tools/evaluate on a small CSV of PublicTest rows, its card written by tools/model_card. The tests of
the tools' defaults, of the card and of tools/check_pretrained use it; the real model has its own tests."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from fer_caffe_compat.cli import evaluate, model_card
from fer_caffe_compat.eval.labels import FER_CLASSES

from .tiny import DEPLOY, MEAN, SCALE, save_weights

TTAS = ("none", "flip")


def write_csv(path: Path, n: int = 14, seed: int = 0) -> Path:
    """``n`` PublicTest rows (labels 0..6 in turn, seeded pixels) after two Training rows."""
    rng = np.random.default_rng(seed)
    lines = ["emotion,pixels,Usage"]
    for i in range(n + 2):
        px = " ".join(map(str, rng.integers(0, 256, 48 * 48)))
        lines.append(f"{i % 7},{px},{'Training' if i < 2 else 'PublicTest'}")
    path.write_text("\n".join(lines) + "\n")
    return path


def make_pretrained(root: Path) -> tuple[Path, Path]:
    """(folder, csv): a complete pretrained folder under ``root`` and the CSV its card was scored on."""
    folder = root / "pretrained"
    folder.mkdir(parents=True)
    shutil.copyfile(DEPLOY, folder / "deploy.prototxt")
    shutil.copyfile(MEAN, folder / "mean.binaryproto")
    (folder / "labels.txt").write_text("\n".join(FER_CLASSES) + "\n")
    save_weights(folder / "fer_cpu_hour.caffemodel")
    csv = write_csv(root / "public.csv")
    metrics = []
    for tta in TTAS:
        out = root / f"eval_{tta}"
        assert evaluate.main(["--model", str(folder / "deploy.prototxt"), "--weights",
                              str(folder / "fer_cpu_hour.caffemodel"), "--mean", str(folder / "mean.binaryproto"),
                              "--scale", str(SCALE), "--csv", str(csv), "--tta", tta, "--out", str(out)]) == 0
        metrics.append(str(out / "metrics.json"))
    log = root / "train.log"
    log.write_text("I1206 21:00:00.000000  1 solver.cpp:464] Snapshotting to binary proto file x\n")
    assert model_card.main(["--dir", str(folder), "--command", "make recipe CSV=public.csv", "--log", str(log),
                            "--csv", str(csv), *metrics]) == 0
    return folder, csv
