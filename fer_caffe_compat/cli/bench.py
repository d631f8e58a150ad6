"""make bench: tools/train's loop on the real FER2013 LMDBs, against a frozen batch, plain PyTorch and Caffe.

One run, one table (also written as JSON with ``--json``). Every measurement alternates with the others in
rounds and the table gives each one's median, so a ratio compares numbers taken under the same load:

- LeNet-FER and AlexNet-48 (their solvers, their nets, data/fer2013): ms/iter of tools/train's loop
  (Solver.step: the Data layer's prefetch thread, forward, backward, Caffe's update) on the real LMDB;
  of the same loop on a frozen batch (the data path taken out); of a hand-written PyTorch loop reading
  the same LMDB through a plain Dataset/DataLoader (nn.Sequential + torch.optim.SGD); with
  ``CAFFE_BIN=path/to/caffe``, of ``caffe train`` on the same solver; and the ratios.
- LeNet-FER's iteration taken apart (bench_parts.py): data, forward, loss read-back, backward, update, the
  rest of Solver.step;
- the data path alone (Data layer, 48x48 with crop 44, mirror and mean, batch 256): images/s from the
  decoded copy in memory, record by record, and from an encoded (JPEG) LMDB;
- ``make lmdb``: seconds for the CSV (``--csv``, default ../shared/data/fer2013_dev.csv.gz, if present);
- memory format and precision (``--options``): fp32/bf16 x NCHW/channels-last on LeNet, AlexNet-48, a
  VGG-style BatchNorm net and the reference ResNet-50 (224x224, batch 4), on a frozen batch.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from .. import log
from ..errors import CaffeError
from ..proto import caffe_pb2, read_prototxt
from .common import ArgumentParser, run


@dataclass
class Case:
    name: str
    solver: str
    deploy: str
    plain: Callable[[], nn.Module]


def _lenet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
                         nn.Flatten(), nn.Linear(50 * 9 * 9, 500), nn.ReLU(inplace=True), nn.Linear(500, 7))


def _alexnet48() -> nn.Module:
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(1, 96, 11, stride=4, padding=5), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Flatten(), nn.Linear(256, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4096, 7))


CASES = [Case("LeNet-FER", "solvers/lenet_solver.prototxt", "nets/lenet_deploy.prototxt", _lenet),
         Case("AlexNet-48", "solvers/alexnet_solver.prototxt", "nets/alexnet_deploy.prototxt", _alexnet48)]


# ------------------------------------------------------------------------------- timing
def timed_ms(step: Callable[[], object], iters: int) -> float:
    t = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t) * 1000 / iters


def alternate(measures: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """The median of each measurement (a callable giving ms/iter), taken round after round in turn; each
    round starts one further along, so no measurement always follows the same one (the DataLoader's
    workers, for one, refill their queue after the plain loop)."""
    out: dict[str, list[float]] = {k: [] for k in measures}
    keys = list(measures)
    for r in range(rounds):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            out[k].append(measures[k]())
    return {k: statistics.median(v) for k, v in out.items()}


def loop(step: Callable[[], object], iters: int, warmup: int) -> Callable[[], float]:
    """A measurement: ms/iter over ``iters`` calls of ``step`` (after ``warmup`` calls, the first time)."""
    first = [True]

    def measure() -> float:
        if first[0]:
            timed_ms(step, warmup)
            first[0] = False
        return timed_ms(step, iters)
    return measure


# ------------------------------------------------------------------------------- the loops
def bench_solver_param(path: str, **speed) -> caffe_pb2.SolverParameter:
    """The solver file with its train net only: no tests, snapshots or display, CPU, a fixed seed."""
    p = read_prototxt(path, caffe_pb2.SolverParameter())
    p.max_iter, p.display, p.test_interval, p.snapshot = 1 << 30, 0, 0, 0
    del p.test_iter[:]
    p.snapshot_after_train, p.random_seed = False, 1
    p.solver_mode = caffe_pb2.SolverParameter.CPU
    p.snapshot_prefix = os.path.join(tempfile.gettempdir(), "bench")
    for k, v in speed.items():
        setattr(p, k, v)
    return p


def ours_steppers(case: Case) -> tuple[Callable[[], None], Callable[[], None]]:
    """tools/train's loop on the real LMDB, and the same loop on a frozen batch (the first one it read)."""
    from ..solver.solver import Solver

    s = Solver(bench_solver_param(case.solver), case.solver)
    layer = next(layer for layer in s.net.layers if hasattr(layer, "next_batch"))
    real = layer.next_batch
    frozen = [t.clone() for t in real(s.net.device)]

    def frozen_step() -> None:
        layer.next_batch = lambda device: frozen
        try:
            s.step(1)
        finally:
            layer.next_batch = real
    return (lambda: s.step(1)), frozen_step


class LmdbDataset(torch.utils.data.Dataset):
    """What a PyTorch user writes for Caffe's LMDB: one Datum per item, mean, scale, crop and mirror in numpy."""

    def __init__(self, path: str, tp: caffe_pb2.TransformationParameter):
        from ..io.blob import read_blob_file
        from ..io.db import iter_records

        self.path, self.env = path, None
        self.keys = [k for k, _ in iter_records(path)]
        self.mean = read_blob_file(tp.mean_file)[0] if tp.mean_file else np.float32(0)
        self.scale, self.crop, self.mirror = np.float32(tp.scale), int(tp.crop_size), bool(tp.mirror)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int):
        import lmdb

        from ..io.db import datum_to_array, parse_datum

        if self.env is None:
            self.env = lmdb.open(self.path, readonly=True, lock=False, readahead=False)
        with self.env.begin() as txn:
            d = parse_datum(txn.get(self.keys[i]))
        x = (datum_to_array(d).astype(np.float32) - self.mean) * self.scale
        if self.crop:
            h = np.random.randint(x.shape[1] - self.crop + 1)
            w = np.random.randint(x.shape[2] - self.crop + 1)
            x = x[:, h:h + self.crop, w:w + self.crop]
        if self.mirror and np.random.randint(2):
            x = x[:, :, ::-1]
        return torch.from_numpy(np.ascontiguousarray(x)), d.label


def plain_stepper(case: Case, workers: int = 2) -> Callable[[], None]:
    """A hand-written PyTorch loop on the same LMDB, model and hyper-parameters (DataLoader, optim.SGD)."""
    from ..net import load_net_param

    sp = read_prototxt(case.solver, caffe_pb2.SolverParameter())
    data = next(lp for lp in load_net_param(sp.net).layer if lp.type == "Data"
                and not any(r.phase == caffe_pb2.TEST for r in lp.include))
    torch.manual_seed(1)
    model = case.plain()
    loader = torch.utils.data.DataLoader(LmdbDataset(data.data_param.source, data.transform_param),
                                         batch_size=data.data_param.batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers, persistent_workers=workers > 0)
    opt = torch.optim.SGD(model.parameters(), lr=sp.base_lr, momentum=sp.momentum, weight_decay=sp.weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    batches = iter(loader)

    def step() -> None:
        nonlocal batches
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            x, y = next(batches)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        float(loss.detach())  # the loop reads the loss each iteration, as the Solver does
    return step


# ------------------------------------------------------------------------------- Caffe
_CAFFE_ITER = re.compile(r"solver\.cpp:\d+\] Iteration (\d+) \(([\d.e+-]+|inf) iter/s, ([\d.e+-]+)s/(\d+) iters\)")


def caffe_ms_per_iter(log_text: str) -> float:
    """ms/iter from the last ``Iteration N (x iter/s, Ys/D iters)`` line of a Caffe log (Caffe 1.0's display)."""
    found = _CAFFE_ITER.findall(log_text)
    if len(found) < 2:
        raise CaffeError("caffe train: fewer than two 'Iteration N (... iter/s, ...s/D iters)' lines in its log")
    _, _, secs, every = found[-1]
    return float(secs) * 1000 / int(every)


def caffe_stepper(caffe: str, case: Case, iters: int, workdir: str) -> Callable[[], float]:
    """One ``caffe train`` run of 2 x ``iters`` iterations (display every ``iters``): its ms/iter."""
    p = bench_solver_param(case.solver)
    p.max_iter, p.display = 2 * iters, iters
    p.snapshot_prefix = os.path.join(workdir, "caffe_bench")
    path = os.path.join(workdir, Path(case.solver).name)
    from google.protobuf import text_format
    with open(path, "w") as f:
        f.write(text_format.MessageToString(p))

    def run_caffe() -> float:
        proc = subprocess.run([caffe, "train", f"--solver={path}"], capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise CaffeError(f"{caffe} train --solver={path} exited with {proc.returncode}: {last}")
        return caffe_ms_per_iter(proc.stderr + proc.stdout)
    return run_caffe


# ------------------------------------------------------------------------------- the run
def main(argv: list[str]) -> int:
    ap = ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=10, help="timed iterations per measurement (default 10)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the table gives medians")
    ap.add_argument("--data", default="data/fer2013", help="the folder make lmdb wrote (default data/fer2013)")
    ap.add_argument("--csv", default=os.environ.get("BENCH_CSV", "../shared/data/fer2013_dev.csv.gz"),
                    help="the CSV to time make lmdb on (skipped when absent)")
    ap.add_argument("--caffe", default=os.environ.get("CAFFE_BIN"), help="a caffe binary to alternate with")
    ap.add_argument("--options", action=argparse.BooleanOptionalAction, default=True,
                    help="also time fp32/bf16 x NCHW/channels_last (default on)")
    ap.add_argument("--json", default="logs/bench.json", help="where the JSON goes (default logs/bench.json)")
    ap.add_argument("--only", default="", help="comma-separated sections: train, parts, pycaffe, data, lmdb, options")
    a = ap.parse_args(argv)
    sections = set(a.only.split(",")) if a.only else {"train", "parts", "pycaffe", "data", "lmdb", "options"}
    if not a.options:
        sections.discard("options")
    if sections & {"train", "parts", "pycaffe", "data"}:
        for need in ("train_lmdb", "val_lmdb", "mean.binaryproto"):
            if not os.path.exists(os.path.join(a.data, need)):
                raise CaffeError(f"{a.data}/{need} is missing: make bench trains on the FER2013 LMDBs; build them "
                                 f"first with make lmdb CSV=path/to/fer2013.csv")
    log.quiet = True
    from .bench_data import data_path_rows, make_lmdb_rows

    rows: list[tuple[str, float | None, str]] = []
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    if "train" in sections:
        rows += train_rows(a)
    if "parts" in sections:
        from .bench_parts import lenet_part_rows
        rows += lenet_part_rows(a.rounds, a.iters)
    if "pycaffe" in sections:
        from .bench_pycaffe import pycaffe_rows
        rows += pycaffe_rows(a)
    if "data" in sections:
        rows += data_path_rows(a.data, a.rounds)
    if "lmdb" in sections:
        rows += make_lmdb_rows(a.csv)
    if "options" in sections:
        from .bench_options import option_rows
        rows += option_rows(a)
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
            "loadavg_start": load0, "loadavg_end": os.getloadavg(), "seconds": round(time.perf_counter() - t0, 1),
            "rounds": a.rounds, "iters": a.iters, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"CPU, {meta['threads']} threads, torch {meta['torch']}; medians of {a.rounds} alternating rounds of "
          f"{a.iters} iterations; load average {load0[0]:.1f} at the start, {meta['loadavg_end'][0]:.1f} at the end")
    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"| {'measurement':<{width}} | {'value':>10} | unit |")
    print(f"| {'-' * width} | {'-' * 10} | ---- |")
    for name, value, unit in rows:
        shown = "n/a" if value is None else f"{value:.3g}" if unit == "ratio" else f"{value:,.1f}"
        print(f"| {name:<{width}} | {shown:>10} | {unit} |")
    if a.json:
        from ..fsutil import atomic_path
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(a.json) as tmp:
            Path(tmp).write_text(json.dumps({"meta": meta, "rows": [{"measurement": n, "value": v, "unit": u}
                                                                    for n, v, u in rows]}, indent=1) + "\n")
        print(f"(also in {a.json})")
    return 0


def train_rows(a) -> list[tuple[str, float | None, str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_") as work:
        for case in CASES:
            real, frozen = ours_steppers(case)
            measures = {"real": loop(real, a.iters, a.warmup), "frozen": loop(frozen, a.iters, a.warmup),
                        "plain": loop(plain_stepper(case), a.iters, a.warmup)}
            if a.caffe:
                measures["caffe"] = caffe_stepper(a.caffe, case, a.iters, work)
            med = alternate(measures, a.rounds)
            c, n = med.get("caffe"), case.name
            rows += [(f"{n}: tools/train, real LMDB", med["real"], "ms/iter"),
                     (f"{n}: tools/train, frozen batch", med["frozen"], "ms/iter"),
                     (f"{n}: plain PyTorch + DataLoader, real LMDB", med["plain"], "ms/iter"),
                     (f"{n}: real / frozen", med["real"] / med["frozen"], "ratio"),
                     (f"{n}: tools/train / plain PyTorch", med["real"] / med["plain"], "ratio"),
                     (f"{n}: caffe train (CAFFE_BIN)", c, "ms/iter"),
                     (f"{n}: tools/train / caffe train", med["real"] / c if c else None, "ratio")]
            del real, frozen, measures
    return rows


if __name__ == "__main__":
    run(main, "bench")
