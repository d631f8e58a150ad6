"""Caffe's update rules (sgd_solver.cpp, nesterov/adagrad/rmsprop/adadelta/adam_solver.cpp) as tensor arithmetic.

Each step follows Caffe's ApplyUpdate for one learnable blob, in Caffe's order:
``clip_scale`` (all blobs together) -> ``normalize`` (iter_size) -> ``regularize`` (weight decay) ->
``compute_update`` (history and the value ``u``); the caller then does ``w -= u`` (Net::Update).
Unlike torch.optim, the SGD history holds the lr-scaled velocity ``v = momentum*v + lr*g``, so a change of
lr only affects new gradients, as in Caffe. Functions work in place on ``g`` and ``history`` (like Caffe's
diff and history blobs) and return the update; nothing here knows about nets or files.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ..errors import CaffeError
from ..net_upgrade import SOLVER_TYPE_NAMES
from ..proto import caffe_pb2

# Legacy SolverParameter.solver_type enum -> type string (Caffe's UpgradeSolverType).
# Number of history sets each type keeps (Adam/AdaDelta add a second set after the first).
HISTORY_SETS = {"SGD": 1, "Nesterov": 1, "AdaGrad": 1, "RMSProp": 1, "AdaDelta": 2, "Adam": 2}


@dataclass(frozen=True)
class Hyper:
    """The solver constants an update rule reads (SolverParameter fields)."""
    momentum: float = 0.0
    momentum2: float = 0.999
    delta: float = 1e-8
    rms_decay: float = 0.99

    @classmethod
    def from_param(cls, p: caffe_pb2.SolverParameter) -> "Hyper":
        return cls(p.momentum, p.momentum2, p.delta, p.rms_decay)


def solver_type(p: caffe_pb2.SolverParameter, source: str = "solver") -> str:
    """The solver type, with the legacy enum honoured and Caffe's per-type checks applied."""
    kind = p.type
    if p.HasField("solver_type"):
        legacy = SOLVER_TYPE_NAMES.get(p.solver_type)
        if p.HasField("type") and p.type != legacy:
            raise CaffeError(f"{source}: solver_type {legacy} conflicts with type \"{p.type}\"")
        kind = legacy
    if kind not in HISTORY_SETS:
        raise CaffeError(f"{source}: unknown solver type \"{kind}\" (known types: {', '.join(HISTORY_SETS)})")
    if kind in ("AdaGrad", "RMSProp") and p.momentum != 0:
        raise CaffeError(f"{source}: momentum cannot be used with {kind} (momentum: {p.momentum:g})")
    if kind == "RMSProp" and not 0 <= p.rms_decay <= 1:
        raise CaffeError(f"{source}: rms_decay must be in [0, 1], got {p.rms_decay:g}")
    if p.regularization_type not in ("L1", "L2"):
        raise CaffeError(f"{source}: unknown regularization_type \"{p.regularization_type}\" (L1 or L2)")
    check_values(p, kind, source)
    return kind


def check_values(p: caffe_pb2.SolverParameter, kind: str, source: str = "solver") -> None:
    """Values no run can mean, refused before any work (Caffe trains on: base_lr -1 is gradient ascent)."""
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise CaffeError(f"{source}: {what}")
    need(p.base_lr >= 0, f"base_lr must be >= 0, got {p.base_lr:g} (a negative rate climbs the loss)")
    need(p.max_iter >= 0, f"max_iter must be >= 0, got {p.max_iter}")
    if kind in ("SGD", "Nesterov", "AdaDelta", "Adam"):
        need(0 <= p.momentum < 1, f"momentum must be in [0, 1), got {p.momentum:g}")
    if kind == "Adam":
        need(0 <= p.momentum2 < 1, f"momentum2 must be in [0, 1), got {p.momentum2:g}")
    need(p.iter_size >= 1, f"iter_size must be >= 1, got {p.iter_size}")
    need(p.average_loss >= 1, f"average_loss must be >= 1, got {p.average_loss}")
    need(p.weight_decay >= 0, f"weight_decay must be >= 0, got {p.weight_decay:g}")


@torch.no_grad()
def clip_scale(grads: Sequence[torch.Tensor], clip: float) -> tuple[float, float] | None:
    """Caffe's ClipGradients: (L2 norm, scale) when the joint norm exceeds ``clip`` (and scales in place).

    Each blob's sum of squares is its own dot product, summed in double as before; read back at once."""
    if clip < 0:
        return None
    dots = torch.stack([torch.dot(g.reshape(-1), g.reshape(-1)) for g in grads]) if grads else torch.zeros(0)
    norm = math.sqrt(sum(dots.double().tolist()))
    if norm <= clip:
        return None
    scale = clip / norm
    torch._foreach_mul_(list(grads), scale)
    return norm, scale


@torch.no_grad()
def normalize(g: torch.Tensor, iter_size: int) -> torch.Tensor:
    """Gradients summed over iter_size forward/backward passes are divided by iter_size."""
    normalize_all([g], iter_size)
    return g


def normalize_all(gs: list[torch.Tensor], iter_size: int) -> None:
    if iter_size != 1:
        torch._foreach_mul_(gs, 1.0 / iter_size)


@torch.no_grad()
def regularize(w: torch.Tensor, g: torch.Tensor, weight_decay: float, decay_mult: float,
               kind: str = "L2") -> torch.Tensor:
    """g += wd*decay_mult*w (L2) or wd*decay_mult*sign(w) (L1); nothing when the local decay is 0."""
    regularize_all([w], [g], weight_decay * decay_mult, kind)
    return g


def regularize_all(ws: list[torch.Tensor], gs: list[torch.Tensor], local_decay: float, kind: str = "L2") -> None:
    if local_decay:
        torch._foreach_add_(gs, ws if kind == "L2" else torch._foreach_sign(ws), alpha=local_decay)


@torch.no_grad()
def compute_update(kind: str, g: torch.Tensor, history: list[torch.Tensor], lr: float, hp: Hyper,
                   it: int = 0) -> torch.Tensor:
    """History update and the value to subtract from the weights, for one blob.

    ``history`` holds this blob's history tensors (one; two for AdaDelta and Adam, in Caffe's order:
    the first set, then the second). ``lr`` is the local rate (policy rate * lr_mult); ``it`` the 0-based
    iteration (Adam's bias correction uses t = it + 1).
    """
    return compute_updates(kind, [g], [[h] for h in history], lr, hp, it)[0]


def compute_updates(kind: str, g: list[torch.Tensor], history: list[list[torch.Tensor]], lr: float, hp: Hyper,
                    it: int = 0) -> list[torch.Tensor]:
    """compute_update for several blobs of one local rate at once (multi-tensor ``torch._foreach_*`` ops);
    ``history[k]`` is history set k of those blobs. The arithmetic, op for op, is Caffe's (see each rule)."""
    f = torch
    h = history[0]
    if kind == "SGD":  # v = m*v + lr*g; the caller reads v (w -= v), as Caffe copies history into the diff
        f._foreach_mul_(h, hp.momentum)
        f._foreach_add_(h, g, alpha=lr)
        return h
    if kind == "Nesterov":  # v' = m*v + lr*g; u = (1+m)*v' - m*v
        old = [x.clone() for x in h]
        f._foreach_mul_(h, hp.momentum)
        f._foreach_add_(h, g, alpha=lr)
        u = f._foreach_mul(h, 1 + hp.momentum)
        f._foreach_sub_(u, f._foreach_mul(old, hp.momentum))
        return u
    sq = f._foreach_mul(g, g)
    if kind in ("AdaGrad", "RMSProp"):  # h += g^2 (AdaGrad) or h = d*h + (1-d)*g^2; u = lr * g / (sqrt(h) + delta)
        if kind == "AdaGrad":
            f._foreach_add_(h, sq)
        else:
            f._foreach_mul_(h, hp.rms_decay)
            f._foreach_add_(h, sq, alpha=1 - hp.rms_decay)
        den = f._foreach_sqrt(h)
        f._foreach_add_(den, hp.delta)
        u = f._foreach_div(g, den)
        f._foreach_mul_(u, lr)
        return u
    if kind == "AdaDelta":  # h = m*h + (1-m)*g^2; d = g*sqrt((b+delta)/(h+delta)); b = m*b + (1-m)*d^2; u = lr*d
        m, b = hp.momentum, history[1]
        f._foreach_mul_(h, m)
        f._foreach_add_(h, sq, alpha=1 - m)
        r = f._foreach_div(f._foreach_add(b, hp.delta), f._foreach_add(h, hp.delta))
        f._foreach_sqrt_(r)
        d = f._foreach_mul(g, r)
        f._foreach_mul_(b, m)
        f._foreach_add_(b, f._foreach_mul(d, d), alpha=1 - m)
        f._foreach_mul_(d, lr)
        return d
    if kind == "Adam":  # m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; u = lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+delta)
        b1, b2, v = hp.momentum, hp.momentum2, history[1]
        t = it + 1
        f._foreach_mul_(h, b1)
        f._foreach_add_(h, g, alpha=1 - b1)
        f._foreach_mul_(v, b2)
        f._foreach_add_(v, sq, alpha=1 - b2)
        correction = math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        den = f._foreach_sqrt(v)
        f._foreach_add_(den, hp.delta)
        u = f._foreach_div(h, den)
        f._foreach_mul_(u, lr * correction)
        return u
    raise CaffeError(f"unknown solver type \"{kind}\"")


@torch.no_grad()
def update_all(kind: str, weights: list[torch.Tensor], grads: list[torch.Tensor],
               history: list[list[torch.Tensor]], local_rates: list[float], local_decays: list[float],
               p: caffe_pb2.SolverParameter, hp: Hyper, it: int) -> None:
    """normalize -> regularize -> compute_update -> w -= u for every blob (after clip_scale), as Caffe's
    ApplyUpdate does blob by blob: blobs that share a local rate and decay go through it together."""
    groups: dict[tuple[float, float], list[int]] = {}
    for i, key in enumerate(zip(local_rates, local_decays)):
        groups.setdefault(key, []).append(i)
    for (lr, decay), idx in groups.items():
        ws, gs = [weights[i] for i in idx], [grads[i] for i in idx]
        normalize_all(gs, p.iter_size)
        regularize_all(ws, gs, decay, p.regularization_type)
        us = compute_updates(kind, gs, [[hs[i] for i in idx] for hs in history], lr, hp, it)
        torch._foreach_sub_(ws, us)
        torch._foreach_copy_(gs, us)  # Caffe's diff holds the update it applied (pycaffe reads it there)
