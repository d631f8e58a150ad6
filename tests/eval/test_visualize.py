from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval import visualize as vis


def test_mosaic_layout_size_and_global_normalisation():
    tiles = np.arange(5 * 4 * 4, dtype=np.float32).reshape(5, 4, 4)
    m = vis.mosaic(tiles)  # 5 tiles -> 3 columns x 2 rows, each 4 px enlarged x12 to 48
    assert m.shape == (2 * (48 + 2) + 2, 3 * (48 + 2) + 2) and m.dtype == np.uint8
    assert m[2, 2] == 0 and m[2 + 50 + 47, 2 + 50 + 47] == 255  # min of tile 0, max of tile 4
    assert (m[:2] == 255).all() and (m[2 + 100:, 2 + 100:] == 255).all()  # separators, empty sixth cell
    assert m[2, 2 + 12] == round(1 / 79 * 255)  # second value of tile 0, one 12-px block to the right


def test_filter_grid_gray_colour_and_multichannel():
    rng = np.random.default_rng(0)
    gray = vis.filter_grid(rng.normal(size=(20, 1, 5, 5)), "conv1")
    assert gray.shape == (4 * 52 + 2, 5 * 52 + 2)
    w = np.zeros((2, 3, 3, 3))
    w[0, 0] = 1.0  # Caffe's channel 0 is blue
    colour = vis.filter_grid(w, "conv1")
    assert colour.shape == (1 * 50 + 2, 2 * 50 + 2, 3)
    assert colour[10, 10].tolist() == [0, 0, 255]  # drawn as RGB
    multi = vis.filter_grid(rng.normal(size=(6, 4, 3, 3)), "conv2")  # one row per filter, one tile per input
    assert multi.shape == (6 * 50 + 2, 4 * 50 + 2)
    with pytest.raises(CaffeError, match="layer ip1: weights of shape \\(7, 20\\)"):
        vis.filter_grid(np.zeros((7, 20)), "ip1")


def test_feature_maps_of_maps_and_vectors(tmp_path):
    maps = vis.feature_map_grid(np.random.default_rng(1).normal(size=(16, 22, 22)), "conv1")
    assert maps.shape == (4 * 68 + 2, 4 * 68 + 2)  # 22 px x3 = 66 per tile
    vec = vis.feature_map_grid(np.arange(7.0), "prob")
    assert vec.shape == (48 + 4, 7 * 50 + 2)
    out = tmp_path / "maps.png"
    vis.save_png(out, maps)
    with Image.open(out) as im:
        assert im.size == (274, 274) and im.mode == "L"
