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
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import numpy as np
import torch
from google.protobuf import text_format
from torch import nn

from . import log
from .errors import CaffeError
from .io.caffemodel import (blob_data, blob_from_array, legacy_shape_equals, proto_shape, read_caffemodel,
                           shape_string, write_caffemodel)
from .layers import get_layer_class
from .net_upgrade import upgrade_net_param
from .proto import caffe_pb2, read_prototxt

__all__ = ["Net", "LearnableParam", "load_net_param", "insert_splits", "filter_net"]

_PHASE = {caffe_pb2.TRAIN: "TRAIN", caffe_pb2.TEST: "TEST"}
# Under mixed precision these run in float32 on float32 bottoms, as the losses do: Caffe's SoftmaxWithLoss
# clamps at FLT_MIN, and Accuracy counts ties. (BatchNorm takes bfloat16 in and keeps float32 statistics.)
_FLOAT32_TYPES = {"Accuracy"}
# Caffe wraps only these from a layer's set-up into a one-line error; anything else is a bug.
_SETUP_ERRORS = (ValueError, RuntimeError, IndexError, ZeroDivisionError)


def load_net_param(path: str | os.PathLike) -> caffe_pb2.NetParameter:
    """A net prototxt as a NetParameter, upgraded as Caffe's ReadNetParamsFromTextFileOrDie does."""
    return upgrade_net_param(read_prototxt(path, caffe_pb2.NetParameter()), str(path))


@dataclass
class LearnableParam:
    """One entry of Caffe's learnable_params_ (the order of the solverstate history)."""
    param: nn.Parameter
    lr_mult: float
    decay_mult: float
    layer_name: str
    blob_index: int
    name: str = ""


class _ImplicitSplit(nn.Module):
    """Caffe's SplitLayer as InsertSplits adds it: every top is the bottom itself."""
    is_loss = False
    is_data = False

    def __init__(self, param: caffe_pb2.LayerParameter):
        super().__init__()
        self.param = param
        self.name = param.name
        self.type = "Split"
        self.blobs = nn.ParameterList()
        self.top_shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [x] * len(self.param.top)


# ------------------------------------------------------------------------------- net surgery
def _rule_met(state: caffe_pb2.NetState, rule: caffe_pb2.NetStateRule, layer: str, say) -> bool:
    """Net::StateMeetsRule."""
    if rule.HasField("phase") and rule.phase != state.phase:
        say("net.cpp:296", f"The NetState phase ({state.phase}) differed from the phase ({rule.phase}) "
                           f"specified by a rule in layer {layer}")
        return False
    if rule.HasField("min_level") and state.level < rule.min_level:
        say("net.cpp:305", f"The NetState level ({state.level}) is above the min_level ({rule.min_level}) "
                           f"specified by a rule in layer {layer}")
        return False
    if rule.HasField("max_level") and state.level > rule.max_level:
        say("net.cpp:313", f"The NetState level ({state.level}) is above the max_level ({rule.max_level}) "
                           f"specified by a rule in layer {layer}")
        return False
    for s in rule.stage:
        if s not in state.stage:
            say("net.cpp:326", f"The NetState did not contain stage '{s}' specified by a rule in layer {layer}")
            return False
    for s in rule.not_stage:
        if s in state.stage:
            say("net.cpp:340", f"The NetState contained a not_stage '{s}' specified by a rule in layer {layer}")
            return False
    return True


def filter_net(param: caffe_pb2.NetParameter, say=lambda src, msg: None) -> caffe_pb2.NetParameter:
    """Net::FilterNet: the layers whose include/exclude rules the param's state meets."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(param)
    del out.layer[:]
    for lp in param.layer:
        if len(lp.include) and len(lp.exclude):
            raise CaffeError(f"layer {lp.name}: specify either include rules or exclude rules, not both")
        included = not len(lp.include)
        for rule in lp.exclude:
            if included and _rule_met(param.state, rule, lp.name, say):
                included = False
        for rule in lp.include:
            if not included and _rule_met(param.state, rule, lp.name, say):
                included = True
        if included:
            out.layer.add().CopyFrom(lp)
    return out


def insert_splits(param: caffe_pb2.NetParameter) -> tuple[list[caffe_pb2.LayerParameter], set[int]]:
    """Caffe's InsertSplits: the layer list with Split layers added, and the indices of those splits."""
    last_top: dict[str, tuple[int, int]] = {}
    source_of: dict[tuple[int, int], tuple[int, int]] = {}
    uses: dict[tuple[int, int], int] = {}
    loss_w: dict[tuple[int, int], float] = {}
    for i, lp in enumerate(param.layer):
        for j, b in enumerate(lp.bottom):
            if b not in last_top:
                raise CaffeError(f"layer {lp.name}: unknown bottom blob '{b}' (bottom index {j}; no earlier "
                                 "layer of this phase produces it)")
            source_of[(i, j)] = last_top[b]
            uses[last_top[b]] = uses.get(last_top[b], 0) + 1
        for j, t in enumerate(lp.top):
            last_top[t] = (i, j)
        for j in range(min(len(lp.loss_weight), len(lp.top))):
            idx = last_top[lp.top[j]]
            loss_w[idx] = lp.loss_weight[j]
            if lp.loss_weight[j]:
                uses[idx] = uses.get(idx, 0) + 1
    out: list[caffe_pb2.LayerParameter] = []
    splits: set[int] = set()
    next_split: dict[tuple[int, int], int] = {}
    for i, src in enumerate(param.layer):
        lp = caffe_pb2.LayerParameter()
        lp.CopyFrom(src)
        out.append(lp)
        for j in range(len(lp.bottom)):
            idx = source_of[(i, j)]
            if uses.get(idx, 0) > 1:
                k = next_split.get(idx, 0)
                next_split[idx] = k + 1
                lp.bottom[j] = _split_blob(param.layer[idx[0]].name, lp.bottom[j], idx[1], k)
        for j, t in enumerate(lp.top):
            n = uses.get((i, j), 0)
            if n > 1:
                w = loss_w.get((i, j), 0.0)
                sp = caffe_pb2.LayerParameter(name=f"{t}_{lp.name}_{j}_split", type="Split", bottom=[t])
                for k in range(n):
                    sp.top.append(_split_blob(lp.name, t, j, k))
                    if w:
                        sp.loss_weight.append(w if k == 0 else 0.0)
                if w:
                    del lp.loss_weight[:]
                    next_split[(i, j)] = next_split.get((i, j), 0) + 1
                splits.add(len(out))
                out.append(sp)
    return out, splits


def _split_blob(layer: str, blob: str, top_index: int, k: int) -> str:
    return f"{blob}_{layer}_{top_index}_split_{k}"


# ------------------------------------------------------------------------------- the net
@dataclass
class _Entry:
    param: caffe_pb2.LayerParameter
    layer: nn.Module
    bottoms: list[str]
    tops: list[str]
    detach: list[bool]            # propagate_down: false
    loss: list[float]
    need_backward: bool = False
    bottom_need_backward: list[bool] | None = None
    is_data: bool = False         # no bottoms; reads its next batch (or is fed) on every forward
    float32: bool = False         # under mixed precision runs in float32 (losses, Accuracy)


class Net(nn.Module):
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

    # -- logging ------------------------------------------------------------------------------
    def _info(self, src: str, msg: str) -> None:
        log.info(src, self.log_prefix + msg)

    # -- building ------------------------------------------------------------------------------
    def _build(self, layer_params: list[caffe_pb2.LayerParameter], splits: set[int]) -> None:
        self._entries: list[_Entry] = []
        self.layers = nn.ModuleList()
        self.blob_shapes: dict[str, tuple[int, ...]] = {}
        self.loss_weights: dict[str, float] = {}
        self.learnable_params: list[LearnableParam] = []
        available: set[str] = set()
        need_bw: dict[str, bool] = {}
        owners: dict[str, list] = {}  # ParamSpec name -> [LearnableParam, has_lr, has_decay]
        memory = 0
        for i, lp in enumerate(layer_params):
            if not lp.HasField("phase"):
                lp.phase = self.phase
            name = lp.name
            if len(lp.propagate_down) and len(lp.propagate_down) != len(lp.bottom):
                raise CaffeError(f"layer {name}: propagate_down must be given either 0 or bottom_size "
                                 f"({len(lp.bottom)}) times, found {len(lp.propagate_down)}")
            self._info("layer_factory.hpp:77", f"Creating layer {name}")
            cls = None if i in splits else get_layer_class(lp.type, name)
            self._info("net.cpp:86", f"Creating Layer {name}")
            bottom_shapes = []
            need = False
            detach = [not pd for pd in lp.propagate_down] if len(lp.propagate_down) else [False] * len(lp.bottom)
            bottom_need = []
            for j, b in enumerate(lp.bottom):
                if b not in available:
                    raise CaffeError(f"layer {name}: unknown bottom blob '{b}' (bottom index {j})")
                self._info("net.cpp:408", f"{name} <- {b}")
                available.discard(b)
                bottom_shapes.append(self.blob_shapes[b])
                need |= need_bw.get(b, False)
                bottom_need.append(need_bw.get(b, False) and not detach[j])
            for j, t in enumerate(lp.top):
                if j < len(lp.bottom) and lp.bottom[j] == t:
                    self._info("net.cpp:369", f"{name} -> {t} (in-place)")
                elif t in self.blob_shapes:
                    raise CaffeError(f"layer {name}: top blob '{t}' is already produced by another layer "
                                     "(Caffe: duplicate blobs produced by multiple sources)")
                else:
                    self._info("net.cpp:382", f"{name} -> {t}")
                available.add(t)
            if cls is None:
                layer = _ImplicitSplit(lp)
                layer.top_shapes = [bottom_shapes[0]] * len(lp.top)
            else:
                self._check_counts(cls, lp)
                try:
                    layer = cls(lp, bottom_shapes, self.phase)
                except CaffeError:
                    raise
                except _SETUP_ERRORS as e:
                    raise CaffeError(f"layer {name} ({lp.type}): {e} (bottom shapes "
                                     f"{', '.join(str(list(s)) for s in bottom_shapes) or 'none'})") from None
            self._info("net.cpp:124", f"Setting up {name}")
            top_shapes = [tuple(int(d) for d in s) for s in layer.top_shapes]
            if len(top_shapes) < len(lp.top):
                raise CaffeError(f"layer {name} ({lp.type}): produces {len(top_shapes)} top blobs, "
                                 f"{len(lp.top)} are named")
            loss = self._loss_weights(layer, lp)
            if getattr(layer, "is_loss", False) and not len(layer.param.loss_weight):
                layer.param.loss_weight.append(1.0)  # LossLayer::LayerSetUp records its default
            for t, s, w in zip(lp.top, top_shapes, loss):
                self.blob_shapes[t] = s
                self._info("net.cpp:131", f"Top shape: {shape_string(s)}")
                if w:
                    self._info("net.cpp:134", f"    with loss weight {log.fmt(w)}")
                    self.loss_weights[t] = w
                n = 1
                for d in s:
                    n *= d
                memory += n
            self._info("net.cpp:139", f"Memory required for data: {memory * 4}")
            need |= self._append_params(layer, owners)
            for t in lp.top:
                need_bw[t] = need
            self._entries.append(_Entry(lp, layer, list(lp.bottom), list(lp.top), detach, loss, need, bottom_need,
                                        getattr(layer, "is_data", False),
                                        getattr(layer, "is_loss", False) or lp.type in _FLOAT32_TYPES))
            self.layers.append(layer)
        self._mark_backward()
        self._fold_batchnorm_scale()
        self.output_names: list[str] = sorted(available)  # Caffe iterates a std::set<string>
        for b in self.output_names:
            self._info("net.cpp:244", f"This network produces output {b}")
        for lpar in self.learnable_params:
            lpar.param.requires_grad_(lpar.param.requires_grad and lpar.lr_mult != 0)
        self.layer_names: list[str] = [e.param.name for e in self._entries]
        self._info("net.cpp:257", "Network initialization done.")

    @staticmethod
    def _check_counts(cls: type, lp: caffe_pb2.LayerParameter) -> None:
        def check(n: int, lo, hi, what: str) -> None:
            if lo is not None and n < lo:
                raise CaffeError(f"layer {lp.name} ({lp.type}): takes at least {lo} {what} blob(s), got {n}")
            if hi is not None and n > hi:
                raise CaffeError(f"layer {lp.name} ({lp.type}): takes at most {hi} {what} blob(s), got {n}")

        check(len(lp.bottom), getattr(cls, "min_bottoms", None), getattr(cls, "max_bottoms", None), "bottom")
        check(len(lp.top), getattr(cls, "min_tops", None), getattr(cls, "max_tops", None), "top")

    @staticmethod
    def _loss_weights(layer: nn.Module, lp: caffe_pb2.LayerParameter) -> list[float]:
        """Layer::SetLossWeights, with LossLayer's default of 1 on the first top."""
        lw = list(layer.param.loss_weight) if hasattr(layer, "param") else list(lp.loss_weight)
        if not lw:
            return [1.0 if (j == 0 and getattr(layer, "is_loss", False)) else 0.0 for j in range(len(lp.top))]
        if len(lw) != len(lp.top):
            raise CaffeError(f"layer {lp.name}: loss_weight must be unspecified or given once per top blob "
                             f"({len(lp.top)} tops, {len(lw)} loss_weight)")
        return lw

    def _append_params(self, layer: nn.Module, owners: dict) -> bool:
        """Net::AppendParam for each of the layer's blobs; True when one of them has lr_mult > 0."""
        lp: caffe_pb2.LayerParameter = layer.param
        blobs = layer.blobs
        if len(lp.param) > len(blobs):
            raise CaffeError(f"layer {lp.name}: {len(lp.param)} param specs given, the layer has only "
                             f"{len(blobs)} learnable blobs")
        need = False
        for j in range(len(blobs)):
            spec = lp.param[j] if j < len(lp.param) else None
            has_lr = spec is not None and spec.HasField("lr_mult")
            has_decay = spec is not None and spec.HasField("decay_mult")
            # A blob the layer keeps out of learning (BatchNorm statistics) has lr_mult 0, as the
            # ParamSpec Caffe's BatchNormLayer adds for itself.
            lr = spec.lr_mult if has_lr else (1.0 if blobs[j].requires_grad else 0.0)
            decay = spec.decay_mult if has_decay else 1.0
            pname = spec.name if spec is not None else ""
            need |= lr > 0
            if not pname or pname not in owners:
                entry = LearnableParam(blobs[j], float(lr), float(decay), lp.name, j, pname)
                self.learnable_params.append(entry)
                if pname:
                    owners[pname] = [entry, has_lr, has_decay]
                continue
            owner = owners[pname]
            entry = owner[0]
            mine, theirs = tuple(blobs[j].shape), tuple(entry.param.shape)
            permissive = spec.share_mode == caffe_pb2.ParamSpec.PERMISSIVE
            if (permissive and blobs[j].numel() != entry.param.numel()) or (not permissive and mine != theirs):
                raise CaffeError(f"layer {lp.name}: shared parameter '{pname}' has shape "
                                 f"{shape_string(mine)} here but {shape_string(theirs)} in its owner "
                                 f"{entry.layer_name}")
            self._info("net.cpp:478", f"Sharing parameters '{pname}' owned by layer '{entry.layer_name}', "
                                      f"param index {entry.blob_index}")
            if has_lr:
                if owner[1] and spec.lr_mult != entry.lr_mult:
                    raise CaffeError(f"layer {lp.name}: shared param '{pname}' has mismatched lr_mult")
                entry.lr_mult, owner[1] = float(spec.lr_mult), True
            if has_decay:
                if owner[2] and spec.decay_mult != entry.decay_mult:
                    raise CaffeError(f"layer {lp.name}: shared param '{pname}' has mismatched decay_mult")
                entry.decay_mult, owner[2] = float(spec.decay_mult), True
            _replace_parameter(layer, blobs[j], entry.param, permissive)
        return need

    def _mark_backward(self) -> None:
        """The backward pass of Net::Init: which layers contribute to a loss; logs Caffe's lines."""
        under_loss: set[str] = set()
        skip: set[str] = set()
        for e in reversed(self._entries):
            contributes, skip_pd = False, True
            for j, t in enumerate(e.tops):
                if e.loss[j] or t in under_loss:
                    contributes = True
                if t not in skip:
                    skip_pd = False
                if contributes and not skip_pd:
                    break
            if e.need_backward and skip_pd:
                e.need_backward = False
                e.bottom_need_backward = [False] * len(e.bottoms)
            if not contributes:
                e.need_backward = False
            if e.need_backward:
                self._info("net.cpp:200", f"{e.param.name} needs backward computation.")
            else:
                self._info("net.cpp:202", f"{e.param.name} does not need backward computation.")
            for j, b in enumerate(e.bottoms):
                if contributes:
                    under_loss.add(b)
                else:
                    e.bottom_need_backward[j] = False
                if not e.bottom_need_backward[j]:
                    skip.add(b)
        if self.force_backward:  # after the log lines, as in Net::Init
            for e in self._entries:
                e.need_backward = True

    # -- running -----------------------------------------------------------------------------------
    def _fold_batchnorm_scale(self) -> None:
        """Caffe's BatchNorm + Scale pair, in place on one blob, runs as one batch_norm kernel with the
        Scale's blobs as its weight and bias: the same arithmetic, one pass over the blob instead of three
        (the Scale layer stays in the net, with its blobs, and passes its input on)."""
        from .layers.normalization import BatchNorm, Scale, fold_scale

        for a, b in zip(self._entries, self._entries[1:]):
            if (isinstance(a.layer, BatchNorm) and isinstance(b.layer, Scale) and len(a.tops) == 1
                    and a.bottoms == a.tops == b.bottoms == b.tops and not any(a.detach + b.detach)
                    and not any(a.loss + b.loss)):
                fold_scale(a.layer, b.layer)

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
            return self._float32_outputs(self._compiled(data))
        blobs: dict[str, torch.Tensor] = {}
        for e in self._entries:
            tops = self._data_tops(e, feeds).values() if e.is_data else self._run(e, blobs)
            for t, x in zip(e.tops, tops):
                blobs[t] = edits[t](x) if edits and t in edits else x
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
        return {t: feeds.get(t, x) for t, x in zip(e.tops, self.read_data(e.layer))}

    def _run(self, e: _Entry, blobs: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """One computing layer on the blobs so far; under autocast_dtype, losses and Accuracy stay float32."""
        bottoms = [blobs[b].detach() if d else blobs[b] for b, d in zip(e.bottoms, e.detach)]
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

    # -- weights --------------------------------------------------------------------------------------
    def copy_trained_layers_from(self, source: str | os.PathLike | caffe_pb2.NetParameter) -> list[str]:
        """Net::CopyTrainedLayersFrom: layers matched by name; missing layers keep their values (Caffe's
        rule; net_weights.load_weights adds the check that something arrived). Returns the names of the
        net's layers that were copied into."""
        if isinstance(source, caffe_pb2.NetParameter):
            param, where = source, source.name or "weights"
        else:
            paths = str(source).split(",")
            if len(paths) > 1:
                return [name for p in paths for name in self.copy_trained_layers_from(p)]
            if str(source).endswith(".h5"):
                raise CaffeError(f"{source}: HDF5 weights are not supported; use a .caffemodel")
            param, where = read_caffemodel(source), str(source)
        by_name = {e.param.name: e for e in reversed(self._entries)}  # the first layer of a name wins
        copied = []
        for src in param.layer:
            e = by_name.get(src.name)
            if e is None:
                self._info("net.cpp:761", f"Ignoring source layer {src.name}")
                continue
            self._info("net.cpp:764", f"Copying source layer {src.name}")  # Caffe: DLOG, debug builds
            self._copy_layer_blobs(e, src, where)
            copied.append(src.name)
        return copied

    def _copy_layer_blobs(self, e: _Entry, src: caffe_pb2.LayerParameter, where: str) -> None:
        targets = e.layer.blobs
        if len(targets) != len(src.blobs):
            raise CaffeError(f"{where}: layer {src.name}: incompatible number of blobs: the file has "
                             f"{len(src.blobs)}, the net's layer has {len(targets)}")
        for j, (p, b) in enumerate(zip(targets, src.blobs)):
            shape = tuple(p.shape)
            if not legacy_shape_equals(shape, b):
                raise CaffeError(f"{where}: layer {src.name}: cannot copy param {j}: shape mismatch, source "
                                 f"param shape is {shape_string(proto_shape(b))}; target param shape is "
                                 f"{shape_string(shape)} (rename the layer to learn it from scratch)")
            arr = blob_data(b, shape, f"{where}: layer {src.name} blob {j}")
            with torch.no_grad():
                p.copy_(torch.from_numpy(arr.copy()))

    def to_net_parameter(self, write_diff: bool = False) -> caffe_pb2.NetParameter:
        """Net::ToProto: every layer (implicit splits included) with its parameter and blobs."""
        out = caffe_pb2.NetParameter(name=self.name)
        for e in self._entries:
            lp = out.layer.add()
            lp.CopyFrom(e.layer.param if hasattr(e.layer, "param") else e.param)
            del lp.blobs[:]
            for p in e.layer.blobs:
                data = p.detach().to("cpu", torch.float32).numpy()
                diff = None
                if write_diff:
                    diff = (p.grad.detach().to("cpu", torch.float32).numpy() if p.grad is not None
                            else np.zeros_like(data))
                lp.blobs.append(blob_from_array(data, diff))
        return out

    def save_caffemodel(self, path: str | os.PathLike, write_diff: bool = False) -> None:
        write_caffemodel(path, self.to_net_parameter(write_diff))

    @classmethod
    def from_file(cls, path: str | os.PathLike, phase: int | None = None, stages: Iterable[str] | None = None,
                  level: int | None = None, **kw) -> "Net":
        return cls(load_net_param(path), phase=phase, stages=stages, level=level, source=str(path), **kw)


def _to(x: torch.Tensor, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``x`` on ``device``; floating tensors in ``dtype``, integer ones (labels) keep theirs."""
    return x.to(device=device, dtype=dtype if x.is_floating_point() else x.dtype)


def _replace_parameter(module: nn.Module, old: nn.Parameter, new: nn.Parameter, permissive: bool) -> None:
    """Make every reference the layer holds to ``old`` point at the owner's ``new`` (shared weights)."""
    if permissive and tuple(old.shape) != tuple(new.shape):
        raise CaffeError(f"layer {getattr(module, 'name', '?')}: PERMISSIVE sharing between shapes "
                         f"{list(old.shape)} and {list(new.shape)} is not supported (only equal shapes)")
    for m in module.modules():
        for k, v in list(m._parameters.items()):
            if v is old:
                m._parameters[k] = new
