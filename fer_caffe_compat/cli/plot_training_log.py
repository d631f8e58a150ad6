"""tools/plot_training_log LOG [LOG ...] [--out DIR]: training curves as PNGs (matplotlib), logs overlaid.

Charts: training loss vs. iterations and vs. seconds, test accuracy and test loss vs. iterations,
learning rate vs. iterations. The default folder is <first log without .log>_curves/.
"""
from __future__ import annotations

from pathlib import Path

from ..curves.plot import plot_logs
from ..errors import CaffeError
from .common import ArgumentParser, run


def main(argv: list[str]) -> int:
    ap = ArgumentParser(prog="plot_training_log", description=__doc__.split("\n")[0])
    ap.add_argument("logs", nargs="+", help="Caffe training logs (glog), ours or Caffe's")
    ap.add_argument("--out", help="folder for the PNGs")
    a = ap.parse_args(argv)
    first = Path(a.logs[0])
    out = Path(a.out) if a.out else first.with_name(first.name.removesuffix(".log") + "_curves")
    written = plot_logs(a.logs, out)
    if not written:
        raise CaffeError(f"{', '.join(a.logs)}: no training or test output lines to plot")
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    run(main, "plot_training_log")
