"""Classification metrics from labels and predicted probabilities.

Everything here takes integer labels ``(N,)`` and class probabilities ``(N, K)``. ROC curves and AUCs are
computed from the probabilities (one-vs-rest), never from hard predictions: a hard label collapses each
curve to a single operating point and gives a different (wrong) area.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from sklearn import metrics as skm

from ..errors import CaffeError


def _check(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise CaffeError(f"{labels.shape[0]} labels but probabilities of shape {probs.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise CaffeError(f"label {int(labels.max() if labels.max() >= probs.shape[1] else labels.min())} "
                         f"outside the net's {probs.shape[1]} classes")
    return labels, probs


def accuracy(labels: np.ndarray, probs: np.ndarray) -> float:
    """Fraction of samples whose highest-probability class is the label."""
    labels, probs = _check(labels, probs)
    return float(np.mean(probs.argmax(1) == labels)) if labels.size else 0.0


def top_k_accuracy(labels: np.ndarray, probs: np.ndarray, k: int) -> float:
    """Caffe's Accuracy layer with ``top_k``: correct when fewer than k classes score strictly higher
    than the true class (ties count in the label's favour)."""
    labels, probs = _check(labels, probs)
    if not labels.size:
        return 0.0
    true = probs[np.arange(labels.size), labels]
    better = (probs > true[:, None]).sum(1)
    return float(np.mean(better < k))


def confusion_counts(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> np.ndarray:
    """``C[i, j]`` = number of samples of true class i predicted as j (int64, K x K)."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    preds = np.asarray(preds, dtype=np.int64).reshape(-1)
    c = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(c, (labels, preds), 1)
    return c


def row_normalize(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (the recall of each true class on the diagonal); empty rows stay 0."""
    counts = np.asarray(counts, dtype=np.float64)
    sums = counts.sum(1, keepdims=True)
    return np.divide(counts, sums, out=np.zeros_like(counts), where=sums > 0)


def classification_report(labels: np.ndarray, preds: np.ndarray, class_names: Sequence[str]) -> dict:
    """Per-class precision, recall, F1 and support plus macro and weighted averages (scikit-learn).

    Classes are always all of ``class_names`` (a class absent from the data has support 0 and scores 0).
    """
    ks = list(range(len(class_names)))
    return skm.classification_report(labels, preds, labels=ks, target_names=list(class_names),
                                     output_dict=True, zero_division=0)


def report_text(labels: np.ndarray, preds: np.ndarray, class_names: Sequence[str]) -> str:
    return skm.classification_report(labels, preds, labels=list(range(len(class_names))),
                                     target_names=list(class_names), zero_division=0, digits=4)


@dataclass
class RocCurves:
    """One-vs-rest ROC of each class, the micro average (all decisions pooled) and the macro average.

    ``auc[k]`` is None for a class with no positive or no negative sample (its curve is undefined).
    ``macro_auc`` is the mean of the defined per-class AUCs (scikit-learn's ``roc_auc_score``
    ``average="macro"``); ``macro_fpr``/``macro_tpr`` is the mean of their TPRs on the union of FPRs.
    """
    fpr: list[np.ndarray | None] = field(default_factory=list)
    tpr: list[np.ndarray | None] = field(default_factory=list)
    auc: list[float | None] = field(default_factory=list)
    micro_fpr: np.ndarray | None = None
    micro_tpr: np.ndarray | None = None
    micro_auc: float | None = None
    macro_fpr: np.ndarray | None = None
    macro_tpr: np.ndarray | None = None
    macro_auc: float | None = None


def roc_curves(labels: np.ndarray, probs: np.ndarray) -> RocCurves:
    """One-vs-rest ROC curves and AUCs from the predicted probabilities."""
    labels, probs = _check(labels, probs)
    k = probs.shape[1]
    onehot = np.zeros_like(probs, dtype=np.int64)
    onehot[np.arange(labels.size), labels] = 1
    r = RocCurves()
    for c in range(k):
        pos = int(onehot[:, c].sum())
        if pos == 0 or pos == labels.size:
            r.fpr.append(None), r.tpr.append(None), r.auc.append(None)
            continue
        fpr, tpr, _ = skm.roc_curve(onehot[:, c], probs[:, c])
        r.fpr.append(fpr), r.tpr.append(tpr), r.auc.append(float(skm.auc(fpr, tpr)))
    if labels.size and k > 1:
        r.micro_fpr, r.micro_tpr, _ = skm.roc_curve(onehot.ravel(), probs.ravel())
        r.micro_auc = float(skm.auc(r.micro_fpr, r.micro_tpr))
    defined = [c for c in range(k) if r.auc[c] is not None]
    if defined:
        grid = np.unique(np.concatenate([r.fpr[c] for c in defined]))
        r.macro_fpr = grid
        r.macro_tpr = np.mean([np.interp(grid, r.fpr[c], r.tpr[c]) for c in defined], axis=0)
        r.macro_auc = float(np.mean([r.auc[c] for c in defined]))
    return r


def evaluate(labels: np.ndarray, probs: np.ndarray, class_names: Sequence[str], top_k: int = 2) -> dict:
    """Every number ``tools/evaluate`` reports, JSON-ready (lists, floats, None for undefined AUCs)."""
    labels, probs = _check(labels, probs)
    if len(class_names) != probs.shape[1]:
        raise CaffeError(f"{len(class_names)} class names for {probs.shape[1]} net outputs")
    preds = probs.argmax(1)
    counts = confusion_counts(labels, preds, probs.shape[1])
    roc = roc_curves(labels, probs)
    return {
        "num_samples": int(labels.size),
        "classes": list(class_names),
        "accuracy": accuracy(labels, probs),
        "top_k": int(top_k),
        "top_k_accuracy": top_k_accuracy(labels, probs, top_k),
        "report": classification_report(labels, preds, class_names),
        "confusion": counts.tolist(),
        "confusion_normalized": row_normalize(counts).tolist(),
        "roc_auc": {
            "per_class": {n: a for n, a in zip(class_names, roc.auc)},
            "micro": roc.micro_auc,
            "macro": roc.macro_auc,
        },
    }


def confusion_text(counts: np.ndarray, class_names: Sequence[str]) -> str:
    """The count matrix as an aligned table: rows are true classes, columns predictions."""
    counts = np.asarray(counts)
    w = max(6, max(len(n) for n in class_names), len(str(int(counts.max()))) if counts.size else 1)
    head = " " * w + " " + " ".join(n[:w].rjust(w) for n in class_names)
    rows = [n.rjust(w) + " " + " ".join(str(int(v)).rjust(w) for v in row)
            for n, row in zip(class_names, counts)]
    return "\n".join(["true \\ predicted", head, *rows])
