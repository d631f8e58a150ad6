"""Building a Net from its (filtered, split) layer list, as Caffe's Net::Init does: layer construction
through the registry, top shapes and loss weights, learnable parameters (Net::AppendParam, shared
parameters by ParamSpec name) and which layers need backward. A mixin of ``net.Net``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import log
from .errors import CaffeError
from .io.caffemodel import shape_string
from .layers import get_layer_class
from .proto import caffe_pb2

# Under mixed precision these run in float32 on float32 bottoms, as the losses do: Caffe's SoftmaxWithLoss
# clamps at FLT_MIN, and Accuracy counts ties. (BatchNorm takes bfloat16 in and keeps float32 statistics.)
_FLOAT32_TYPES = {"Accuracy"}
# Caffe wraps only these from a layer's set-up into a one-line error; anything else is a bug.
_SETUP_ERRORS = (ValueError, RuntimeError, IndexError, ZeroDivisionError)


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



class NetBuilder:
    """The building half of ``net.Net`` (Net::Init after FilterNet and InsertSplits)."""

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
                    if getattr(cls, "user_code", False):
                        raise  # a Python layer's own exception reaches the caller unchanged, as in Caffe
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
                e.bottom_need_backward = [need or (not d and _allow_force_backward(e.layer, j))
                                          for j, (need, d) in enumerate(zip(e.bottom_need_backward, e.detach))]

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


def _allow_force_backward(layer: nn.Module, bottom: int) -> bool:
    """Layer::AllowForceBackward: a loss layer never sends a diff to its labels (bottom 1), except
    EuclideanLoss, whose two bottoms are both inputs."""
    return not getattr(layer, "is_loss", False) or bottom != 1 or getattr(layer, "type", "") == "EuclideanLoss"


def _replace_parameter(module: nn.Module, old: nn.Parameter, new: nn.Parameter, permissive: bool) -> None:
    """Make every reference the layer holds to ``old`` point at the owner's ``new`` (shared weights)."""
    if permissive and tuple(old.shape) != tuple(new.shape):
        raise CaffeError(f"layer {getattr(module, 'name', '?')}: PERMISSIVE sharing between shapes "
                         f"{list(old.shape)} and {list(new.shape)} is not supported (only equal shapes)")
    for m in module.modules():
        for k, v in list(m._parameters.items()):
            if v is old:
                m._parameters[k] = new
