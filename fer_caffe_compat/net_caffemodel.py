"""A Net's weights in and out of .caffemodel files: Net::CopyTrainedLayersFrom and Net::ToProto.
A mixin of ``net.Net``.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from .errors import CaffeError
from .io.caffemodel import (blob_data, blob_from_array, legacy_shape_equals, proto_shape, read_caffemodel,
                           shape_string, write_caffemodel)
from .proto import caffe_pb2


class NetWeights:
    """Copying trained layers in by name, and writing every layer with its blobs out."""

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

