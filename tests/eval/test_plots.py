from __future__ import annotations

import numpy as np
from PIL import Image

from fer_caffe_compat.eval import metrics, plots
from fer_caffe_compat.eval.labels import FER_CLASSES


def _data(k: int = 7, n: int = 70, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return labels, probs


def test_confusion_png_is_written_at_its_size(tmp_path):
    labels, probs = _data()
    out = tmp_path / "sub" / "confusion.png"
    plots.plot_confusion(out, metrics.confusion_counts(labels, probs.argmax(1), 7), FER_CLASSES)
    with Image.open(out) as im:
        assert im.format == "PNG" and im.size == plots.CONFUSION_SIZE == (800, 700)
    assert [p.name for p in out.parent.iterdir()] == ["confusion.png"]  # no temporary left behind


def test_roc_png_with_eight_classes_and_an_empty_class(tmp_path):
    labels, probs = _data(k=8)
    labels[labels == 7] = 0  # class 7 has no sample: its curve is undefined, the chart still draws
    out = tmp_path / "roc.png"
    roc = metrics.roc_curves(labels, probs)
    assert roc.auc[7] is None
    plots.plot_roc(out, roc, [f"c{i}" for i in range(8)])
    with Image.open(out) as im:
        im.load()
        assert im.size == plots.ROC_SIZE == (800, 700)
        # the chart is not blank: many distinct colours were drawn
        assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 50
