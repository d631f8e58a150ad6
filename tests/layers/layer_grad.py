"""float64 gradcheck of a layer with respect to its bottoms and its learnable blobs."""
from __future__ import annotations

from typing import Sequence

import torch
from torch.func import functional_call


def gradcheck_layer(layer: torch.nn.Module, bottoms: Sequence[torch.Tensor], grad_bottoms: Sequence[bool] | None = None,
                    params: bool = True) -> bool:
    """Run torch.autograd.gradcheck on every top of ``layer`` (in float64) as a function of the bottoms
    (those marked in ``grad_bottoms``, default all) and, when ``params``, of every blob that requires grad."""
    layer = layer.double()
    grad_bottoms = list(grad_bottoms) if grad_bottoms is not None else [True] * len(bottoms)
    xs = [b.detach().double().requires_grad_(g) for b, g in zip(bottoms, grad_bottoms)]
    names = [n for n, p in layer.named_parameters() if p.requires_grad] if params else []
    ps = [dict(layer.named_parameters())[n].detach().clone().requires_grad_(True) for n in names]

    def f(*args):
        bs, pv = args[:len(xs)], args[len(xs):]
        tops = functional_call(layer, dict(zip(names, pv)), tuple(bs))
        return tuple(tops)

    return torch.autograd.gradcheck(f, (*xs, *ps), eps=1e-6, atol=1e-6, rtol=1e-4)
