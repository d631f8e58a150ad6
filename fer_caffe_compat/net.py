"""A NetParameter built as a torch.nn.Module, with the semantics of Caffe's Net (src/caffe/net.cpp).

* Layers are filtered by their include/exclude rules for the net's state (phase, level, stages).
* Implicit Split layers are inserted where a blob feeds several layers (or feeds a layer and a loss),
  named as Caffe names them (``ip2_ip2_0_split``, tops ``ip2_ip2_0_split_0``...). Their tops are the
  same tensor, so autograd sums the gradients as Caffe's SplitLayer::Backward does.
* In-place tops (``top == bottom``) rebind the blob name: the forward dict holds the final value.
* Loss weights: ``loss_weight`` per top; loss layers default to 1 on their first top. total_loss is
  sum(weight * blob.sum()), as Caffe's Layer::Forward computes it.
* Parameters named by ``ParamSpec.name`` are shared: later layers use the owner's nn.Parameter.
  ``lr_mult`` 0 means requires_grad False (Caffe skips the backward there); ``propagate_down: false``
  detaches that bottom for that layer.
* The build is logged with Caffe's glog lines (Creating Layer / <- / -> / Setting up / Top shape / ...).
"""
from __future__ import annotations

import contextlib
import os
from typing import Callable, Iterable, Mapping

import numpy as np
import torch
from google.protobuf import text_format
from torch import nn

from . import log
from .errors import CaffeError
from .net_build import LearnableParam, NetBuilder, _Entry
from .net_caffemodel import NetWeights
from .net_range import NetRanges
from .net_surgery import filter_net, insert_splits, load_net_param
from .net_upgrade import upgrade_net_param
from .proto import caffe_pb2

__all__ = ["Net", "LearnableParam", "load_net_param", "insert_splits", "filter_net"]


class Net(NetBuilder, NetWeights, NetRanges, nn.Module):
    """A Caffe net for one phase (fixed at construction; train()/eval() do not change it).

    ``forward(inputs)`` returns every blob by name; ``total_loss(out)`` is Caffe's weighted loss;
    ``learnable_params`` is Caffe's learnable order (the solverstate history), shared parameters once.
    """

    def __init__(self, param: caffe_pb2.NetParameter, phase: int | None = None,
                 stages: Iterable[str] | None = None, level: int | None = None, log_prefix: str = "",
                 source: str | None = None, device: str | torch.device | None = None):
        super().__init__()
        self.log_prefix = log_prefix
        p = caffe_pb2.NetParameter()
        p.CopyFrom(param)
        upgrade_net_param(p, source or p.name or "net")
        if phase is not None:
            p.state.phase = phase
        if level is not None:
            p.state.level = level
        if stages is not None:
            del p.state.stage[:]
            p.state.stage.extend(stages)
        if not p.HasField("state"):
            p.state.phase = caffe_pb2.TEST  # NetState's default phase
        self.phase: int = p.state.phase
        self.name: str = p.name
        self.force_backward = p.force_backward
        self.debug_info = p.debug_info
        filtered = filter_net(p, self._info)
        shown = caffe_pb2.NetParameter()
        shown.CopyFrom(filtered)
        for lp in shown.layer:
            del lp.blobs[:]
        self._info("net.cpp:53", "Initializing net from parameters: \n" + text_format.MessageToString(shown))
        layer_params, splits = insert_splits(filtered)
        self.register_buffer("_probe", torch.empty(0, device=device), persistent=False)
        self.channels_last = False  # speed options (set_memory_format, autocast_dtype): extensions
        self.autocast_dtype: torch.dtype | None = None
        with torch.device(device) if device is not None else contextlib.nullcontext():
            self._build(layer_params, splits)
        for e in self._entries:
            if len(e.param.blobs):
                self._copy_layer_blobs(e, e.param, "the net's own blobs")
        self._init_store()

    # -- logging ------------------------------------------------------------------------------
    def _info(self, src: str, msg: str) -> None:
        log.info(src, self.log_prefix + msg)

    # -- running -----------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self._probe.device

    @property
    def input_names(self) -> list[str]:
        """Tops of the data layers (Input, MemoryData, ...): the blobs ``forward(inputs=)`` may feed."""
        return [t for e in self._entries if e.is_data for t in e.tops]

    def forward(self, inputs: Mapping[str, torch.Tensor | np.ndarray] | None = None,
                edits: Mapping[str, Callable[[torch.Tensor], torch.Tensor]] | None = None
                ) -> dict[str, torch.Tensor]:
        """One forward pass; every blob by name. Data layers read their next batch (unless fed).
        ``edits`` maps a blob to a function that replaces it as soon as it is computed (test-time
        augmentation averages the scores of several views this way)."""
        dev, dtype = self._probe.device, self._probe.dtype
        # The blob store holds real tensors only: a traced or compiled pass (export, torch.compile) skips it.
        keep = not (torch.compiler.is_compiling() or torch.compiler.is_exporting() or torch.jit.is_tracing())
        if keep:
            self.blob_store.push()  # arrays written on the host reach the device (CUDA; nothing on the CPU)
            self.blob_store.release(self._released)
        feeds: dict[str, torch.Tensor] = {}
        if inputs:
            allowed = set(self.input_names)
            for k, v in inputs.items():
                if k not in allowed:
                    raise CaffeError(f"net {self.name}: '{k}' is not an input blob "
                                     f"(inputs: {', '.join(sorted(allowed)) or 'none'})")
                t = v if isinstance(v, torch.Tensor) else torch.from_numpy(np.asarray(v, dtype=np.float32))
                feeds[k] = self._format(_to(t, dev, dtype))
        if self._compiled is not None and not edits:
            data = {}
            for e in self._entries:
                if e.is_data:
                    data.update(self._data_tops(e, feeds))
            blobs = self._compiled(data)
        else:
            blobs = {}
            notify = self._notify if self.callbacks["before_forward"] or self.callbacks["after_forward"] else None
            for i, e in enumerate(self._entries):
                if notify:
                    notify("before_forward", i)
                tops = self._data_tops(e, feeds).values() if e.is_data else self._run(e, blobs)
                for t, x in zip(e.tops, tops):
                    blobs[t] = edits[t](x) if edits and t in edits else x
                if notify:
                    notify("after_forward", i)
        if keep:
            self._keep(blobs)
        return self._float32_outputs(blobs)

    def _float32_outputs(self, blobs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Under mixed precision the net's outputs (what is logged, scored and saved) come back in float32."""
        if self.autocast_dtype is not None:
            for n in self.output_names:
                if blobs[n].is_floating_point():
                    blobs[n] = blobs[n].float()
        return blobs

    def _data_tops(self, e: _Entry, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if all(t in feeds for t in e.tops):
            return {t: feeds[t] for t in e.tops}
        if e.param.type == "Input" and all(t in feeds or t in self.blob_store.data for t in e.tops):
            # Caffe's Input blobs keep what was last written into them
            return {t: feeds[t] if t in feeds else self.blob_store.get(t) for t in e.tops}
        return {t: feeds.get(t, x) for t, x in zip(e.tops, self.read_data(e.layer))}

    def _run(self, e: _Entry, blobs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """One computing layer on the blobs so far; under autocast_dtype, losses and Accuracy stay float32."""
        return self._call(e, [blobs[b].detach() if d else blobs[b] for b, d in zip(e.bottoms, e.detach)])

    def _call(self, e: _Entry, bottoms: list[torch.Tensor]) -> list[torch.Tensor]:
        try:
            if self.autocast_dtype is None:
                return e.layer(*bottoms)
            dev = self._probe.device.type
            if e.float32:
                with torch.autocast(dev, enabled=False):
                    return e.layer(*[b.float() if b.is_floating_point() else b for b in bottoms])
            with torch.autocast(dev, dtype=self.autocast_dtype):
                return e.layer(*bottoms)
        except RuntimeError as err:
            if getattr(e.layer, "user_code", False):
                raise  # a Python layer's own exception reaches its caller unchanged, as in Caffe
            shapes = ", ".join(str(list(b.shape)) for b in bottoms)
            raise CaffeError(f"layer {e.param.name} ({e.param.type}): {err} (bottom shapes {shapes})") from None

    def _run_all(self, data: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Every computing layer, given the data layers' tops (what ``compile`` compiles)."""
        blobs = dict(data)
        for e in self._entries:
            if not e.is_data:
                for t, x in zip(e.tops, self._run(e, blobs)):
                    blobs[t] = x
        return blobs

    def read_data(self, layer: nn.Module) -> list[torch.Tensor]:
        """A data layer's next batch, on the net's device (float tops in the net's dtype). Data and
        ImageData transform their batch on that device themselves (``next_batch``)."""
        dev = self._probe.device
        tops = layer.next_batch(dev) if hasattr(layer, "next_batch") else layer()
        return [self._format(_to(x, dev, self._probe.dtype)) for x in tops]

    # -- speed options (extensions: none is on unless asked for) -------------------------------------
    _compiled = None

    def set_memory_format(self, channels_last: bool) -> None:
        """Keep 4-D weights and data blobs channels-last (NHWC in memory) or contiguous (Caffe's NCHW).
        The values are the same either way; only the order of float sums inside a convolution may differ."""
        self.channels_last = bool(channels_last)
        self.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def _format(self, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last and x.dim() == 4 and x.is_floating_point():
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def compile_layers(self, **kwargs) -> None:
        """torch.compile the computing layers; data layers keep reading eagerly (their thread, their cursor)."""
        self._compiled = torch.compile(self._run_all, **kwargs)

    def total_loss(self, out: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """sum over loss-weighted blobs of weight * blob.sum() (Caffe's net loss)."""
        total = None
        for name, w in self.loss_weights.items():
            term = w * out[name].sum()
            total = term if total is None else total + term
        return total if total is not None else torch.zeros((), device=self._probe.device, dtype=self._probe.dtype)

    # -- inspection ----------------------------------------------------------------------------------
    def layer_by_name(self, name: str) -> nn.Module:
        for e in self._entries:
            if e.param.name == name:
                return e.layer
        raise KeyError(name)

    @property
    def bottom_names(self) -> list[list[str]]:
        return [list(e.bottoms) for e in self._entries]

    @property
    def top_names(self) -> list[list[str]]:
        return [list(e.tops) for e in self._entries]

    @property
    def layer_params(self) -> list[caffe_pb2.LayerParameter]:
        return [e.param for e in self._entries]

    @classmethod
    def from_file(cls, path: str | os.PathLike, phase: int | None = None, stages: Iterable[str] | None = None,
                  level: int | None = None, **kw) -> "Net":
        return cls(load_net_param(path), phase=phase, stages=stages, level=level, source=str(path), **kw)


def _to(x: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``x`` on ``device``; floating tensors in ``dtype``, integer ones (labels) keep theirs."""
    return x.to(device=device, dtype=dtype if x.is_floating_point() else x.dtype)

