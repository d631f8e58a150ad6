"""The layer zoo run by real Caffe (tests/fixtures/layers): one layer at a time, with Caffe's inputs.

``zoo_case(name)`` gives a layer's LayerParameter (from zoo.prototxt), its bottoms and learnable blobs
(from zoo_blobs.npz, i.e. Caffe's own forward values) and the tops Caffe computed, so each layer can be
checked in isolation: build it, copy the blobs in, run forward on the bottoms, compare the tops.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from fer_caffe_compat.proto import caffe_pb2, read_prototxt
from tests.conftest import FIXTURES

ZOO_DIR = FIXTURES / "layers"
RTOL = 1e-5  # the tolerance: max |diff| / max |value|


@lru_cache(maxsize=1)
def _net() -> caffe_pb2.NetParameter:
    return read_prototxt(ZOO_DIR / "zoo.prototxt", caffe_pb2.NetParameter())


@lru_cache(maxsize=1)
def _blobs() -> dict[str, np.ndarray]:
    with np.load(ZOO_DIR / "zoo_blobs.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@lru_cache(maxsize=1)
def _grads() -> dict[str, np.ndarray]:
    with np.load(ZOO_DIR / "zoo_param_grads.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@dataclass
class ZooCase:
    param: caffe_pb2.LayerParameter
    bottoms: list[torch.Tensor]
    blobs: list[torch.Tensor]
    tops: list[np.ndarray]

    @property
    def bottom_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(b.shape) for b in self.bottoms]


def zoo_layer_names(type_name: str) -> list[str]:
    """Names of the zoo layers of one Caffe type."""
    return [l.name for l in _net().layer if l.type == type_name]


def zoo_case(name: str, dtype: torch.dtype = torch.float32) -> ZooCase:
    layer = next((l for l in _net().layer if l.name == name), None)
    assert layer is not None, f"no layer {name!r} in zoo.prototxt"
    b = _blobs()
    bottoms = [torch.from_numpy(b[n].copy()).to(dtype) for n in layer.bottom]
    learn = []
    i = 0
    while f"{name}/{i}" in b:
        learn.append(torch.from_numpy(np.array(b[f"{name}/{i}"], dtype=np.float32)).to(dtype))
        i += 1
    tops = [b[t] for t in layer.top]
    return ZooCase(layer, bottoms, learn, tops)


def zoo_param_grad(name: str, i: int) -> np.ndarray:
    return _grads()[f"{name}/{i}"]


def load_blobs(layer: torch.nn.Module, blobs: list[torch.Tensor]) -> None:
    """Copy Caffe's learnable blobs into a built layer (shapes must agree)."""
    assert len(layer.blobs) == len(blobs), f"{len(layer.blobs)} blobs built, Caffe has {len(blobs)}"
    with torch.no_grad():
        for p, v in zip(layer.blobs, blobs):
            assert tuple(p.shape) == tuple(v.shape), f"blob shape {tuple(p.shape)} != Caffe's {tuple(v.shape)}"
            p.data = v.clone().to(p.dtype)


def assert_close_to_caffe(name: str, ours: torch.Tensor | np.ndarray, caffe: np.ndarray,
                          rtol: float = RTOL) -> None:
    """max |ours - caffe| / max |caffe| <= rtol, reporting layer, shape and the largest difference."""
    o = ours.detach().cpu().double().numpy() if isinstance(ours, torch.Tensor) else np.asarray(ours, np.float64)
    c = np.asarray(caffe, np.float64)
    assert o.shape == c.shape, f"{name}: shape {o.shape} != Caffe's {c.shape}"
    scale = max(float(np.abs(c).max()) if c.size else 0.0, 1e-12)
    diff = float(np.abs(o - c).max()) if c.size else 0.0
    assert diff <= rtol * scale, (f"{name}: shape {c.shape}, max |diff| {diff:.3g} = {diff / scale:.3g} of "
                                  f"max |caffe| {scale:.3g} (tolerance {rtol:g})")
