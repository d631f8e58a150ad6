"""Layer-by-layer forward and backward timing of a Net, as ``caffe time`` measures it.

Each layer runs on detached copies of its bottoms, so its backward can be run (and timed) on its own
with ``torch.autograd.grad``, exactly as Caffe calls Layer::Backward one layer after the other: top
gradients arrive from the consumers (or the loss weight), the bottom gradients go to the producers.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from .net import Net


@dataclass
class Timing:
    """Milliseconds summed over the timed iterations (divide by ``iterations`` for averages)."""
    layer_names: list[str]
    iterations: int = 0
    forward_ms: list[float] = field(default_factory=list)
    backward_ms: list[float] = field(default_factory=list)
    forward_total_ms: float = 0.0
    backward_total_ms: float = 0.0
    iteration_ms: list[float] = field(default_factory=list)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def forward_backward(net: Net, timing: Timing | None = None) -> float:
    """One layer-wise forward and backward pass; adds per-layer times to ``timing``. Returns the loss."""
    dev = net.device
    n = len(net.layers)
    entries = net._entries
    vals: dict[str, tuple[torch.Tensor, tuple[int, int]]] = {}
    records: list[tuple[list[torch.Tensor], list[tuple[int, int] | None], list[torch.Tensor]]] = []
    fwd = [0.0] * n
    bwd = [0.0] * n
    for i, e in enumerate(entries):
        leaves, sources = [], []
        for b, d in zip(e.bottoms, e.detach):
            t, src = vals[b]
            leaves.append(t.detach().requires_grad_(t.is_floating_point() and not d))
            sources.append(src)
        _sync(dev)
        t0 = time.perf_counter()
        if e.is_data:
            tops = net.read_data(e.layer)
        else:
            tops = e.layer(*leaves)
        _sync(dev)
        fwd[i] = (time.perf_counter() - t0) * 1000
        for j, (name, t) in enumerate(zip(e.tops, tops)):
            vals[name] = (t, (i, j))
        records.append((leaves, sources, list(tops)))
    loss = 0.0
    grads: dict[tuple[int, int], torch.Tensor] = {}
    for i, e in enumerate(entries):
        for j, w in enumerate(e.loss):
            if w:
                t = records[i][2][j]
                loss += w * float(t.detach().sum())
                grads[(i, j)] = torch.full_like(t, w)
    for i in range(n - 1, -1, -1):
        e = entries[i]
        leaves, sources, tops = records[i]
        outs = [(t, grads.get((i, j))) for j, t in enumerate(tops) if t.requires_grad]
        inputs = [x for x in leaves if x.requires_grad] + [p for p in e.layer.blobs if p.requires_grad]
        _sync(dev)
        t0 = time.perf_counter()
        if outs and inputs:  # Caffe runs every layer's Backward, with zero top diffs off the loss path
            got = torch.autograd.grad([t for t, _ in outs],
                                      inputs, [g if g is not None else torch.zeros_like(t) for t, g in outs],
                                      allow_unused=True)
            k = 0
            for x, src in zip(leaves, sources):
                if x.requires_grad:
                    if got[k] is not None and src is not None:
                        grads[src] = grads[src] + got[k] if src in grads else got[k]
                    k += 1
        _sync(dev)
        bwd[i] = (time.perf_counter() - t0) * 1000
    if timing is not None:
        if not timing.forward_ms:
            timing.forward_ms, timing.backward_ms = [0.0] * n, [0.0] * n
        for i in range(n):
            timing.forward_ms[i] += fwd[i]
            timing.backward_ms[i] += bwd[i]
        timing.forward_total_ms += sum(fwd)
        timing.backward_total_ms += sum(bwd)
        timing.iterations += 1
    return loss


def time_net(net: Net, iterations: int, on_iteration=None) -> Timing:
    """``iterations`` timed forward-backward passes (run one untimed pass first, as Caffe does)."""
    timing = Timing(list(net.layer_names))
    for j in range(iterations):
        t0 = time.perf_counter()
        forward_backward(net, timing)
        ms = (time.perf_counter() - t0) * 1000
        timing.iteration_ms.append(ms)
        if on_iteration is not None:
            on_iteration(j, ms)
    return timing
