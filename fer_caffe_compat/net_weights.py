"""``-weights a.caffemodel[,b.caffemodel]``: Caffe's CopyTrainedLayersFrom, and the check Caffe lacks.

Caffe copies every source layer whose name matches a layer of the net and silently leaves the others at
their fillers: an empty file, a file of another net or a file cut at a layer boundary (protobuf reads the
layers before the cut as a complete message) all "load" and train or score from random weights. Here:

- a file that copies nothing into a layer with weights is refused, whatever the flags;
- every layer with weights that no file filled (learnable layers, and BatchNorm's statistics) is listed,
  and refused unless ``allow_missing`` (``--allow_missing_weights``: fine-tuning a net with a new, renamed
  head, which Caffe's users do by renaming the layer).
"""
from __future__ import annotations

from typing import Callable

from . import log
from .errors import CaffeError

_SHOWN = 8  # layer names listed in one line before "and N more"


def load_weights(net, weights: str, allow_missing: bool = False,
                 before_each: Callable[[str], None] | None = None) -> list[str]:
    """Copy the comma-separated ``weights`` files into ``net`` by layer name (calling ``before_each(file)``
    first: the solver's "Finetuning from" line); returns the names of the net's layers with weights that
    kept their initial values (empty unless ``allow_missing``)."""
    filled: set[int] = set()
    with_blobs = {name: layer for name, layer in zip(net.layer_names, net.layers) if len(layer.blobs)}
    for path in str(weights).split(","):
        if before_each is not None:
            before_each(path)
        copied = net.copy_trained_layers_from(path)
        got = {id(b) for name in copied if name in with_blobs for b in with_blobs[name].blobs}
        if with_blobs and not got:
            raise CaffeError(f"{path}: no layer of this file matches a layer with weights of net "
                             f"{net.name or '(unnamed)'} ({_names(list(with_blobs))}): it would copy nothing "
                             f"(an empty file, or the weights of another net)")
        filled |= got
    missing = [name for name, layer in with_blobs.items() if not all(id(b) in filled for b in layer.blobs)]
    if missing and not allow_missing:
        raise CaffeError(f"{weights}: no weights for layer{'s' if len(missing) > 1 else ''} {_names(missing)} "
                         f"of net {net.name or '(unnamed)'} (a truncated file, or one of another net); "
                         f"--allow_missing_weights keeps their initial values, e.g. to fine-tune a new layer")
    if missing:
        log.warning("net.cpp:781", f"Layers left at their initial values (not in {weights}): {', '.join(missing)}")
    return missing


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else "")
