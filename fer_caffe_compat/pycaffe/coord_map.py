"""caffe.coord_map: how the coordinates of one NetSpec top map onto another's, and Crop layers made from it.

A layer's map is (axis, scale a, shift b): output coordinate x_out relates to input x_in by
x_in = a * x_out + b (per spatial axis, numpy arrays for N-d kernels). Convolution/Pooling/Im2col shrink by
their stride and shift by (pad - (k_eff - 1) / 2) / stride; Deconvolution does the inverse; pointwise
layers are the identity (axis None); Crop shifts by its offset. ``coord_map_from_to`` composes the maps
back from both tops to a common ancestor, as Caffe's python/caffe/coord_map.py did; ``crop`` makes the
Crop layer that aligns one top with another (FCN's score cropping).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .net_spec import Function, Top, layers as L

__all__ = ["PASS_THROUGH_LAYERS", "UndefinedMapException", "AxisMismatchException", "conv_params",
           "crop_params", "coord_map", "compose", "inverse", "coord_map_from_to", "crop"]

PASS_THROUGH_LAYERS = ["AbsVal", "BatchNorm", "Bias", "BNLL", "Dropout", "Eltwise", "ELU", "Log", "LRN", "Exp",
                       "MVN", "Power", "ReLU", "PReLU", "Scale", "Sigmoid", "Split", "TanH", "Threshold"]

Map = tuple[Any, Any, Any]


class UndefinedMapException(Exception):
    """The layer has no coordinate mapping (InnerProduct, a loss, ...): the walk stops there."""


class AxisMismatchException(Exception):
    """Two maps act on different axes and cannot be composed."""


def conv_params(fn: Function) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """(axis, stride, effective kernel extent (k - 1) * dilation + 1, pad) of a convolution-like layer,
    from its convolution_param dict or its flat keywords (Pooling's own fields read the same way)."""
    p = fn.params.get("convolution_param", fn.params)
    if {"pad_h", "pad_w", "kernel_h", "kernel_w", "stride_h", "stride_w"} & set(fn.params):
        raise AssertionError("cropping does not support legacy _h/_w params")
    ks = np.array(p["kernel_size"], ndmin=1)
    dilation = np.array(p.get("dilation", 1), ndmin=1)
    return (p.get("axis", 1), np.array(p.get("stride", 1), ndmin=1), (ks - 1) * dilation + 1,
            np.array(p.get("pad", 0), ndmin=1))


def crop_params(fn: Function) -> tuple[int, np.ndarray]:
    """(axis, offset) of a Crop layer; the axis defaults to 2 (the spatial axes of N, C, H, W)."""
    p = fn.params.get("crop_param", fn.params)
    return p.get("axis", 2), np.array(p.get("offset", 0), ndmin=1)


def coord_map(fn: Function) -> Map:
    """The layer's own map (axis, scale, shift); the identity is (None, 1, 0)."""
    if fn.type_name in ("Convolution", "Pooling", "Im2col"):
        axis, stride, ks, pad = conv_params(fn)
        return axis, 1 / stride, (pad - (ks - 1) / 2) / stride
    if fn.type_name == "Deconvolution":
        axis, stride, ks, pad = conv_params(fn)
        return axis, stride, (ks - 1) / 2 - pad
    if fn.type_name in PASS_THROUGH_LAYERS:
        return None, 1, 0
    if fn.type_name == "Crop":
        axis, offset = crop_params(fn)
        return axis - 1, 1, -offset  # Crop's axis is the first cropped one; maps name the one before
    raise UndefinedMapException(fn.type_name)


def compose(base_map: Map, next_map: Map) -> Map:
    """``base_map`` followed by ``next_map``: scales multiply, the further shift is scaled by the first."""
    ax1, a1, b1 = base_map
    ax2, a2, b2 = next_map
    if ax1 is None:
        ax = ax2
    elif ax2 is None or ax1 == ax2:
        ax = ax1
    else:
        raise AxisMismatchException(f"axis {ax1} vs {ax2}")
    return ax, a1 * a2, a1 * b2 + b1


def inverse(cmap: Map) -> Map:
    """The backward map: de-scale and un-shift."""
    ax, a, b = cmap
    return ax, 1 / a, -b / a


def _mapped_bottoms(top: Top) -> tuple:
    # Crop maps only its first bottom (the one cropped); the second only gives the size
    return top.fn.inputs[:1] if top.fn.type_name == "Crop" else top.fn.inputs


def coord_map_from_to(top_from: Top, top_to: Top) -> Map:
    """The map from ``top_from``'s coordinates to ``top_to``'s, through their nearest common ancestor.
    RuntimeError when no chain of spatial layers joins them."""
    from_maps: dict[Top, Map] = {top_from: (None, 1, 0)}
    frontier = [top_from]
    while frontier:
        top = frontier.pop(0)  # breadth first: the nearest common ancestor
        try:
            for bottom in _mapped_bottoms(top):
                from_maps[bottom] = compose(from_maps[top], coord_map(top.fn))
                frontier.append(bottom)
        except UndefinedMapException:
            pass
    to_maps: dict[Top, Map] = {top_to: (None, 1, 0)}
    frontier = [top_to]
    while frontier:
        top = frontier.pop(0)  # breadth first: the nearest common ancestor
        if top in from_maps:
            return compose(to_maps[top], inverse(from_maps[top]))
        try:
            for bottom in _mapped_bottoms(top):
                to_maps[bottom] = compose(to_maps[top], coord_map(top.fn))
                frontier.append(bottom)
        except UndefinedMapException:
            continue
    raise RuntimeError("Could not compute map between tops; are they connected by spatial layers?")


def crop(top_from: Top, top_to: Top) -> Top:
    """A Crop layer cutting ``top_from`` to ``top_to``'s extent (axis and offsets from their map).
    AssertionError, as Caffe's, when the scales differ or the offset is negative or fractional."""
    ax, a, b = coord_map_from_to(top_from, top_to)
    a, b = np.asarray(a), np.asarray(b)
    if not (a == 1).all():
        raise AssertionError(f"scale mismatch on crop (a = {a})")
    if not (b <= 0).all():
        raise AssertionError(f"cannot crop negative offset (b = {b})")
    if not (np.round(b) == b).all():
        raise AssertionError(f"cannot crop noninteger offset (b = {b})")
    axis = 1 if ax is None else ax  # identity map (a pointwise chain): crop from axis 2 on, Crop's default
    return L.Crop(top_from, top_to,
                  crop_param=dict(axis=axis + 1, offset=[int(v) for v in -np.round(b).ravel()]))
