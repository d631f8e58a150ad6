"""The model shipped in nets/pretrained/: the FER CPU-hour recipe's final weights, the deploy net they fit,
the training mean, the class names and model.json, the machine-readable card (tools/model_card writes it
from tools/evaluate's metrics.json files, so no number in it is typed by hand).

model.json names every file of the model relative to its folder and holds the preprocessing (a 48x48 grey
face, ``(pixel - mean) * scale``), the sha256 of the weights, and PublicTest accuracy, macro F1 and
per-class recall for each test-time augmentation mode it was scored with.

The demo model (make demo's LeNet on the synthetic faces) is the other model the tools know by name.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CaffeError

ROOT = Path(__file__).resolve().parents[2]
PRETRAINED_DIR = ROOT / "nets" / "pretrained"
CARD_JSON = "model.json"
# make demo's model: its train/test prototxt (the TEST data layer gives scale), the newest snapshot, the mean
DEMO_MODEL = "nets/lenet_demo_train_test.prototxt"
DEMO_SNAPSHOTS = "snapshots/lenet_demo_iter_*.caffemodel"
DEMO_MEAN = "data/demo/mean.binaryproto"


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        raise CaffeError(f"{path}: cannot read: {e.strerror}") from None
    return h.hexdigest()


def split_fingerprint(images: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of a split's pixels (N x 48 x 48 uint8) and labels: tells whether a CSV holds the very
    PublicTest rows the card was scored on (FER2013 releases differ by JPEG rounding of the pixels)."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Pretrained:
    """nets/pretrained/ as model.json describes it; paths are absolute."""
    folder: Path
    card: dict

    def _file(self, key: str) -> str:
        return str(self.folder / self.card["files"][key])

    @property
    def model(self) -> str:
        return self._file("model")

    @property
    def weights(self) -> str:
        return self._file("weights")

    @property
    def mean(self) -> str:
        return self._file("mean")

    @property
    def labels(self) -> str:
        return self._file("labels")

    @property
    def scale(self) -> float:
        return float(self.card["input"]["scale"])

    @property
    def name(self) -> str:
        return str(self.card["name"])

    def accuracy(self, tta: str = "none") -> float | None:
        entry = self.card.get("publictest", {}).get("tta", {}).get(tta)
        return None if entry is None else float(entry["accuracy"])


def load(folder: str | os.PathLike | None = None) -> Pretrained:
    """The pretrained model's card; a missing or incomplete folder is one clear error."""
    folder = Path(folder) if folder is not None else PRETRAINED_DIR
    path = folder / CARD_JSON
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CaffeError(f"{path}: not found: the pretrained model is not installed here; "
                         "give --model and --weights") from None
    except (OSError, ValueError) as e:
        raise CaffeError(f"{path}: cannot read the model card: {e}") from None
    try:
        p = Pretrained(folder.resolve(), card)
        files = [p.model, p.weights, p.mean, p.labels]
        float(p.scale)  # present and a number
    except (KeyError, TypeError, ValueError) as e:
        raise CaffeError(f"{path}: incomplete model card (missing {e})") from None
    for f in files:
        if not os.path.exists(f):
            raise CaffeError(f"{f}: not found (named by {path})")
    return p


def demo_files(root: str | os.PathLike | None = None) -> tuple[str, str, str]:
    """(model, weights, mean) of make demo's LeNet: the newest snapshot by iteration."""
    root = Path(root) if root is not None else ROOT
    snaps = list(root.glob(DEMO_SNAPSHOTS))
    if not snaps:
        raise CaffeError(f"{root / DEMO_SNAPSHOTS}: no demo snapshot; run make demo first")
    newest = max(snaps, key=lambda p: int(p.stem.rsplit("_", 1)[-1]) if p.stem.rsplit("_", 1)[-1].isdigit()
                 else -1)
    mean = root / DEMO_MEAN
    if not mean.exists():
        raise CaffeError(f"{mean}: not found; run make demo first")
    return str(root / DEMO_MODEL), str(newest), str(mean)
