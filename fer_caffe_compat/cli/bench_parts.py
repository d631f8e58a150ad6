"""make bench's per-part times of one tools/train iteration (LeNet-FER): where the milliseconds go.

One iteration of Solver.step taken apart, in its order, on the real LMDB: the Data layer's batch (read,
transform), the forward pass of the computing layers, the loss read back as a float (what Caffe's
display and smoothed loss need), the backward pass, Caffe's update (lr, weight decay, momentum, w -= v);
then the whole Solver.step(1) and what it spends beyond those parts (the loop's own Python: clearing
diffs, the smoothed loss, the display and signal checks). Each part's median over the rounds, in ms.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

PARTS = ("data", "forward", "loss read-back", "backward", "update")


def part_times(solver, iters: int) -> dict[str, float]:
    """ms per iteration of each part, over ``iters`` iterations taken apart as Solver.step runs them."""
    net = solver.net
    data_entries = [e for e in net._entries if e.is_data]
    sums = dict.fromkeys(PARTS, 0.0)
    for _ in range(iters):
        for lp in solver.params:
            lp.param.grad = None
        t0 = time.perf_counter()
        feeds = {t: x for e in data_entries for t, x in zip(e.tops, net.read_data(e.layer))}
        t1 = time.perf_counter()
        out = net(feeds)
        total = net.total_loss(out)
        t2 = time.perf_counter()
        float(total.detach())
        t3 = time.perf_counter()
        total.backward()
        t4 = time.perf_counter()
        solver.apply_update()
        solver.iter += 1
        t5 = time.perf_counter()
        for k, a, b in zip(PARTS, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
            sums[k] += (b - a) * 1000
    return {k: v / iters for k, v in sums.items()}


def part_rows(name: str, make_solver: Callable[[], object], rounds: int, iters: int
              ) -> list[tuple[str, float | None, str]]:
    """The parts and the whole step alternately, ``rounds`` times; medians."""
    s = make_solver()
    part_times(s, 2)
    s.step(2)
    got: dict[str, list[float]] = {k: [] for k in (*PARTS, "step")}
    for _ in range(rounds):
        for k, v in part_times(s, iters).items():
            got[k].append(v)
        t = time.perf_counter()
        s.step(iters)
        got["step"].append((time.perf_counter() - t) * 1000 / iters)
    med = {k: statistics.median(v) for k, v in got.items()}
    rows = [(f"{name}: part: {k}", med[k], "ms/iter") for k in PARTS]
    rows.append((f"{name}: part: rest of Solver.step (step - parts)", med["step"] - sum(med[k] for k in PARTS),
                 "ms/iter"))
    rows.append((f"{name}: Solver.step, real LMDB ({torch.get_num_threads()} threads)", med["step"], "ms/iter"))
    return rows


def lenet_part_rows(rounds: int, iters: int) -> list[tuple[str, float | None, str]]:
    """make bench's section "parts": LeNet-FER's solver (its train net only) on data/fer2013."""
    from ..solver.solver import Solver
    from .bench import CASES, bench_solver_param

    case = CASES[0]
    return part_rows(case.name, lambda: Solver(bench_solver_param(case.solver), case.solver), rounds, iters)
