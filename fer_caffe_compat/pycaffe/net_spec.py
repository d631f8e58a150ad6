"""caffe.NetSpec, caffe.layers (L), caffe.params (P), caffe.to_proto: nets written as Python calls.

``L.Convolution(bottom, kernel_size=3, num_output=8)`` makes a Top of a Function (one layer); assigning
Tops to a NetSpec names them; ``to_proto`` walks from the named Tops back through their inputs and writes
one LayerParameter per Function, in the order Caffe's net_spec.py wrote them. Keyword arguments go into
the layer's ``<type>_param`` message when it has such a field, else into LayerParameter itself; dicts are
messages, lists repeated fields. The result is a NetParameter of the project's caffe_pb2, so ``str()`` of it
is Caffe's text (field-number order, float32 printed shortest-exact as "0.333333343").
"""
from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any

from google.protobuf.message import Message

from .proto import caffe_pb2

__all__ = ["NetSpec", "Top", "Function", "layers", "params", "to_proto", "assign_proto", "param_name_dict"]


def param_name_dict() -> dict[str, str]:
    """Layer type -> its ``<name>_param`` field stem, read off LayerParameter's message fields
    (``ConvolutionParameter convolution_param`` gives Convolution -> convolution)."""
    out: dict[str, str] = {}
    for f in caffe_pb2.LayerParameter.DESCRIPTOR.fields:
        if f.name.endswith("_param") and f.message_type is not None:
            out[f.message_type.name[:-len("Parameter")]] = f.name[:-len("_param")]
    # Deconvolution and Im2col read convolution_param; Caffe's table missed them (their flat keywords
    # failed with AttributeError), here they fill it as Convolution's do
    out.setdefault("Deconvolution", out["Convolution"])
    out.setdefault("Im2col", out["Convolution"])
    return out


_PARAM_NAMES = param_name_dict()


def assign_proto(proto: Message, name: str, val: Any) -> None:
    """Set ``proto.<name>`` from a Python value: a dict fills a message, a list a repeated field (a single
    value into a repeated field becomes a one-item list), anything else is assigned (enums may be names)."""
    target = getattr(proto, name)  # AttributeError(name) for a field the message lacks, as in Caffe
    repeated = hasattr(target, "extend")
    if repeated and not isinstance(val, (list, tuple)):
        val = [val]
    if isinstance(val, (list, tuple)):
        if not repeated:
            setattr(proto, name, val)  # protobuf's own TypeError: a list for a single field
        for item in val:
            if isinstance(item, dict):
                sub = target.add()
                for k, v in item.items():
                    assign_proto(sub, k, v)
            elif isinstance(item, Message):
                target.add().CopyFrom(item)
            else:
                target.append(item)
    elif isinstance(val, dict):
        for k, v in val.items():
            assign_proto(target, k, v)
    elif isinstance(val, Message):
        target.CopyFrom(val)
    else:
        setattr(proto, name, val)


class Top:
    """One output blob of a Function (its ``n``-th top)."""

    def __init__(self, fn: "Function", n: int):
        self.fn, self.n = fn, n

    def to_proto(self) -> caffe_pb2.NetParameter:
        """The NetParameter of every layer this top needs, intermediate blobs auto-named."""
        return to_proto(self)

    def _update(self, params: dict) -> None:
        self.fn._update(params)

    def _to_proto(self, layers: OrderedDict, names: dict, autonames: Counter) -> None:
        self.fn._to_proto(layers, names, autonames)


class Function:
    """One layer: its Caffe type, input Tops and keyword parameters (``ntop``, ``in_place`` taken out)."""

    def __init__(self, type_name: str, inputs: tuple, params: dict):
        for i, inp in enumerate(inputs):
            if not isinstance(inp, Top):
                raise TypeError(f"{type_name} input {i} is not a Top (type is {type(inp)})")
        self.type_name, self.inputs, self.params = type_name, inputs, params
        self.ntop = self.params.pop("ntop", 1)
        self.in_place = self.params.pop("in_place", False)
        self.tops = tuple(Top(self, n) for n in range(self.ntop))

    def _top_name(self, top: Top, names: dict, autonames: Counter) -> str:
        # an unnamed top is "<Type><k>", k counting that type's auto-names in this to_proto call
        if top not in names:
            autonames[top.fn.type_name] += 1
            names[top] = f"{top.fn.type_name}{autonames[top.fn.type_name]}"
        return names[top]

    def _name(self, names: dict, autonames: Counter) -> str:
        # a layer takes its first top's name; a top-less one (Silence) its own name or "<Type><k>"
        if self not in names:
            if self.ntop > 0:
                names[self] = self._top_name(self.tops[0], names, autonames)
            else:
                autonames[self.type_name] += 1
                names[self] = f"{self.type_name}{autonames[self.type_name]}"
        return names[self]

    def _update(self, params: dict) -> None:
        self.params.update(params)

    def _to_proto(self, layers: OrderedDict, names: dict, autonames: Counter) -> None:
        if self in layers:
            return
        bottoms = []
        for inp in self.inputs:
            inp._to_proto(layers, names, autonames)
            bottoms.append(layers[inp.fn].top[inp.n])
        layer = caffe_pb2.LayerParameter()
        layer.type = self.type_name
        layer.bottom.extend(bottoms)
        if self.in_place:
            layer.top.extend(layer.bottom)
        else:
            layer.top.extend(self._top_name(t, names, autonames) for t in self.tops)
        layer.name = self._name(names, autonames)
        for k, v in self.params.items():
            if k.endswith("param"):  # an explicit message: convolution_param=dict(...), param=[...]
                assign_proto(layer, k, v)
                continue
            try:
                assign_proto(getattr(layer, _PARAM_NAMES[self.type_name] + "_param"), k, v)
            except (AttributeError, KeyError):
                assign_proto(layer, k, v)  # a LayerParameter field: loss_weight, include, ...
        layers[self] = layer


def to_proto(*tops: Top) -> caffe_pb2.NetParameter:
    """The NetParameter of every layer the given tops need (all names automatic)."""
    layers: OrderedDict = OrderedDict()
    autonames: Counter = Counter()
    for top in tops:
        top.fn._to_proto(layers, {}, autonames)
    net = caffe_pb2.NetParameter()
    net.layer.extend(layers.values())
    return net


class _MissingTop(KeyError, AttributeError):
    """``n.missing`` raises KeyError('missing') as Caffe's NetSpec does; being an AttributeError too, it
    lets ``hasattr(n, 'missing')`` answer False (Python 2's hasattr, which Caffe was written for, did)."""


class NetSpec:
    """Named tops, assigned as attributes (``n.conv1 = L.Convolution(...)``) or items (``n['fc-1']``);
    ``to_proto`` writes every layer they need, each named tops taking its attribute name."""

    def __init__(self) -> None:
        object.__setattr__(self, "tops", OrderedDict())

    def __setattr__(self, name: str, value: Any) -> None:
        self.tops[name] = value

    def __getattr__(self, name: str) -> Any:
        if name == "tops":  # only while unpickling/copying, before __init__ ran
            raise AttributeError(name)
        try:
            return self.tops[name]
        except KeyError:
            raise _MissingTop(name) from None

    def __setitem__(self, key: str, value: Any) -> None:
        self.__setattr__(key, value)

    def __getitem__(self, item: str) -> Any:
        return self.__getattr__(item)

    def __delitem__(self, name: str) -> None:
        del self.tops[name]

    def keys(self) -> list[str]:
        return list(self.tops)

    def vals(self) -> list[Any]:
        return list(self.tops.values())

    def update(self, name: str, params: dict) -> None:
        self.tops[name]._update(params)

    def to_proto(self) -> caffe_pb2.NetParameter:
        for k, v in self.tops.items():
            if not isinstance(v, (Top, Function)):
                raise TypeError(f"NetSpec entry {k!r} is a {type(v).__name__}, not a Top"
                                + (" (unpack a layer's several tops: n.a, n.b = L.X(..., ntop=2))"
                                   if isinstance(v, tuple) else ""))
        names = {v: k for k, v in self.tops.items()}
        autonames: Counter = Counter()
        layers: OrderedDict = OrderedDict()
        for top in self.tops.values():
            top._to_proto(layers, names, autonames)
        net = caffe_pb2.NetParameter()
        net.layer.extend(layers.values())
        return net


class Layers:
    """``L.<Type>(*bottoms, **params)``: one Top (ntop=1), a tuple of Tops, or the Function (ntop=0)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):  # copy/pickle/inspect probes, never a Caffe layer type
            raise AttributeError(name)

        def layer_fn(*args: Top, **kwargs: Any):
            fn = Function(name, args, kwargs)
            if fn.ntop == 0:
                return fn
            return fn.tops[0] if fn.ntop == 1 else fn.tops
        return layer_fn


class _Param:
    def __init__(self, message: str):
        self._message = message

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            cls = getattr(caffe_pb2, self._message + "Parameter")
        except AttributeError:
            raise AttributeError(f"module 'caffe.proto.caffe_pb2' has no attribute "
                                 f"'{self._message}Parameter'") from None
        return getattr(cls, name)


class Parameters:
    """``P.<Layer>.<CONSTANT>``: the enum values of ``<Layer>Parameter`` (P.Pooling.MAX == 0)."""

    def __getattr__(self, name: str) -> _Param:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Param(name)


layers = Layers()
params = Parameters()
