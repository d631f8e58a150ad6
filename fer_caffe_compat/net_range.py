"""Caffe's stateful Net interface over layer ranges: Net::ForwardFromTo, Net::BackwardFromTo, Net::Reshape,
ClearParamDiffs, with every blob's data and diff kept in a ``net_blobs.BlobStore``. A mixin of ``net.Net``.

A range forward runs layers ``start..end`` reading their bottoms from the store (whatever the last pass, or
the caller through a held array, left there) and writes their tops back. A layer that needs backward runs on
detached leaves, as ``net_timing`` does, so that its Backward can later run on its own: Caffe's
Layer::Backward, reading its top diffs from the store (the user's, a loss weight, or what the layers above
wrote) and writing its bottom diffs there (overwriting, as Caffe does); parameter diffs are added to
``.grad`` (they accumulate until ClearParamDiffs). A layer with no recorded pass (backward before any range
forward) is run again on the stored bottoms first.

The whole-net ``Net.forward`` (training, scoring) keeps its single autograd graph; it only leaves its blobs
in the store (a reference per blob, or an in-place copy into buffers whose arrays were handed out).
"""
from __future__ import annotations

from typing import Callable

import torch

from .net_blobs import BlobStore, ParamMemory

_CALLBACKS = ("before_forward", "after_forward", "before_backward", "after_backward")


class NetRanges:
    """Layer ranges, blob memory and diffs: what pycaffe's Net needs from the core Net."""

    def _init_store(self) -> None:
        aliases: dict[str, str] = {}
        weights: dict[str, float] = {}
        names: list[str] = []
        for e in self._entries:
            for t, w in zip(e.tops, e.loss):
                if t not in weights:
                    names.append(t)
                weights[t] = float(w)  # Net::Init: the last layer writing a blob sets its loss weight
            if e.param.type == "Split" and not hasattr(e.layer, "next_batch"):
                src = aliases.get(e.bottoms[0], e.bottoms[0])
                for t in e.tops:
                    aliases[t] = src
        self.blob_names: list[str] = names
        self.blob_loss_weights: dict[str, float] = weights
        self.blob_store = BlobStore(dict(self.blob_shapes), aliases, {k: w for k, w in weights.items() if w},
                                    self.device, self._probe.dtype if self._probe.is_floating_point()
                                    else torch.float32)
        self._kept = [t for t in names if t not in aliases]
        inputs = {t for e in self._entries if e.param.type == "Input" for t in e.tops}
        self._released = [t for t in self._kept if t not in inputs]  # an Input blob keeps its value
        self._records: dict[int, tuple[list[torch.Tensor], list[torch.Tensor]]] = {}
        self._params_memory: dict[int, tuple[ParamMemory, ParamMemory]] = {}
        self.callbacks: dict[str, list[Callable[[int], None]]] = {k: [] for k in _CALLBACKS}

    def add_callback(self, kind: str, fn: Callable[[int], None]) -> None:
        """Net::add_before_forward and its siblings: ``fn(layer_index)`` around each layer's pass."""
        self.callbacks[kind].append(fn)

    def _notify(self, kind: str, i: int) -> None:
        for fn in self.callbacks[kind]:
            fn(i)

    def param_memory(self, p: torch.nn.Parameter) -> tuple[ParamMemory, ParamMemory]:
        """The (data, diff) memory of a learnable blob; one pair per parameter, shared layers included."""
        pair = self._params_memory.get(id(p))
        if pair is None:
            pair = self._params_memory[id(p)] = (ParamMemory(self.blob_store, p, False),
                                                 ParamMemory(self.blob_store, p, True))
        return pair

    def _keep(self, blobs: dict[str, torch.Tensor]) -> None:
        """Leave a whole-net pass's blobs in the store (the solver's and the scorer's forward)."""
        put = self.blob_store.put
        for n in self._kept:
            x = blobs.get(n)
            if x is not None:
                put(n, x)
        self._records.clear()
        self.blob_store.device_newer()

    # -- forward ---------------------------------------------------------------------------------------
    def forward_range(self, start: int = 0, end: int | None = None) -> None:
        """Net::ForwardFromTo(start, end), both inclusive."""
        store = self.blob_store
        store.push()
        end = len(self._entries) - 1 if end is None else end
        before, after = self.callbacks["before_forward"], self.callbacks["after_forward"]
        self._release_range(start, end)
        with torch.no_grad():  # only layers that need backward keep a graph (_record)
            for i in range(start, end + 1):
                e = self._entries[i]
                if before:
                    self._notify("before_forward", i)
                if e.is_data:
                    self._records.pop(i, None)
                    # InputLayer::Forward does nothing: the blob keeps what the caller wrote
                    tops = () if e.param.type == "Input" else self.read_data(e.layer)
                elif e.need_backward:
                    tops = self._record(i)[1]
                else:
                    self._records.pop(i, None)
                    tops = self._call(e, [store.get(b) for b in e.bottoms])
                for t, x in zip(e.tops, tops):
                    store.put(t, x)
                if after:
                    self._notify("after_forward", i)
        store.device_newer()

    def _release_range(self, start: int, end: int) -> None:
        """Drop the last pass's values that layers start..end will recompute before reading them, and their
        graphs, so that the allocator reuses that memory instead of holding two generations."""
        seen: set[str] = set()
        fresh: list[str] = []
        for i in range(start, end + 1):
            e = self._entries[i]
            self._records.pop(i, None)
            seen.update(e.bottoms)
            fresh += [t for t in e.tops if t not in seen]
            seen.update(e.tops)
        released = set(self._released)
        self.blob_store.release([t for t in fresh if t in released])

    def _record(self, i: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Run layer ``i`` on leaves made from the stored bottoms, keeping its graph for its Backward."""
        e = self._entries[i]
        leaves = []
        for b, need in zip(e.bottoms, e.bottom_need_backward):
            m = self.blob_store.data_memory(b)
            # A held buffer is rewritten in place by later passes (and in-place layers): the graph gets a copy.
            x = m.get().detach().clone() if m.held else m.get().detach()
            leaves.append(x.requires_grad_(bool(need) and x.is_floating_point()))
        with torch.enable_grad():
            tops = list(self._call(e, leaves))
        self._records[i] = (leaves, tops)
        return leaves, tops

    # -- backward --------------------------------------------------------------------------------------
    def backward_range(self, start: int | None = None, end: int = 0) -> None:
        """Net::BackwardFromTo(start, end), ``start >= end``, both inclusive."""
        store = self.blob_store
        store.push()
        start = len(self._entries) - 1 if start is None else start
        for i in range(start, end - 1, -1):
            self._notify("before_backward", i)
            self._backward_layer(i)
            self._notify("after_backward", i)
        store.device_newer()

    def _backward_layer(self, i: int) -> None:
        """Layer::Backward of layer ``i``, if it needs one."""
        store = self.blob_store
        e = self._entries[i]
        if not e.need_backward or e.is_data:
            return
        leaves, tops = self._records.get(i) or self._record(i)
        outs = [(t, store.get_diff(name)) for name, t in zip(e.tops, tops) if t.requires_grad]
        params = self._learnable_of(e)
        inputs = [x for x in leaves if x.requires_grad] + params
        if not outs or not inputs:
            return
        grads = torch.autograd.grad([t for t, _ in outs], inputs,
                                    [g.to(t.dtype).expand_as(t) for t, g in outs],
                                    retain_graph=True, allow_unused=True)
        k = 0
        for b, x in zip(e.bottoms, leaves):
            if x.requires_grad:
                g = grads[k]
                store.put_diff(b, g if g is not None else torch.zeros_like(x))
                k += 1
        with torch.no_grad():
            for p, g in zip(params, grads[k:]):
                if g is None:
                    continue
                if p.grad is None:
                    p.grad = g.detach().clone()
                else:
                    p.grad.add_(g)

    @staticmethod
    def _learnable_of(e) -> list[torch.nn.Parameter]:
        """The parameters layer ``e``'s forward uses: its own blobs, and a Scale folded into a BatchNorm."""
        blobs = list(e.layer.blobs)
        folded = getattr(e.layer, "folded_scale", None)
        if folded is not None:
            blobs += list(folded.blobs)
        return [p for p in blobs if p.requires_grad]

    # -- shapes and diffs ------------------------------------------------------------------------------
    def reshape_blobs(self) -> None:
        """Net::Reshape: every computing layer's tops take the shapes its current bottoms give."""
        store = self.blob_store
        store.push()
        for e in self._entries:
            if e.is_data:
                continue
            bottoms = [store.get(b) for b in e.bottoms]
            if hasattr(e.layer, "top_shapes_for"):
                shapes = e.layer.top_shapes_for(bottoms)
            else:
                kept = [p.detach().clone() for p in e.layer.blobs]  # BatchNorm's TRAIN statistics stay
                with torch.no_grad():
                    shapes = [tuple(x.shape) for x in self._call(e, bottoms)]
                    for p, v in zip(e.layer.blobs, kept):
                        p.copy_(v)
            for t, s in zip(e.tops, shapes):
                m = store.data_memory(t)
                if tuple(m.get().shape) != tuple(s):
                    m.reshape(tuple(s)) if m.held else m.put(torch.zeros(s, dtype=store.dtype, device=self.device))
        self._records.clear()

    def clear_param_diffs(self) -> None:
        """Net::ClearParamDiffs: zero every parameter's diff in place (held arrays see the zeros)."""
        with torch.no_grad():
            for lp in self.learnable_params:
                if lp.param.grad is not None:
                    lp.param.grad.zero_()
