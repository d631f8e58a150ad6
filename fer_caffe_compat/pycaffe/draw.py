"""caffe.draw: a NetParameter drawn with graphviz, as Caffe's python/caffe/draw.py.

A front over ``fer_caffe_compat.eval.draw`` (the path tools/draw_net takes too), which writes the DOT text
Caffe's pydot graph printed and runs graphviz's ``dot`` for pictures; pydot itself is not needed.
``get_pydot_graph`` returns that module's ``Dot`` (``to_string``, ``create``, ``write``, ``get_nodes``,
``get_edges``) in place of a ``pydot.Dot``.
"""
from __future__ import annotations

import os

from fer_caffe_compat.eval import draw as _draw
from .proto import caffe_pb2

__all__ = ["LAYER_STYLE_DEFAULT", "NEURON_LAYER_STYLE", "BLOB_STYLE", "get_pooling_types_dict", "get_edge_label",
           "get_layer_lr_mult", "get_layer_label", "choose_color_by_layertype", "get_pydot_graph", "draw_net",
           "draw_net_to_file"]

LAYER_STYLE_DEFAULT = dict(_draw._LAYER)
NEURON_LAYER_STYLE = dict(_draw._NEURON)
BLOB_STYLE = dict(_draw._BLOB)


class _NotANetParameter(TypeError, AttributeError):
    """A TypeError naming what was passed; an AttributeError too, as Caffe's draw raised for a Net."""


def _net_param(caffe_net: object) -> caffe_pb2.NetParameter:
    if not isinstance(caffe_net, caffe_pb2.NetParameter):
        raise _NotANetParameter(f"caffe.draw takes a caffe_pb2.NetParameter (the prototxt read with "
                                f"text_format.Merge), not a {type(caffe_net).__name__}")
    return caffe_net


def get_pooling_types_dict() -> dict[int, str]:
    return {v.number: k for k, v in caffe_pb2.PoolingParameter.PoolMethod.DESCRIPTOR.values_by_name.items()}


def get_edge_label(layer: caffe_pb2.LayerParameter) -> str:
    return _draw.edge_label(layer)


def get_layer_lr_mult(layer: caffe_pb2.LayerParameter) -> tuple[float, float]:
    if layer.type not in _draw._LEARNING:
        raise ValueError(f"{layer.type} layers do not have a learning rate multiplier")
    return _draw._lr_mults(layer)


def get_layer_label(layer: caffe_pb2.LayerParameter, rankdir: str, display_lrm: bool = False) -> str:
    return _draw.layer_label(layer, rankdir, display_lrm)


def choose_color_by_layertype(layertype: str) -> str:
    return _draw._COLOURS.get(layertype, LAYER_STYLE_DEFAULT["fillcolor"])


def get_pydot_graph(caffe_net: caffe_pb2.NetParameter, rankdir: str, label_edges: bool = True,
                    phase: int | None = None, display_lrm: bool = False) -> _draw.Dot:
    """The graph of the net's layers (of ``phase``: caffe.TRAIN / caffe.TEST; all when None)."""
    return _draw.get_graph(_net_param(caffe_net), rankdir, label_edges, phase, display_lrm)


def draw_net(caffe_net: caffe_pb2.NetParameter, rankdir: str, ext: str = "png", phase: int | None = None,
             display_lrm: bool = False) -> bytes:
    """The picture as bytes in graphviz's format ``ext`` (png, svg, pdf, dot, ...; raw: the DOT text)."""
    return get_pydot_graph(caffe_net, rankdir, phase=phase, display_lrm=display_lrm).create(format=ext)


def draw_net_to_file(caffe_net: caffe_pb2.NetParameter, filename: str | os.PathLike, rankdir: str = "LR",
                     phase: int | None = None, display_lrm: bool = False) -> None:
    """Write the picture; the format is the file's extension ('.raw' writes the DOT text)."""
    _draw.render(_net_param(caffe_net), filename, rankdir, phase, display_lrm)
