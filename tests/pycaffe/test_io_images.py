"""caffe.io.load_image / resize_image / oversample against real pycaffe's outputs (caffe_io reference)."""
from __future__ import annotations

import numpy as np
import pytest

import caffe

from .caffe_io_reference import DIR, JSON, NPZ, assert_matches, keys

IMG = NPZ["load_image/img_color.png/color=True"]
IMG_G = NPZ["load_image/img_gray.png/color=False"]
RESIZE_INPUTS = {
    "color": IMG, "gray1": IMG_G, "2ch": np.ascontiguousarray(IMG[:, :, :2]),
    "4ch": np.concatenate([IMG, IMG[:, :, :1]], -1), "const": np.full((14, 20, 3), 0.25, np.float32),
    "color_x255": IMG * 255.0, "color_float64": IMG.astype(np.float64),
}


@pytest.mark.parametrize("key", keys("load_image/"))
def test_load_image_matches_pycaffe(key):
    _, name, color = key.split("/")
    assert_matches(key, caffe.io.load_image(str(DIR / name), color=color == "color=True"))


def test_load_image_color_png_is_uint8_over_255_exactly():
    rgb = NPZ["source/img_color_rgb_uint8"]
    assert np.array_equal(caffe.io.load_image(str(DIR / "img_color.png")), (rgb / 255.0).astype(np.float32))


@pytest.mark.parametrize("key", keys("resize_image/"))
def test_resize_image_matches_pycaffe(key):
    _, name, dims, order = key.split("/")
    new_dims = tuple(int(d) for d in dims.split("x"))
    assert_matches(key, caffe.io.resize_image(RESIZE_INPUTS[name], new_dims, interp_order=int(order[len("order"):])))


def test_resize_image_downscale_is_antialiased_as_skimage_default():
    """The pack's note: pycaffe's downscale differs from plain bilinear (skimage's default prefilter)."""
    from skimage.transform import resize

    plain = resize(IMG, (7, 10), order=1, mode="constant", anti_aliasing=False).astype(np.float32)
    got = caffe.io.resize_image(IMG, (7, 10))
    want = JSON["resize_image"]["note_downscale_7x10: max |pycaffe - skimage(anti_aliasing=False)|"]
    assert abs(float(np.abs(got - plain).max()) - want) < 1e-6


def test_resize_image_constant_is_filled_without_dividing_by_zero():
    out = caffe.io.resize_image(np.full((4, 5, 1), 7, np.uint8), (3, 2))
    assert out.dtype == np.float32 and out.shape == (3, 2, 1) and np.all(out == 7)


@pytest.mark.parametrize("crop", [(8, 10), (7, 9)])
def test_oversample_matches_pycaffe(crop):
    key = "oversample/crop%dx%d" % crop
    ims = [NPZ["oversample/input0"], NPZ["oversample/input1"]]
    out = caffe.io.oversample(ims, crop)
    assert_matches(key, out)
    assert np.array_equal(out, NPZ[key])  # crops copy pixels: exact


@pytest.mark.parametrize("crop", [(8, 10), (7, 9)])
def test_oversample_crop_positions_are_pycaffes(crop):
    """Corners, the truncated centre (12x16 -> 7x9 at (2, 3)), then the same five mirrored."""
    im = NPZ["oversample/input0"]
    out = caffe.io.oversample([im], crop)
    want = JSON["oversample"]["crop%dx%d" % crop]["top-left (row, col) of crops 0..9 of image 0 (5..9 are mirrored)"]
    for k, [(i, j)] in enumerate(want):
        c = out[k] if k < 5 else out[k][:, ::-1]
        assert np.array_equal(c, im[i:i + crop[0], j:j + crop[1]]), (k, i, j)
