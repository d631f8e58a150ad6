"""Caffe's learning-rate policies (SGDSolver::GetLearningRate) as pure functions of the iteration.

``learning_rate(param, it, current_step)`` returns ``(rate, current_step)``: ``current_step`` is the
state Caffe keeps for ``multistep`` (and sets for ``step``) and saves in the .solverstate. The rate is
rounded to float32 as Caffe's ``Dtype rate`` is; float32 parts are computed in float32 where Caffe does.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ..errors import CaffeError
from ..proto import caffe_pb2

F32 = np.float32


def _fixed(p, it, step):
    return float(p.base_lr), step


def _step(p, it, step):
    _check(p.stepsize > 0, p, "stepsize must be > 0")
    step = it // p.stepsize
    return float(F32(p.base_lr) * math.pow(F32(p.gamma), step)), step


def _exp(p, it, step):
    return float(F32(p.base_lr) * math.pow(F32(p.gamma), it)), step


def _inv(p, it, step):
    base = F32(1) + F32(p.gamma) * F32(it)
    return float(F32(p.base_lr) * np.power(base, -F32(p.power), dtype=F32)), step


def _multistep(p, it, step):
    # Caffe advances at most one step per call, and logs it (sgd_solver.cpp:50).
    if step < len(p.stepvalue) and it >= p.stepvalue[step]:
        step += 1
        from .. import log
        log.info("sgd_solver.cpp:50", f"MultiStep Status: Iteration {it}, step = {step}")
    return float(F32(p.base_lr) * math.pow(F32(p.gamma), step)), step


def _poly(p, it, step):
    frac = F32(1) - F32(it) / F32(p.max_iter)
    return float(F32(p.base_lr) * np.power(frac, F32(p.power), dtype=F32)), step


def _sigmoid(p, it, step):
    _check(p.stepsize > 0, p, "stepsize must be > 0")
    z = -F32(p.gamma) * (F32(it) - F32(p.stepsize))
    return float(F32(p.base_lr) * (F32(1) / (F32(1) + np.exp(z, dtype=F32)))), step


POLICIES: dict[str, Callable] = {
    "fixed": _fixed, "step": _step, "exp": _exp, "inv": _inv,
    "multistep": _multistep, "poly": _poly, "sigmoid": _sigmoid,
}


def _check(ok: bool, p, what: str) -> None:
    if not ok:
        raise CaffeError(f"solver: lr_policy \"{p.lr_policy}\": {what}")


def check_policy(p: caffe_pb2.SolverParameter, source: str = "solver") -> None:
    """Caffe's checks, done once before training so a bad solver fails before any work."""
    if p.lr_policy not in POLICIES:
        raise CaffeError(f"{source}: unknown lr_policy \"{p.lr_policy}\" "
                         f"(known: {', '.join(POLICIES)})")
    if p.lr_policy in ("step", "exp", "inv", "multistep", "sigmoid") and p.gamma < 0:
        raise CaffeError(f"{source}: lr_policy \"{p.lr_policy}\" needs gamma >= 0, got {p.gamma:g}")
    if p.lr_policy in ("step", "sigmoid") and p.stepsize <= 0:
        raise CaffeError(f"{source}: lr_policy \"{p.lr_policy}\" needs stepsize > 0")
    if p.lr_policy == "poly" and p.max_iter <= 0:
        raise CaffeError(f"{source}: lr_policy \"poly\" needs max_iter > 0")


def learning_rate(p: caffe_pb2.SolverParameter, it: int, current_step: int = 0) -> tuple[float, int]:
    """The rate Caffe uses for the update of iteration ``it`` (0-based) and the new current_step."""
    fn = POLICIES.get(p.lr_policy)
    if fn is None:
        raise CaffeError(f"solver: unknown lr_policy \"{p.lr_policy}\" (known: {', '.join(POLICIES)})")
    rate, step = fn(p, it, current_step)
    return float(F32(rate)), step
