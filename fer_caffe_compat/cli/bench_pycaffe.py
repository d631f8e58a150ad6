"""make bench's pycaffe section: `import caffe` against the tools it fronts, alternated in one run.

- LeNet-FER: a ``solver.step(1)`` loop of ``caffe.get_solver`` against tools/train's loop (Solver.step) on the
  same solver file (its train net only, as the train section times it) and the real LMDB;
- AlexNet-48: ``net.forward()`` of ``caffe.Net(deploy, caffe.TEST)`` against tools/time's forward pass (the
  "Average Forward pass" of ``caffe time``: the layers one by one, as net_timing runs them) on the same net.
The targets (issue 21): both ratios at most 1.05.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np
import torch

from ..proto import write_prototxt
from .bench import CASES, alternate, bench_solver_param, loop, ours_steppers


def _pycaffe_stepper(solver_file: str, work: str):
    import caffe

    path = os.path.join(work, "solver.prototxt")
    write_prototxt(path, bench_solver_param(solver_file))
    caffe.set_mode_cpu()
    s = caffe.get_solver(path)
    return lambda: s.step(1)


def _forwards(deploy: str, iters: int):
    """(tools/time's forward, pycaffe's net.forward()) as measurements in ms per pass."""
    import caffe

    from ..net import Net as CoreNet
    from ..net_timing import time_net

    core = CoreNet.from_file(deploy, phase=1)
    net = caffe.Net(deploy, caffe.TEST)
    x = np.random.default_rng(0).standard_normal(net.blobs[net.inputs[0]].data.shape).astype(np.float32)
    net.blobs[net.inputs[0]].data[...] = x

    def time_forward() -> float:
        return time_net(core, iters).forward_total_ms / iters
    return time_forward, loop(net.forward, iters, 1)


def pycaffe_rows(a) -> list[tuple[str, float | None, str]]:
    lenet, alexnet = CASES[0], CASES[1]
    with tempfile.TemporaryDirectory(prefix="bench_pycaffe_") as work:
        train_step, _ = ours_steppers(lenet)
        med = alternate({"train": loop(train_step, a.iters, a.warmup),
                         "pycaffe": loop(_pycaffe_stepper(lenet.solver, work), a.iters, a.warmup)}, a.rounds)
    rows = [(f"{lenet.name}: tools/train loop, real LMDB", med["train"], "ms/iter"),
            (f"{lenet.name}: pycaffe solver.step(1) loop, real LMDB", med["pycaffe"], "ms/iter"),
            (f"{lenet.name}: pycaffe step / tools/train (target <= 1.05)", med["pycaffe"] / med["train"], "ratio")]
    time_forward, py_forward = _forwards(alexnet.deploy, a.iters)
    med = alternate({"time": time_forward, "pycaffe": py_forward}, a.rounds)
    rows += [(f"{alexnet.name}: tools/time forward ({torch.get_num_threads()} threads)", med["time"], "ms"),
             (f"{alexnet.name}: pycaffe net.forward()", med["pycaffe"], "ms"),
             (f"{alexnet.name}: pycaffe forward / tools/time (target <= 1.05)", med["pycaffe"] / med["time"], "ratio")]
    return rows
