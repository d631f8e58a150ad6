"""What the net sees: its convolution filters and the feature maps of any blob, as PNG mosaics.

Both follow the ``vis_square`` of Caffe's classification notebook: tiles in a square grid, normalised
together to the full gray range (so tiles compare), with a light separator between them.
"""
from __future__ import annotations

import math
import os

import numpy as np
from PIL import Image

from ..errors import CaffeError
from ..fsutil import atomic_path

PAD = 2         # separator pixels between tiles (and around the mosaic)
MIN_TILE = 48   # tiles are enlarged (nearest neighbour, an integer factor) to at least this many pixels
MAX_TILES = 4096


def _normalise(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def tile_factor(h: int, w: int) -> int:
    return max(1, math.ceil(MIN_TILE / max(h, w)))


def mosaic(tiles: np.ndarray, cols: int | None = None) -> np.ndarray:
    """(N, h, w) or (N, h, w, 3) values -> one uint8 image of a grid with ``cols`` columns (square by default).

    Each tile is enlarged by ``tile_factor``; the mosaic is ``rows * (h*f + PAD) + PAD`` high.
    """
    n, h, w = tiles.shape[:3]
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    f = tile_factor(h, w)
    norm = (_normalise(tiles.astype(np.float64)) * 255.0 + 0.5).astype(np.uint8)
    norm = norm.repeat(f, axis=1).repeat(f, axis=2)
    th, tw = h * f, w * f
    out = np.full((rows * (th + PAD) + PAD, cols * (tw + PAD) + PAD, *tiles.shape[3:]), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = PAD + r * (th + PAD), PAD + c * (tw + PAD)
        out[y:y + th, x:x + tw] = norm[i]
    return out


def filter_tiles(weights: np.ndarray) -> tuple[np.ndarray, int | None]:
    """A convolution's (O, I, kh, kw) weights as tiles: colour when I == 3 (Caffe's BGR shown as RGB),
    one gray tile per filter when I == 1, else one row per filter with a tile per input channel."""
    o, i = weights.shape[:2]
    if i == 3:
        return weights[:, ::-1].transpose(0, 2, 3, 1), None
    if i == 1:
        return weights[:, 0], None
    keep = max(1, min(i, MAX_TILES // o))
    return weights[:, :keep].reshape(o * keep, *weights.shape[2:]), keep


def save_png(path: str | os.PathLike, img: np.ndarray) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(img).save(tmp, format="PNG")


def filter_grid(weights: np.ndarray, layer: str) -> np.ndarray:
    if weights.ndim != 4:
        raise CaffeError(f"layer {layer}: weights of shape {tuple(weights.shape)} are not convolution filters")
    tiles, cols = filter_tiles(weights)
    return mosaic(tiles, cols)


def feature_map_grid(blob: np.ndarray, name: str) -> np.ndarray:
    """One batch item of a blob: (C, H, W) maps as gray tiles; a vector (C,) or (C, 1, 1) as one
    row of C tiles, one value each."""
    a = np.asarray(blob, dtype=np.float64)
    if a.ndim == 1 or (a.ndim == 3 and a.shape[1:] == (1, 1)):
        return mosaic(a.reshape(-1, 1, 1), cols=min(a.size, 64))
    if a.ndim == 2:
        return mosaic(a[None])
    if a.ndim != 3:
        raise CaffeError(f"blob {name}: cannot draw a blob of shape {a.shape}")
    return mosaic(a)
