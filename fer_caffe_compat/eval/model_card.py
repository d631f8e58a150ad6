"""The pretrained model's card: model.json built from tools/evaluate's metrics.json files, and README.md
rendered from model.json alone, so every number on the card comes from an evaluation, none is typed."""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import CaffeError
from .pretrained import sha256_file
from .tta import MODES

FILES = {"model": "deploy.prototxt", "weights": "fer_cpu_hour.caffemodel", "mean": "mean.binaryproto",
         "labels": "labels.txt", "confusion": "confusion.png"}
SCALE = 0.00390625
TTA_WORDS = {"none": "one view (what tools/classify and tools/serve do)",
             "flip": "the face and its mirror (tools/evaluate --tta flip)",
             "shift": "the face and four 4-pixel shifts, and their mirrors (--tta shift)",
             "tencrop": "Caffe's ten crops (--tta tencrop)"}


def read_metrics(path: str | os.PathLike) -> dict:
    try:
        m = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CaffeError(f"{path}: cannot read tools/evaluate's metrics: {e}") from None
    for key in ("tta", "accuracy", "num_samples", "classes", "report", "weights", "data"):
        if key not in m:
            raise CaffeError(f"{path}: not a tools/evaluate metrics.json (no {key!r})")
    return m


def tta_entry(m: dict, path: str) -> dict:
    """The numbers the card keeps of one evaluation."""
    return {"accuracy": round(float(m["accuracy"]), 6),
            "macro_f1": round(float(m["report"]["macro avg"]["f1-score"]), 6),
            "top_k": int(m["top_k"]), "top_k_accuracy": round(float(m["top_k_accuracy"]), 6),
            "recall": {c: round(float(m["report"][c]["recall"]), 6) for c in m["classes"]},
            "metrics": path}


def build_card(folder: str | os.PathLike, metrics: dict[str, dict], metric_paths: dict[str, str],
               command: str, log_path: str, fingerprint: str | None, name: str = "FER CPU-hour") -> dict:
    """model.json for the model in ``folder`` from one metrics dict per TTA mode (its ``tta`` field)."""
    weights = Path(folder) / FILES["weights"]
    sha = sha256_file(weights)
    first = next(iter(metrics.values()))
    for tta, m in metrics.items():
        where = metric_paths[tta]
        if (m["num_samples"], m["classes"], m["data"]) != (first["num_samples"], first["classes"], first["data"]):
            raise CaffeError(f"{where}: scored other data or classes than {metric_paths[next(iter(metrics))]}")
        if not os.path.exists(m["weights"]) or sha256_file(m["weights"]) != sha:
            raise CaffeError(f"{where}: scored {m['weights']}, not the weights {weights} (sha256 differs "
                             "or the file is gone)")
    order = [t for t in MODES if t in metrics]
    return {
        "name": name,
        "files": dict(FILES),
        "weights_sha256": sha,
        "classes": list(first["classes"]),
        "input": {"blob": "data", "shape": [1, 48, 48], "color": "grey", "scale": SCALE,
                  "mean": FILES["mean"], "formula": "(pixel - mean) * scale"},
        "training": {"command": command, "log": log_path, "solver": "solvers/fer_cpu_hour_solver.prototxt",
                     "net": "nets/fer_cpu_hour_train_val.prototxt",
                     "weights": "the final snapshot's .caffemodel: the solver's weight average (ema_decay)"},
        "publictest": {"data": os.path.basename(first["data"]), "rows_sha256": fingerprint,
                       "num_samples": int(first["num_samples"]), "default_tta": "none",
                       "support": {c: int(first["report"][c]["support"]) for c in first["classes"]},
                       "tta": {t: tta_entry(metrics[t], metric_paths[t]) for t in order}},
    }


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def render_card(card: dict) -> str:
    """README.md of nets/pretrained/ from model.json alone."""
    pt, files, tr = card["publictest"], card["files"], card["training"]
    modes = list(pt["tta"])
    classes = card["classes"]
    top_k = pt["tta"][modes[0]]["top_k"]
    rows = "\n".join(f"| `{t}`: {TTA_WORDS.get(t, t)} | {_pct(e['accuracy'])} | {_pct(e['macro_f1'])} | "
                     f"{_pct(e['top_k_accuracy'])} |" for t, e in pt["tta"].items())
    recall = "\n".join(f"| {c} | " + " | ".join(_pct(pt["tta"][t]["recall"][c]) for t in modes) + " |"
                       for c in classes)
    rare = min(pt["support"], key=pt["support"].get)
    sources = ", ".join(f"`{pt['tta'][t]['metrics']}`" for t in modes)
    return f"""# {card['name']}: a FER2013 emotion model, ready to use

The recipe of this project (`{tr['solver']}`, net `{tr['net']}`), trained on FER2013's Training rows
only. It tells {len(classes)} emotions ({', '.join(classes)}) from a face.
`tools/classify`, `tools/serve` and `make serve` use it when no `--model`/`--weights` are given.

This file and `{'model.json'}` are written by `fer_caffe_compat/cli/model_card.py` from `tools/evaluate`'s
metrics; `make check-pretrained CSV=fer2013.csv` scores the model again and compares.

## Files

| file | holds |
| --- | --- |
| `{files['model']}` | the deploy net (a copy of `nets/fer_cpu_hour_deploy.prototxt`, plain Caffe 1.0) |
| `{files['weights']}` | the weights, sha256 `{card['weights_sha256']}` |
| `{files['mean']}` | the training images' mean (1x48x48), from `make lmdb` |
| `{files['labels']}` | the class names, in label order |
| `{files['confusion']}` | PublicTest's confusion matrix, rows normalised (TTA `{pt['default_tta']}`) |
| `model.json` | this card's numbers, machine-readable |

## Input

One {card['input']['color']} face crop, {card['input']['shape'][1]}x{card['input']['shape'][2]} pixels
(0..255), as FER2013's faces are: roughly from the eyebrows to the chin, frontal. The net's input is
`{card['input']['formula']}` with the mean image of `{files['mean']}` and scale {card['input']['scale']} (1/256).
`tools/classify` and `tools/serve` find faces with OpenCV's Haar cascade, crop them, turn them grey and
resize them to 48x48 (INTER_AREA) before that; `--no-detect` takes crops as they are.

```sh
tools/classify photo.jpg                     # the faces of a photo, one JSON line each
tools/classify --no-detect crops/            # faces already cropped
tools/classify --sample                      # scikit-image's astronaut photo
tools/serve                                  # http://127.0.0.1:8000/
```

## How it was made

`{tr['command']}` — log: `{tr['log']}`. The weights are {tr['weights']}: the net the recipe tests and
snapshots, and the one scored here.

## PublicTest

All {pt['num_samples']:,} PublicTest rows of `{pt['data']}` (rows sha256 `{pt['rows_sha256'] or 'not recorded'}`),
scored from the CSV's pixels with CPU float32 (`tools/evaluate --csv ... --usage PublicTest`). The training log's
test lines read the same rows from the LMDB, whose images went through JPEG files, so they differ slightly.
PrivateTest was not used. Sources: {sources}.

| test-time augmentation | accuracy % | macro F1 % | top-{top_k} accuracy % |
| --- | --- | --- | --- |
{rows}

Recall per class (%):

| class | {' | '.join(modes)} |
| --- | {' | '.join('---' for _ in modes)} |
{recall}

![PublicTest confusion matrix](confusion.png)

## Known limits

- **Frontal faces.** FER2013's faces are frontal or nearly so, centred and cropped tightly; profiles,
  strong tilts, occlusions (hands, masks, sunglasses) and crops framed unlike FER's are outside what it saw.
- **The face detector.** OpenCV's Haar cascade (frontal faces, 30 pixels and up by default) misses turned,
  tilted, small or badly lit faces and sometimes boxes something that is not a face; the model then
  classifies whatever was boxed. No face found means no answer, not "Neutral".
- **Label noise.** FER2013's labels come from one quick annotation each; human accuracy on it is about
  65±5% (Goodfellow et al., 2013), and the rarest class has few examples ({rare} in PublicTest: {pt['support'][rare]}),
  so its numbers are noisy.
- **Research only.** FER2013 was released for research (the ICML 2013 challenge); the faces are web images.
  Inferring emotions of real people is unreliable and sensitive: do not use the model for decisions about
  people.
"""


def card_json(card: dict) -> str:
    return json.dumps(card, indent=2) + "\n"
