"""caffe.Blob and the vectors pycaffe hands out (BlobVec, IntVec, RawBlobVec).

A Blob is a view of one blob's memory in the core Net's ``BlobStore`` (see ``fer_caffe_compat.net_blobs``
for the sharing rules). ``.data``/``.diff`` are numpy arrays whose ``base`` is the Blob, as in pycaffe, and
the Blob keeps every buffer it handed out alive: arrays stay valid after ``del net``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from fer_caffe_compat.io.blob import legacy_shape
from fer_caffe_compat.net_blobs import Memory

_TYPESTR = {torch.float32: "<f4", torch.float64: "<f8", torch.float16: "<f2", torch.int64: "<i8",
            torch.int32: "<i4", torch.uint8: "|u1"}


class IntVec(list):
    """Caffe's IntVec (Blob.shape): list-like, but unequal to any list or tuple, as boost's vector is."""

    def __eq__(self, other) -> bool:
        return isinstance(other, IntVec) and list.__eq__(self, other)

    def __ne__(self, other) -> bool:
        return not self.__eq__(other)

    __hash__ = None


class Blob:
    """One blob: ``data``, ``diff``, ``shape``, ``count``, the legacy ``num/channels/height/width``,
    ``reshape(*dims)``."""

    def __init__(self, data: Memory, diff: Memory):
        self._data_mem, self._diff_mem = data, diff
        self._alive: dict[int, torch.Tensor] = {}

    def _view(self, t: torch.Tensor) -> np.ndarray:
        """A writable ndarray over ``t``'s memory whose ``base`` is this Blob."""
        self._alive[t.untyped_storage().data_ptr()] = t  # the buffer outlives the net and any reshape
        item = t.element_size()
        self.__array_interface__ = {"shape": tuple(t.shape), "typestr": _TYPESTR[t.dtype], "version": 3,
                                    "data": (t.data_ptr(), False), "strides": tuple(s * item for s in t.stride())}
        try:
            return np.asarray(self)
        finally:
            del self.__array_interface__

    @property
    def data(self) -> np.ndarray:
        return self._view(self._data_mem.host())

    @data.setter
    def data(self, value) -> None:
        self._refuse_assignment(value, self._data_mem, "data")

    @property
    def diff(self) -> np.ndarray:
        return self._view(self._diff_mem.host())

    @diff.setter
    def diff(self, value) -> None:
        self._refuse_assignment(value, self._diff_mem, "diff")

    def _refuse_assignment(self, value, mem: Memory, what: str) -> None:
        # ``blob.data *= 2`` ends by assigning the (already updated) array back: accept that one, which
        # pycaffe refuses only after doubling; any other assignment would silently detach the array.
        if isinstance(value, np.ndarray) and value.base is self and np.shares_memory(value, self._view(mem.host())):
            return
        raise AttributeError(f"Blob.{what} cannot be assigned (it views the net's memory); "
                             f"write into it instead: blob.{what}[...] = values")

    @property
    def shape(self) -> IntVec:
        return IntVec(int(d) for d in self._data_mem.get().shape)

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    num = property(lambda self: legacy_shape(self.shape)[0])
    channels = property(lambda self: legacy_shape(self.shape)[1])
    height = property(lambda self: legacy_shape(self.shape)[2])
    width = property(lambda self: legacy_shape(self.shape)[3])

    def reshape(self, *dims: int, **kwargs) -> None:
        """Blob::Reshape: separate ints; the data and diff buffers keep their memory while the count fits."""
        if kwargs:
            raise RuntimeError("Blob.reshape takes no kwargs")
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)):
                raise TypeError(f"Blob.reshape takes separate ints, got {type(d).__name__}: "
                                f"call blob.reshape(*shape)")
            if d < 0:
                raise ValueError(f"Blob.reshape: negative dimension {d} in {list(dims)}")
        shape = tuple(int(d) for d in dims)
        self._data_mem.reshape(shape)
        self._diff_mem.reshape(shape)

    def __repr__(self) -> str:
        return f"<caffe.Blob shape {list(self.shape)}>"


class BlobVec(list):
    """A layer's learnable blobs (net.params[name], layer.blobs). ``add_blob(*shape)`` is for Python
    layers: it appends a new learnable blob (a parameter of the net)."""

    def __init__(self, blobs=(), add=None):
        super().__init__(blobs)
        self._add = add

    def __getitem__(self, i):
        got = list.__getitem__(self, i)
        if isinstance(i, slice):
            return got
        return Blob(got._data_mem, got._diff_mem)  # a new wrapper per access, as pycaffe's

    def add_blob(self, *shape: int) -> None:
        if self._add is None:
            raise RuntimeError("add_blob is only available to a Python layer's own blobs")
        self._add(tuple(int(d) for d in shape))


class RawBlobVec(list):
    """The bottom/top vectors a Python layer receives (pycaffe's RawBlobVec): index them as top[i]."""
