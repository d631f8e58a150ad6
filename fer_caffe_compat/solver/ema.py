"""Exponential moving average of the weights, an extension (``ema_decay`` in the solver; not in Caffe 1.0).

After every update: ``avg = d * avg + (1 - d) * w`` with ``d = min(ema_decay, (1 + it) / (10 + it))``
(the warm-up lets the average forget the random initialisation quickly). Every blob of the net is
averaged, BatchNorm's statistics included, so the averaged net is a consistent Caffe net.

The averaged weights are what the solver tests and what a ``.caffemodel`` snapshot holds (Caffe can load
it). The raw weights go into the ``.solverstate`` (``raw_weights``), so a resume continues exactly.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np
import torch

from ..errors import CaffeError


def net_blobs(net) -> list[torch.Tensor]:
    """Every blob of every layer in net order, shared blobs once (the order of ``raw_weights``)."""
    seen: set[int] = set()
    out = []
    for layer in net.layers:
        for b in layer.blobs:
            if id(b) not in seen:
                seen.add(id(b))
                out.append(b)
    return out


class WeightAverage:
    def __init__(self, net, decay: float):
        if not 0 < decay < 1:
            raise CaffeError(f"ema_decay must be in (0, 1), got {decay:g}")
        self.decay = decay
        self.blobs = net_blobs(net)
        self.average = [b.detach().clone() for b in self.blobs]

    def factor(self, it: int) -> float:
        return min(self.decay, (1 + it) / (10 + it))

    @torch.no_grad()
    def update(self, it: int) -> None:
        """Fold in the weights after the update of iteration ``it`` (0-based)."""
        torch._foreach_lerp_(self.average, [b.detach() for b in self.blobs], 1.0 - self.factor(it))

    @contextlib.contextmanager
    def swapped_in(self) -> Iterator[None]:
        """The averaged weights in the net's own blobs for the duration (tests, snapshots)."""
        with torch.no_grad():
            raw = [b.detach().clone() for b in self.blobs]
            for b, a in zip(self.blobs, self.average):
                b.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for b, r in zip(self.blobs, raw):
                    b.copy_(r)

    def raw_arrays(self) -> list[np.ndarray]:
        return [b.detach().to("cpu", torch.float32).numpy() for b in self.blobs]

    @torch.no_grad()
    def restore(self, raw: list[np.ndarray], where: str) -> None:
        """After a resume: the net's blobs (loaded from learned_net) are the average; ``raw`` the weights."""
        if len(raw) != len(self.blobs):
            raise CaffeError(f"{where}: raw_weights has {len(raw)} blobs, the net has {len(self.blobs)}")
        for i, (b, a, r) in enumerate(zip(self.blobs, self.average, raw)):
            if r.size != b.numel():
                raise CaffeError(f"{where}: raw_weights[{i}] has {r.size} values, the net's blob {i} "
                                 f"has shape {tuple(b.shape)}")
            a.copy_(b)
            b.copy_(torch.from_numpy(np.ascontiguousarray(r).reshape(b.shape)))
