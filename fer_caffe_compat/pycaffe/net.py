"""caffe.Net: pycaffe's Net (python/caffe/_caffe.cpp + pycaffe.py) over the project's core Net.

Construction, introspection (blob, layer and parameter views in Caffe's order, split blobs included) and
weights; the passes are in ``net_run.py``. No numerics here: everything runs in ``fer_caffe_compat.net``.
"""
from __future__ import annotations

import os
from collections import OrderedDict

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.net import Net as CoreNet
from fer_caffe_compat.net import load_net_param
from fer_caffe_compat.proto import caffe_pb2
from .blob import Blob, BlobVec
from .layer import Layer
from .net_run import NetPasses

_SIGNATURE = ("Net(network_file, phase, level=0, stages=None, weights=None) or the legacy "
              "Net(network_file, weights, phase)")


class LayerVec(list):
    """net.layers: a fresh caffe.Layer view per access, except Python layers, which are the user's objects."""

    def __init__(self, net: "Net"):
        super().__init__(range(len(net._net.layers)))
        self._pynet = net

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._pynet._layer(list.__getitem__(self, i))

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class Net(NetPasses):
    """A net for one phase, with Caffe's stateful interface (see the module docstring)."""

    def __init__(self, network_file, *args, **kwargs):
        phase, weights, level, stages = _parse_args(args, kwargs)
        path = os.fspath(network_file)
        if not os.path.isfile(path):
            raise CaffeError(f"Could not open file {path}")
        core = CoreNet(load_net_param(path), phase=int(phase), level=int(level),
                       stages=list(stages) if stages is not None else None, source=path)
        if weights is not None:
            core.copy_trained_layers_from(_existing(os.fspath(weights)))
        self._attach(core)

    @classmethod
    def _from_core(cls, core: CoreNet) -> "Net":
        """Wrap an existing core Net without rebuilding it (solver.net, solver.test_nets)."""
        net = cls.__new__(cls)
        net._attach(core)
        return net

    def _attach(self, core: CoreNet) -> None:
        self._net = core
        store = core.blob_store
        self._blob_names = list(core.blob_names)
        self._layer_names = list(core.layer_names)
        self.blobs = OrderedDict((n, Blob(store.data_memory(n), store.diff_memory(n))) for n in self._blob_names)
        self._blob_index = {n: i for i, n in enumerate(self._blob_names)}
        self._inputs = [self._blob_index[t] for e in core._entries if e.param.type == "Input" for t in e.tops]
        self._outputs = [self._blob_index[n] for n in core.output_names]
        self.params = OrderedDict((name, self._param_vec(layer)) for name, layer in zip(self._layer_names, core.layers)
                                  if len(layer.blobs))
        self.top_names = OrderedDict((n, list(e.tops)) for n, e in zip(self._layer_names, core._entries))
        self.bottom_names = OrderedDict((n, list(e.bottoms)) for n, e in zip(self._layer_names, core._entries))
        self.layer_dict = OrderedDict(zip(self._layer_names, self.layers))

    # -- introspection -----------------------------------------------------------------------------------
    def _param_vec(self, layer) -> BlobVec:
        return BlobVec(Blob(*self._net.param_memory(p)) for p in layer.blobs)

    def _layer(self, i: int):
        core_layer = self._net.layers[i]
        user = getattr(core_layer, "obj", None)
        if user is not None:
            return user  # a Python layer: the user's own object, attributes and all
        return Layer._wrap(core_layer, self._param_vec(core_layer))

    @property
    def layers(self) -> LayerVec:
        return LayerVec(self)

    @property
    def inputs(self) -> list[str]:
        return [self._blob_names[i] for i in self._inputs]

    @property
    def outputs(self) -> list[str]:
        """Sorted by blob name, as Caffe's std::set lists them."""
        return [self._blob_names[i] for i in self._outputs]

    @property
    def _blob_loss_weights(self) -> list[float]:
        return [self._net.blob_loss_weights[n] for n in self._blob_names]

    @property
    def blob_loss_weights(self) -> OrderedDict:
        return OrderedDict(zip(self._blob_names, self._blob_loss_weights))

    def _top_ids(self, i: int) -> list[int]:
        return [self._blob_index[t] for t in self._net._entries[i].tops]

    def _bottom_ids(self, i: int) -> list[int]:
        return [self._blob_index[b] for b in self._net._entries[i].bottoms]

    # -- weights -----------------------------------------------------------------------------------------
    def copy_from(self, weights) -> None:
        """Net::CopyTrainedLayersFrom: layers matched by name, in place (held arrays see the values)."""
        self._net.copy_trained_layers_from(_existing(os.fspath(weights)))

    def share_with(self, other: "Net") -> None:
        """Net::ShareTrainedLayersWith: this net's layers use the other's parameter memory (data, not diff)."""
        theirs = {n: layer for n, layer in zip(other._net.layer_names, other._net.layers)}
        for name, layer in zip(self._net.layer_names, self._net.layers):
            src = theirs.get(name)
            if src is None:
                continue
            if len(src.blobs) != len(layer.blobs):
                raise CaffeError(f"share_with: layer {name}: incompatible number of blobs "
                                 f"({len(layer.blobs)} here, {len(src.blobs)} in the source)")
            for p, q in zip(layer.blobs, src.blobs):
                if p.shape != q.shape:
                    raise CaffeError(f"share_with: layer {name}: cannot share a blob of shape {list(q.shape)} "
                                     f"with one of shape {list(p.shape)}")
                p.data = q.data  # same storage; the Parameter object (and its .grad) stays this net's

    def save(self, filename) -> None:
        """Net::ToProto + WriteProtoToBinaryFile: every layer with its blobs (no diffs)."""
        self._net.save_caffemodel(os.fspath(filename))

    def save_hdf5(self, filename) -> None:
        """Net::ToHDF5: /data/<layer>/<i> datasets (needs h5py)."""
        h5py = _h5py()
        with h5py.File(os.fspath(filename), "w") as f:
            data = f.create_group("data")
            for name, vec in self.params.items():
                g = data.create_group(name)
                for i, b in enumerate(vec):
                    g.create_dataset(str(i), data=b.data)

    def load_hdf5(self, filename) -> None:
        """Net::CopyTrainedLayersFromHDF5: layers matched by name."""
        h5py = _h5py()
        with h5py.File(_existing(os.fspath(filename)), "r") as f:
            for name, g in f["data"].items():
                vec = self.params.get(name)
                if vec is None:
                    continue
                for i, b in enumerate(vec):
                    b.data[...] = g[str(i)][...]


def _parse_args(args: tuple, kwargs: dict):
    """Caffe's two constructors: (file, phase, level=0, stages=None, weights=None) and (file, weights, phase)."""
    kw = dict(kwargs)
    if len(args) == 2:
        weights, phase = args
        if kw:
            raise TypeError(f"the legacy form takes no keywords: {_SIGNATURE}")
        return _phase(phase), weights, 0, None
    if len(args) > 2:
        raise TypeError(f"too many arguments: {_SIGNATURE}")
    phase = args[0] if args else kw.pop("phase", None)
    if phase is None:
        raise TypeError(f"the phase (caffe.TRAIN or caffe.TEST) is required: {_SIGNATURE}")
    weights, level, stages = kw.pop("weights", None), kw.pop("level", 0), kw.pop("stages", None)
    if kw:
        raise TypeError(f"unknown keyword(s) {', '.join(sorted(kw))}: {_SIGNATURE}")
    return _phase(phase), weights, level, stages


def _phase(phase) -> int:
    if isinstance(phase, bool) or not isinstance(phase, int):
        raise TypeError(f"phase must be caffe.TRAIN (0) or caffe.TEST (1), got {phase!r}: {_SIGNATURE}")
    if phase not in (caffe_pb2.TRAIN, caffe_pb2.TEST):
        raise ValueError(f"phase must be caffe.TRAIN (0) or caffe.TEST (1), got {phase}")
    return phase


def _existing(path: str) -> str:
    for p in path.split(","):
        if not os.path.isfile(p):
            raise CaffeError(f"Could not open file {p}")
    return path


def _h5py():
    try:
        import h5py
    except ImportError:
        raise CaffeError("HDF5 weights need h5py (pip install h5py)") from None
    return h5py
