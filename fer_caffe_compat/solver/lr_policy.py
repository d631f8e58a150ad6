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


# -- extensions (not in Caffe 1.0): computed in double, rounded to float32 like Caffe's rates ----------
def _cosine(p, it, step):
    frac = min(it, p.max_iter) / p.max_iter
    return p.min_lr + (p.base_lr - p.min_lr) * 0.5 * (1 + math.cos(math.pi * frac)), step


def _onecycle_phase(p, it) -> tuple[float, float]:
    """(fraction of the current phase done, 0 while rising / 1 while falling), as torch's OneCycleLR."""
    rise_end = float(p.onecycle_pct_start) * p.max_iter - 1
    if it <= rise_end:
        return (it / rise_end if rise_end > 0 else 1.0), 0
    return min((it - rise_end) / (p.max_iter - 1 - rise_end), 1.0), 1


def _cos_between(a: float, b: float, frac: float) -> float:
    return b + (a - b) * 0.5 * (1 + math.cos(math.pi * frac))


def _onecycle(p, it, step):
    peak = float(p.base_lr)
    start = peak / p.onecycle_div_factor
    frac, falling = _onecycle_phase(p, it)
    if not falling:
        return _cos_between(start, peak, frac), step
    return _cos_between(peak, start / p.onecycle_final_div_factor, frac), step


POLICIES: dict[str, Callable] = {
    "fixed": _fixed, "step": _step, "exp": _exp, "inv": _inv,
    "multistep": _multistep, "poly": _poly, "sigmoid": _sigmoid,
    "cosine": _cosine, "onecycle": _onecycle,
}


def _check(ok: bool, p, what: str) -> None:
    if not ok:
        raise CaffeError(f"solver: lr_policy \"{p.lr_policy}\": {what}")


def check_policy(p: caffe_pb2.SolverParameter, source: str = "solver") -> None:
    """Caffe's checks, done once before training so a bad solver fails before any work."""
    if p.lr_policy not in POLICIES:
        raise CaffeError(f"{source}: unknown lr_policy \"{p.lr_policy}\" "
                         f"(known: {', '.join(POLICIES)})")
    if p.lr_policy in ("step", "exp", "inv", "multistep", "sigmoid") and not p.gamma > 0:
        raise CaffeError(f"{source}: lr_policy \"{p.lr_policy}\" needs gamma > 0, got {p.gamma:g}")
    if p.lr_policy in ("step", "sigmoid") and p.stepsize <= 0:
        raise CaffeError(f"{source}: lr_policy \"{p.lr_policy}\" needs stepsize > 0")
    if p.lr_policy == "poly" and p.max_iter <= 0:
        raise CaffeError(f"{source}: lr_policy \"poly\" needs max_iter > 0")
    _check_extensions(p, source)


def _check_extensions(p: caffe_pb2.SolverParameter, source: str) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise CaffeError(f"{source}: {what}")
    if p.lr_policy in ("cosine", "onecycle"):
        need(p.max_iter > 0, f"lr_policy \"{p.lr_policy}\" needs max_iter > 0")
    if p.lr_policy == "cosine":
        need(0 <= p.min_lr <= p.base_lr, f"min_lr must be in [0, base_lr], got {p.min_lr:g}")
    if p.lr_policy == "onecycle":
        need(0 < p.onecycle_pct_start < 1, f"onecycle_pct_start must be in (0, 1), got {p.onecycle_pct_start:g}")
        need(p.onecycle_div_factor > 0 and p.onecycle_final_div_factor > 0,
             "onecycle_div_factor and onecycle_final_div_factor must be > 0")
    if p.HasField("min_momentum"):
        need(p.lr_policy == "onecycle", "min_momentum is only used by lr_policy \"onecycle\"")
        need(0 <= p.min_momentum <= p.momentum, f"min_momentum must be in [0, momentum], got {p.min_momentum:g}")
    need(p.warmup_iter >= 0, f"warmup_iter must be >= 0, got {p.warmup_iter}")
    need(0 <= p.warmup_start_factor <= 1, f"warmup_start_factor must be in [0, 1], got {p.warmup_start_factor:g}")


def momentum(p: caffe_pb2.SolverParameter, it: int) -> float:
    """The momentum of iteration ``it``: Caffe's constant, or onecycle's cycle (extension) from momentum
    down to min_momentum while the rate rises, and back while it falls."""
    if p.lr_policy != "onecycle" or not p.HasField("min_momentum"):
        return float(p.momentum)
    frac, falling = _onecycle_phase(p, it)
    hi, lo = float(p.momentum), float(p.min_momentum)
    return _cos_between(lo, hi, frac) if falling else _cos_between(hi, lo, frac)


def learning_rate(p: caffe_pb2.SolverParameter, it: int, current_step: int = 0) -> tuple[float, int]:
    """The rate Caffe uses for the update of iteration ``it`` (0-based) and the new current_step."""
    fn = POLICIES.get(p.lr_policy)
    if fn is None:
        raise CaffeError(f"solver: unknown lr_policy \"{p.lr_policy}\" (known: {', '.join(POLICIES)})")
    rate, step = fn(p, it, current_step)
    if it < p.warmup_iter:  # extension: linear warm-up in front of any policy
        rate *= p.warmup_start_factor + (1 - p.warmup_start_factor) * it / p.warmup_iter
    return float(F32(rate)), step
