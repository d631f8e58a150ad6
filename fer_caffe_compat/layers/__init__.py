"""Layer families, one module each; importing this package registers every Caffe type name."""
from __future__ import annotations

import importlib
import pkgutil

from .registry import get_layer_class, known_types, register

__all__ = ["get_layer_class", "known_types", "register"]

_SKIP = {"registry", "base", "fillers"}
for _m in pkgutil.iter_modules(__path__):
    if _m.name not in _SKIP and not _m.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_m.name}")
