"""The layer registry: Caffe type name -> layer class.

A registered class must accept ``(param, bottom_shapes, phase)`` (see ``base.Layer``) and return its tops
from ``forward(*bottoms)`` as a list. Registering a name twice is an error; an unknown type fails with a
message listing every known type, as Caffe's LayerRegistry does.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from ..errors import CaffeError

_REGISTRY: dict[str, type] = {}

T = TypeVar("T", bound=type)


def register(*type_names: str) -> Callable[[T], T]:
    """Class decorator: ``@register("Convolution")``. Several names may map to one class."""

    def deco(cls: T) -> T:
        for name in type_names:
            if name in _REGISTRY:
                raise RuntimeError(f"layer type {name!r} registered twice "
                                   f"({_REGISTRY[name].__name__} and {cls.__name__})")
            _REGISTRY[name] = cls
        return cls

    return deco


def known_types() -> list[str]:
    return sorted(_REGISTRY)


def get_layer_class(type_name: str, layer_name: str = "?") -> type:
    try:
        return _REGISTRY[type_name]
    except KeyError:
        raise CaffeError(f"layer {layer_name}: unknown layer type {type_name!r} "
                         f"(known types: {', '.join(known_types())})") from None
