"""bench_data --csv fer2013.csv.gz: time `make lmdb`'s steps (seconds and images/s per step)."""
from __future__ import annotations

import tempfile
import time

from ..data.prepare import prepare_fer
from .common import ArgumentParser, run


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="bench_data", description=__doc__.split("\n")[0])
    p.add_argument("--csv", required=True, help="FER CSV to convert (into a temporary folder)")
    p.add_argument("--tmp", default=None, help="where the temporary output goes (default: data/)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_data_", dir=a.tmp or None) as out:
        t0 = time.perf_counter()
        timings = prepare_fer(a.csv, out, progress=False)
        total = time.perf_counter() - t0
    print(f"{'step':<14} {'seconds':>8} {'images':>8} {'images/s':>10}")
    for name, secs, n in timings.steps:
        print(f"{name:<14} {secs:8.2f} {n:8d} {n / max(secs, 1e-9):10.0f}")
    n = timings.steps[0][2]
    print(f"{'total':<14} {total:8.2f} {n:8d} {n / total:10.0f}")
    return 0


if __name__ == "__main__":
    run(main, "bench_data")
