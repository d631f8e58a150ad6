"""PNG charts of an evaluation: the row-normalised confusion heat map and the ROC curves."""
from __future__ import annotations

import os
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..fsutil import atomic_path  # noqa: E402
from .metrics import RocCurves, row_normalize  # noqa: E402

DPI = 100
CONFUSION_SIZE = (800, 700)  # width, height in pixels
ROC_SIZE = (800, 700)


def _figure(size: tuple[int, int]):
    return plt.figure(figsize=(size[0] / DPI, size[1] / DPI), dpi=DPI)


def save_figure(fig, path: str | os.PathLike) -> None:
    """Write ``fig`` as a PNG atomically (no bbox trimming, so the pixel size is the figure's)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=DPI)
    finally:
        plt.close(fig)


def plot_confusion(path: str | os.PathLike, counts: np.ndarray, class_names: Sequence[str],
                   title: str = "Confusion matrix (rows normalised)") -> None:
    """Heat map of the row-normalised confusion matrix; each cell shows its fraction and its count."""
    counts = np.asarray(counts)
    norm = row_normalize(counts)
    k = len(class_names)
    fig = _figure(CONFUSION_SIZE)
    ax = fig.add_axes((0.17, 0.17, 0.68, 0.74))
    im = ax.imshow(norm, cmap="Blues", vmin=0.0, vmax=1.0)
    cax = fig.add_axes((0.88, 0.17, 0.03, 0.74))
    fig.colorbar(im, cax=cax, label="fraction of the true class")
    ax.set_xticks(range(k), labels=class_names, rotation=45, ha="right")
    ax.set_yticks(range(k), labels=class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    small = max(5, min(10, 70 // max(k, 1)))
    for i in range(k):
        for j in range(k):
            colour = "white" if norm[i, j] > 0.5 else "black"
            ax.text(j, i, f"{norm[i, j]:.2f}\n({int(counts[i, j])})", ha="center", va="center",
                    color=colour, fontsize=small)
    save_figure(fig, path)


def plot_roc(path: str | os.PathLike, roc: RocCurves, class_names: Sequence[str],
             title: str = "ROC, one class vs rest (from probabilities)") -> None:
    """Every class's ROC curve, the micro and the macro average, with their AUCs, in one chart."""
    fig = _figure(ROC_SIZE)
    ax = fig.add_axes((0.1, 0.1, 0.85, 0.82))
    cmap = plt.get_cmap("tab10" if len(class_names) <= 10 else "tab20")
    for c, name in enumerate(class_names):
        if roc.auc[c] is None:
            ax.plot([], [], color=cmap(c % cmap.N), label=f"{name} (no AUC: one-sided)")
            continue
        ax.plot(roc.fpr[c], roc.tpr[c], color=cmap(c % cmap.N), lw=1.5,
                label=f"{name} (AUC = {roc.auc[c]:.3f})")
    if roc.micro_auc is not None:
        ax.plot(roc.micro_fpr, roc.micro_tpr, "k:", lw=2.5, label=f"micro-average (AUC = {roc.micro_auc:.3f})")
    if roc.macro_auc is not None:
        ax.plot(roc.macro_fpr, roc.macro_tpr, color="navy", ls="--", lw=2.5,
                label=f"macro-average (mean AUC = {roc.macro_auc:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="-")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, path)
