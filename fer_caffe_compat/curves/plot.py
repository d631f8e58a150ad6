"""The training charts of Caffe's plot_training_log.py / plot_log.gnuplot, with several logs overlaid."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ..fsutil import atomic_path  # noqa: E402
from .parse import created_year, parse_log, read_lines  # noqa: E402

# file name -> (table, x column, y column, x label, y label)
CHARTS = {
    "train_loss_vs_iters.png": ("train", "NumIters", "loss", "Iterations", "Training loss"),
    "train_loss_vs_seconds.png": ("train", "Seconds", "loss", "Seconds", "Training loss"),
    "test_accuracy_vs_iters.png": ("test", "NumIters", "accuracy", "Iterations", "Test accuracy"),
    "test_loss_vs_iters.png": ("test", "NumIters", "loss", "Iterations", "Test loss"),
    "learning_rate_vs_iters.png": ("train", "NumIters", "LearningRate", "Iterations", "Learning rate"),
}


def load(path: str | os.PathLike) -> dict[str, list[dict]]:
    train, test = parse_log(read_lines(path), created_year(path), str(path))
    return {"train": train, "test": test}


def plot_logs(logs: list[str | os.PathLike], out_dir: str | os.PathLike) -> list[Path]:
    """Write every chart (one line per log) into ``out_dir``; charts no log has data for are skipped."""
    tables = {str(p): load(p) for p in logs}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, (table, xk, yk, xl, yl) in CHARTS.items():
        fig, ax = plt.subplots(figsize=(8, 5))
        drawn = False
        for name, t in tables.items():
            rows = [r for r in t[table] if xk in r and yk in r]
            if not rows:
                continue
            kw = {"drawstyle": "steps-post"} if yk == "LearningRate" else {}
            ax.plot([r[xk] for r in rows], [r[yk] for r in rows], label=Path(name).name,
                    marker="o" if table == "test" else None, **kw)
            drawn = True
        if drawn:
            ax.set_xlabel(xl)
            ax.set_ylabel(yl)
            ax.set_title(f"{yl} vs. {xl.lower()}")
            ax.grid(True, alpha=0.3)
            ax.legend()
            fig.tight_layout()
            with atomic_path(out / fname) as tmp:
                fig.savefig(tmp, format="png", dpi=100)
            written.append(out / fname)
        plt.close(fig)
    return written
