"""caffe.Layer: the type of ``net.layers[i]`` and the base class of Python layers.

A Python layer subclasses it and defines ``setup(bottom, top)``, ``reshape(bottom, top)``,
``forward(bottom, top)`` and ``backward(top, propagate_down, bottom)``; before ``setup`` the net sets
``self.param_str`` (python_param.param_str), ``self.phase`` (0 TRAIN, 1 TEST) and ``self.blobs``
(``self.blobs.add_blob(*shape)`` adds a learnable blob). The net runs it through the layer registry's
"Python" entry (``fer_caffe_compat.layers.python``).
"""
from __future__ import annotations

from .blob import BlobVec


class Layer:
    """A layer of a net: ``type``, ``blobs`` (its learnable blobs)."""

    def __init__(self, param=None):
        self._layer_param = param
        self.blobs = BlobVec()

    @classmethod
    def _wrap(cls, core_layer, blobs: BlobVec) -> "Layer":
        """A view of one of the core net's layers (net.layers[i] for a layer that is not Python)."""
        obj = cls.__new__(cls)
        obj._core = core_layer
        obj._layer_param = getattr(core_layer, "param", None)
        obj.blobs = blobs
        return obj

    @property
    def type(self) -> str:
        core = self.__dict__.get("_core")
        if core is not None:
            return core.type
        return "Python"
