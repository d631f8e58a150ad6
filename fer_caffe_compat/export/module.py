"""A deploy Net seen as a function of tensors: its Input blobs in, the chosen output blobs out.

Net.forward takes and returns dicts of blobs by name; the exporters want positional tensors. DeployModule
is that adapter and nothing more: the layers run exactly as in the training net (phase TEST).
"""
from __future__ import annotations

import contextlib
import re
from typing import Iterator, Sequence

import torch
from torch import nn

from ..errors import CaffeError
from ..net import Net
from .preprocess import Preprocess

# Layer types that have no place in an exported graph, and why (checked before tracing, so the user
# reads the reason, not a tracer's message).
NOT_EXPORTABLE = {
    "Data": "it reads an LMDB at run time",
    "ImageData": "it reads image files at run time",
    "MemoryData": "it is fed from Python at run time",
    "DummyData": "it draws new filler values on every forward",
}
# A Python layer's forward is the user's numpy code (tests/pycaffe/test_python_layer.py checks the refusal).
PYTHON_REFUSED = "its forward is numpy code run by Python, which a graph cannot hold"


_RECURRENT = ("RNN", "LSTM")


def check_exportable(net: Net) -> None:
    """Raise a CaffeError naming the first layer of ``net`` that an exported graph cannot hold."""
    for lp in net.layer_params:
        if lp.type == "Python":
            raise CaffeError(f"layer {lp.name} (Python {lp.python_param.module}.{lp.python_param.layer}): cannot be "
                             f"exported: {PYTHON_REFUSED}")
        why = NOT_EXPORTABLE.get(lp.type)
        if why:
            raise CaffeError(f"layer {lp.name} ({lp.type}): cannot be exported: {why}; a deploy net takes "
                             "its data from an Input layer")
        if lp.type in _RECURRENT and not lp.recurrent_param.expose_hidden:
            raise CaffeError(f"layer {lp.name} ({lp.type}): cannot be exported: it carries its hidden state "
                             "from one forward pass to the next, which a graph cannot; set recurrent_param "
                             "{ expose_hidden: true } to pass the state in and out")


class DeployModule(nn.Module):
    """``forward(*inputs) -> tuple(outputs)`` over a built Net: one tensor per Input blob (in the net's
    order), one per output blob (default: the blobs the net produces, as Caffe lists them). With a
    ``preprocess`` block the first input is raw pixels and the block applies mean, scale and crop."""

    def __init__(self, net: Net, outputs: Sequence[str] | None = None, preprocess: Preprocess | None = None):
        super().__init__()
        check_exportable(net)
        self.net = net.eval()
        self.inputs: list[str] = list(net.input_names)
        if not self.inputs:
            raise CaffeError(f"net {net.name}: no Input layer: a deploy net needs one to be exported")
        self.outputs: list[str] = list(outputs) if outputs else [o for o in net.output_names
                                                                  if o not in self.inputs]
        for o in self.outputs:
            if o not in net.blob_shapes:
                raise CaffeError(f"net {net.name}: no blob named {o!r} (outputs: {', '.join(net.output_names)})")
        if not self.outputs:
            raise CaffeError(f"net {net.name}: the net has no output blob")
        self.preprocess = preprocess
        self.eval()

    @property
    def input_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the tensors forward takes (the raw image's with a preprocess block)."""
        shapes = [tuple(self.net.blob_shapes[i]) for i in self.inputs]
        if self.preprocess is not None:
            shapes[0] = (shapes[0][0], *self.preprocess.raw_shape)
        return shapes

    def example_inputs(self, seed: int = 0, batch: int | None = None) -> tuple[torch.Tensor, ...]:
        """Random inputs of the net's shapes (axis 0 set to ``batch`` when given), on the net's device:
        N(0, 1), or pixels in [0, 255) for a preprocess block."""
        g = torch.Generator().manual_seed(seed)
        out = []
        for s in self.input_shapes:
            s = (batch if batch is not None else s[0], *s[1:])
            x = torch.rand(s, generator=g) * 255 if self.preprocess is not None and not out \
                else torch.randn(s, generator=g)
            out.append(x.to(self.net.device))
        return tuple(out)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.preprocess is not None:
            inputs = (self.preprocess(inputs[0]), *inputs[1:])
        blobs = self.net(dict(zip(self.inputs, inputs)))
        return tuple(blobs[o] for o in self.outputs)

    def layer_of(self, node) -> str | None:
        """"name (Type)" of the layer that an FX node of this module's traced program came from."""
        for path, _ in reversed(list((node.meta.get("nn_module_stack") or {}).values())):
            m = re.search(r"layers\D{0,3}(\d+)", str(path))
            if m and int(m.group(1)) < len(self.net.layer_params):
                lp = self.net.layer_params[int(m.group(1))]
                return f"{lp.name} ({lp.type})"
        return None

    @contextlib.contextmanager
    def naming_failures(self, what: str) -> Iterator[None]:
        """Turn an exporter's failure inside a layer into one line naming that layer."""
        current: list[str] = []
        hooks = []
        for lp, layer in zip(self.net.layer_params, self.net.layers):
            tag = f"{lp.name} ({lp.type})"
            hooks.append(layer.register_forward_pre_hook(lambda *_, t=tag: current.append(t)))  # -> None
            hooks.append(layer.register_forward_hook(lambda *_: current.clear()))  # None: output kept
        try:
            yield
        except Exception as e:  # the tracer raises many types (Net.forward wraps some): all end as one line
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            if current:
                first = first.removeprefix(f"layer {current[-1]}: ")
            if "data-dependent" in first:  # the tracer's own words name symbols, not the layer's reason
                first = ("its result depends on the values of its inputs, not only on their shapes (a check "
                         "of labels or indices, or a size computed from the data)")
            where = f"layer {current[-1]}" if current else f"net {self.net.name}"
            raise CaffeError(f"{where}: cannot be exported to {what}: {first}") from None
        finally:
            for h in hooks:
                h.remove()
