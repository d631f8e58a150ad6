"""Helpers for the layer-family tests: build a layer from prototxt text or from the zoo, run it on Caffe's
bottoms and compare every top."""
from __future__ import annotations

from typing import Sequence

import torch

from fer_caffe_compat.layers import get_layer_class
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt
from tests.layers.zoo import assert_close_to_caffe, load_blobs, zoo_case


def make_layer(text: str, bottom_shapes: Sequence[Sequence[int]], phase: int = caffe_pb2.TEST,
               dtype: torch.dtype = torch.float64):
    """Build the layer described by LayerParameter ``text`` for ``bottom_shapes``."""
    param = parse_prototxt(text, caffe_pb2.LayerParameter())
    layer = get_layer_class(param.type, param.name)(param, [tuple(s) for s in bottom_shapes], phase)
    return layer.to(dtype)


def check_zoo_layer(name: str, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    """Build zoo layer ``name`` on Caffe's bottoms (TEST phase), load its blobs, run forward, compare
    every top with Caffe's (1e-5 relative) and return our tops."""
    case = zoo_case(name, dtype)
    cls = get_layer_class(case.param.type, name)
    layer = cls(case.param, case.bottom_shapes, caffe_pb2.TEST).to(dtype)
    load_blobs(layer, case.blobs)
    tops = layer(*case.bottoms)
    assert len(tops) == len(case.tops), f"{name}: {len(tops)} tops, Caffe has {len(case.tops)}"
    for top_name, ours, caffe in zip(case.param.top, tops, case.tops):
        assert ours.dtype == dtype, f"{name}: top {top_name} is {ours.dtype}, bottoms were {dtype}"
        assert_close_to_caffe(f"{name}/{top_name}", ours, caffe)
    return tops


def zoo_top_shapes(name: str) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """(the layer's top_shapes at setup, the shapes of Caffe's tops) for zoo layer ``name``."""
    case = zoo_case(name)
    layer = get_layer_class(case.param.type, name)(case.param, case.bottom_shapes, caffe_pb2.TEST)
    return [tuple(s) for s in layer.top_shapes], [tuple(t.shape) for t in case.tops]
