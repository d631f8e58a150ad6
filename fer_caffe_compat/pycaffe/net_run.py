"""caffe.Net's passes, as pycaffe.py defines them: forward/backward over layer ranges, forward_all,
forward_backward_all, reshape, set_input_arrays and the per-layer callbacks. A mixin of ``net.Net``.

Departures, where pycaffe fails by accident: forward_all()/forward_backward_all() without inputs run one
pass and return its outputs (pycaffe: StopIteration); forward_backward_all() packs every output and diff
into arrays without padding (pycaffe's zip leaves some as lists that keep the padding rows).
"""
from __future__ import annotations

import numpy as np

from fer_caffe_compat.errors import CaffeError

from .common import NCCL


class NetPasses:
    """The running half of caffe.Net."""

    def _index(self, layer: str) -> int:
        try:
            return self._layer_names.index(layer)
        except ValueError:
            raise ValueError(f"{layer!r} is not a layer of this net (layers: {', '.join(self._layer_names)})") \
                from None

    def forward(self, blobs=None, start=None, end=None, **kwargs) -> dict:
        """Net::ForwardFromTo; returns views of the outputs (or of top_names[end]) and of ``blobs``."""
        blobs = list(blobs or [])
        start_ind = self._index(start) if start is not None else 0
        if end is not None:
            end_ind = self._index(end)
            outputs = set(self.top_names[end] + blobs)
        else:
            end_ind = len(self._layer_names) - 1
            outputs = set(self.outputs + blobs)
        if kwargs:
            if set(kwargs) != set(self.inputs):
                raise Exception("Input blob arguments do not match net inputs.")
            for name, value in kwargs.items():
                value = np.asarray(value)
                if value.ndim == 0 or value.shape[0] != self.blobs[name].shape[0]:
                    raise Exception("Input is not batch sized")
                self.blobs[name].data[...] = value
        self._net.forward_range(start_ind, end_ind)
        return {out: self.blobs[out].data for out in outputs}

    def backward(self, diffs=None, start=None, end=None, **kwargs) -> dict:
        """Net::BackwardFromTo; returns views of the input diffs (or of bottom_names[end]) and of ``diffs``."""
        diffs = list(diffs or [])
        start_ind = self._index(start) if start is not None else len(self._layer_names) - 1
        if end is not None:
            end_ind = self._index(end)
            outputs = set(self.bottom_names[end] + diffs)
        else:
            end_ind = 0
            outputs = set(self.inputs + diffs)
        if kwargs:
            if set(kwargs) != set(self.outputs):
                raise Exception("Top diff arguments do not match net outputs.")
            for name, diff in kwargs.items():
                diff = np.asarray(diff)
                if diff.ndim == 0 or diff.shape[0] != self.blobs[name].shape[0]:
                    raise Exception("Diff is not batch sized")
                self.blobs[name].diff[...] = diff
        self._net.backward_range(start_ind, end_ind)
        return {out: self.blobs[out].diff for out in outputs}

    def forward_all(self, blobs=None, **kwargs) -> dict:
        """forward() over the inputs in batches of the net's batch size; the last batch is padded with
        zeros and the padded rows dropped."""
        if not kwargs:
            return {k: np.array(v, copy=True) for k, v in self.forward(blobs=blobs).items()}
        outs = {out: [] for out in set(self.outputs + list(blobs or []))}
        for batch in self._batch(kwargs):
            for out, value in self.forward(blobs=blobs, **batch).items():
                outs[out].extend(value.copy())
        return self._unpad(outs, kwargs)

    def forward_backward_all(self, blobs=None, diffs=None, **kwargs) -> tuple[dict, dict]:
        """forward() and backward() over the inputs and top diffs in batches; padded rows dropped."""
        fwd = {k: v for k, v in kwargs.items() if k in self.inputs}
        bwd = {k: v for k, v in kwargs.items() if k in self.outputs}
        outs = {out: [] for out in set(self.outputs + list(blobs or []))}
        grads = {d: [] for d in set(self.inputs + list(diffs or []))}
        fb, bb = list(self._batch(fwd)), list(self._batch(bwd))
        for k in range(max(len(fb), len(bb), 1)):
            got = self.forward(blobs=blobs, **(fb[k] if k < len(fb) else {}))
            back = self.backward(diffs=diffs, **(bb[k] if k < len(bb) else {}))
            for out, value in got.items():
                outs[out].extend(value.copy())
            for d, value in back.items():
                grads[d].extend(value.copy())
        given = fwd or bwd
        return self._unpad(outs, given), self._unpad(grads, given)

    def _batch(self, blobs: dict):
        """pycaffe's _Net_batch: full batches, then one zero-padded batch."""
        if not blobs:
            return
        num = len(next(iter(blobs.values())))
        batch_size = next(iter(self.blobs.values())).shape[0]
        for b in range(num // batch_size):
            i = b * batch_size
            yield {name: blobs[name][i:i + batch_size] for name in blobs}
        remainder = num % batch_size
        if remainder:
            padded = {}
            for name, value in blobs.items():
                value = np.asarray(value)
                pad = np.zeros((batch_size - remainder,) + value.shape[1:])
                padded[name] = np.concatenate([value[-remainder:], pad])
            yield padded

    @staticmethod
    def _unpad(lists: dict, given: dict) -> dict:
        packed = {k: np.asarray(v) for k, v in lists.items()}
        if not given or not packed:
            return packed
        n = len(next(iter(given.values())))
        return {k: v[:n] for k, v in packed.items()}

    def reshape(self) -> None:
        """Net::Reshape: every layer's tops take the shapes the current bottoms give."""
        self._net.reshape_blobs()

    def clear_param_diffs(self) -> None:
        self._net.clear_param_diffs()

    def set_input_arrays(self, data, labels) -> None:
        """MemoryDataLayer::Reset on the net's first layer, which must be a MemoryData layer."""
        layer = self._net.layers[0]
        if getattr(layer, "type", "") != "MemoryData":
            raise CaffeError("set_input_arrays: the net's first layer is not a MemoryData layer "
                             f"(it is {self._layer_names[0]} of type {getattr(layer, 'type', '?')})")
        data, labels = np.asarray(data), np.asarray(labels)
        if labels.ndim != 1 and labels.shape[1:] != (1, 1, 1):
            raise CaffeError("set_input_arrays: labels must be a 1-D array (or N x 1 x 1 x 1)")
        if data.ndim != 4:
            raise CaffeError("set_input_arrays: data must be a 4-D array (N x C x H x W)")
        layer.set_input_arrays(data, labels.reshape(-1))

    # -- per-layer callbacks (Net::add_before_forward ...): f(layer_index) ------------------------------
    def before_forward(self, callback) -> None:
        self._net.add_callback("before_forward", callback)

    def after_forward(self, callback) -> None:
        self._net.add_callback("after_forward", callback)

    def before_backward(self, callback) -> None:
        self._net.add_callback("before_backward", callback)

    def after_backward(self, callback) -> None:
        if isinstance(callback, NCCL):  # one solver, nothing to reduce: solver.step keeps its one backward
            return
        self._net.add_callback("after_backward", callback)

    def __repr__(self) -> str:
        return f"<caffe.Net {self._net.name or '(unnamed)'}: {len(self._layer_names)} layers>"
