"""Caffe's PythonLayer: ``type: "Python"`` with ``python_param { module layer param_str }``.

The module is imported (from sys.path) only when a net uses it, and the class must subclass ``caffe.Layer``
(the pycaffe front is imported here, lazily: it is the one place the package reaches up to it). The user's
object receives lists of ``caffe.Blob`` exactly as Caffe calls it: ``setup`` then ``reshape`` at
construction, ``reshape`` then ``forward`` on every pass, ``backward(top, propagate_down, bottom)`` reading
top diffs and writing bottom diffs; its learnable blobs (``self.blobs.add_blob``) are this layer's
parameters, and the diffs it writes into them are the parameters' ``.grad`` (it accumulates or overwrites
them itself, as in Caffe). Its own exceptions reach the caller unchanged (``user_code``).
"""
from __future__ import annotations

import importlib

import torch

from ..errors import CaffeError
from ..net_blobs import DEVICE, BlobStore, Memory, ParamMemory
from ..proto import caffe_pb2
from .base import Layer
from .registry import register


def load_layer_class(name: str, module: str, cls_name: str) -> type:
    """The user's layer class, or one CaffeError naming the layer and the module."""
    from caffe.layer import Layer as PyLayer  # the front, by its one import name

    if not module or not cls_name:
        raise CaffeError(f"layer {name} (Python): python_param needs both module and layer "
                         f"(got module {module!r}, layer {cls_name!r})")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise CaffeError(f"layer {name} (Python): cannot import module {module!r} from sys.path: {e}") from None
    cls = getattr(mod, cls_name, None)
    if cls is None:
        raise CaffeError(f"layer {name} (Python): module {module!r} ({getattr(mod, '__file__', '?')}) "
                         f"has no class {cls_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, PyLayer)):
        raise CaffeError(f"layer {name} (Python): {module}.{cls_name} is not a subclass of caffe.Layer")
    return cls


class _PythonFunction(torch.autograd.Function):
    """The user's forward and backward as one autograd node (inputs: bottoms, then parameters)."""

    @staticmethod
    def forward(ctx, layer: "PythonLayer", n_bottoms: int, *inputs: torch.Tensor):
        ctx.layer, ctx.n_bottoms, ctx.n_params = layer, n_bottoms, len(inputs) - n_bottoms
        return tuple(layer.run_forward(inputs[:n_bottoms]))

    @staticmethod
    def backward(ctx, *top_grads: torch.Tensor):
        need = [bool(ctx.needs_input_grad[2 + j]) for j in range(ctx.n_bottoms)]
        grads = ctx.layer.run_backward(top_grads, need)
        # Parameter diffs were written by the user straight into .grad (Caffe's param diffs).
        return (None, None, *grads, *([None] * ctx.n_params))


@register("Python")
class PythonLayer(Layer):
    user_code = True

    def __init__(self, param: caffe_pb2.LayerParameter, bottom_shapes, phase: int = caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        from caffe.blob import Blob, BlobVec, RawBlobVec

        pp = param.python_param
        cls = load_layer_class(param.name, pp.module, pp.layer)
        self.is_data = not bottom_shapes  # no bottoms: it runs on every forward, as a data layer does
        self._store = BlobStore({}, {}, {}, torch.device("cpu"), torch.float32)
        self._blob = Blob
        self._param_memories: list[ParamMemory] = []
        obj = cls(param)
        obj.param_str = pp.param_str
        obj.phase = int(phase)
        obj.blobs = BlobVec(add=self._add_user_blob)
        object.__setattr__(self, "obj", obj)  # the user's object, not a torch submodule
        self.bottom_vec = RawBlobVec(self._new_blob(s) for s in self.bottom_shapes)
        self.top_vec = RawBlobVec(self._new_blob(()) for _ in param.top)  # tops are 0-d at setup, as in Caffe
        obj.setup(self.bottom_vec, self.top_vec)
        obj.reshape(self.bottom_vec, self.top_vec)
        self._push_params()
        self.top_shapes = [tuple(b.shape) for b in self.top_vec]

    def _new_blob(self, shape):
        z = torch.zeros(shape)
        return self._blob(Memory(self._store, z), Memory(self._store, torch.zeros(shape)))

    def _add_user_blob(self, shape: tuple[int, ...]) -> None:
        p = self.add_blob(shape)
        data, diff = ParamMemory(self._store, p, False), ParamMemory(self._store, p, True)
        self._param_memories += [data, diff]
        list.append(self.obj.blobs, self._blob(data, diff))

    def _push_params(self) -> None:
        """Writes made through arrays of the layer's blobs reach the parameters on a device (CUDA)."""
        for m in self._param_memories:
            m.push()
            m.head = DEVICE

    def _set_bottoms(self, bottoms) -> None:
        for blob, x in zip(self.bottom_vec, bottoms):
            blob._data_mem.put(x.detach().to("cpu", torch.float32).contiguous())

    def run_forward(self, bottoms) -> list[torch.Tensor]:
        """PythonLayer::Forward after Layer::Reshape: reshape(), then forward()."""
        dev = bottoms[0].device if bottoms else self._device()
        self._set_bottoms(bottoms)
        self.obj.reshape(self.bottom_vec, self.top_vec)
        self.obj.forward(self.bottom_vec, self.top_vec)
        self._push_params()
        return [b._data_mem.get().detach().clone().to(dev) for b in self.top_vec]

    def run_backward(self, top_grads, need: list[bool]) -> list[torch.Tensor | None]:
        dev = top_grads[0].device if top_grads else self._device()
        for blob, g in zip(self.top_vec, top_grads):
            shape = tuple(blob.shape)
            g = torch.zeros(shape) if g is None else g.detach().to("cpu", torch.float32).reshape(shape)
            blob._diff_mem.put(g.contiguous())
        for blob in self.bottom_vec:
            blob._diff_mem.put(torch.zeros(tuple(blob.shape)))
        for p in self.blobs:  # the user adds to (or overwrites) the param diffs, which must exist
            if p.requires_grad and p.grad is None:
                p.grad = torch.zeros_like(p)
        self.obj.backward(self.top_vec, list(need), self.bottom_vec)
        self._push_params()
        return [b._diff_mem.get().detach().clone().to(dev) if n else None for b, n in zip(self.bottom_vec, need)]

    def _device(self) -> torch.device:
        return self.blobs[0].device if len(self.blobs) else torch.device("cpu")

    def top_shapes_for(self, bottoms) -> list[tuple[int, ...]]:
        """Net::Reshape for this layer: the user's reshape() only."""
        self._set_bottoms(bottoms)
        self.obj.reshape(self.bottom_vec, self.top_vec)
        return [tuple(b.shape) for b in self.top_vec]

    def forward(self, *bottoms: torch.Tensor) -> list[torch.Tensor]:
        return list(_PythonFunction.apply(self, len(bottoms), *bottoms, *self.blobs))
