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
from ..proto import caffe_pb2

# Legacy SolverParameter.solver_type enum -> type string (Caffe's UpgradeSolverType).
LEGACY_TYPES = {0: "SGD", 1: "Nesterov", 2: "AdaGrad", 3: "RMSProp", 4: "AdaDelta", 5: "Adam"}
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
        legacy = LEGACY_TYPES.get(p.solver_type)
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
    return kind


@torch.no_grad()
def clip_scale(grads: Sequence[torch.Tensor], clip: float) -> tuple[float, float] | None:
    """Caffe's ClipGradients: (L2 norm, scale) when the joint norm exceeds ``clip`` (and scales in place)."""
    if clip < 0:
        return None
    sumsq = sum(float(torch.dot(g.reshape(-1), g.reshape(-1))) for g in grads)
    norm = math.sqrt(sumsq)
    if norm <= clip:
        return None
    scale = clip / norm
    for g in grads:
        g.mul_(scale)
    return norm, scale


@torch.no_grad()
def normalize(g: torch.Tensor, iter_size: int) -> torch.Tensor:
    """Gradients summed over iter_size forward/backward passes are divided by iter_size."""
    if iter_size != 1:
        g.mul_(1.0 / iter_size)
    return g


@torch.no_grad()
def regularize(w: torch.Tensor, g: torch.Tensor, weight_decay: float, decay_mult: float,
               kind: str = "L2") -> torch.Tensor:
    """g += wd*decay_mult*w (L2) or wd*decay_mult*sign(w) (L1); nothing when the local decay is 0."""
    local = weight_decay * decay_mult
    if local:
        g.add_(w if kind == "L2" else torch.sign(w), alpha=local)
    return g


@torch.no_grad()
def compute_update(kind: str, g: torch.Tensor, history: list[torch.Tensor], lr: float, hp: Hyper,
                   it: int = 0) -> torch.Tensor:
    """History update and the value to subtract from the weights, for one blob.

    ``history`` holds this blob's history tensors (one; two for AdaDelta and Adam, in Caffe's order:
    the first set, then the second). ``lr`` is the local rate (policy rate * lr_mult); ``it`` the 0-based
    iteration (Adam's bias correction uses t = it + 1).
    """
    h = history[0]
    if kind == "SGD":
        h.mul_(hp.momentum).add_(g, alpha=lr)
        return h  # the caller only reads it (w -= u), as Caffe copies history into the diff
    if kind == "Nesterov":
        old = h.clone()
        h.mul_(hp.momentum).add_(g, alpha=lr)
        return h * (1 + hp.momentum) - old * hp.momentum
    if kind == "AdaGrad":
        h.add_(g * g)
        return (g / (h.sqrt() + hp.delta)) * lr
    if kind == "RMSProp":
        h.mul_(hp.rms_decay).add_(g * g, alpha=1 - hp.rms_decay)
        return (g / (h.sqrt() + hp.delta)) * lr
    if kind == "AdaDelta":
        m, b = hp.momentum, history[1]
        h.mul_(m).add_(g * g, alpha=1 - m)
        d = g * ((b + hp.delta) / (h + hp.delta)).sqrt()
        b.mul_(m).add_(d * d, alpha=1 - m)
        return d * lr
    if kind == "Adam":
        b1, b2, v = hp.momentum, hp.momentum2, history[1]
        t = it + 1
        h.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).add_(g * g, alpha=1 - b2)
        correction = math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        return (h / (v.sqrt() + hp.delta)) * (lr * correction)
    raise CaffeError(f"unknown solver type \"{kind}\"")
