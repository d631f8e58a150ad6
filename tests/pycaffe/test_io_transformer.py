"""caffe.io.Transformer against real pycaffe (caffe_io reference): every setter, preprocess, deprocess."""
from __future__ import annotations

import numpy as np
import pytest

import caffe

from .caffe_io_reference import JSON, NPZ, assert_matches, error_record

IMG = NPZ["load_image/img_color.png/color=True"]
IMG_G = NPZ["load_image/img_gray.png/color=False"]
VEC = np.array([104.0, 117.0, 123.0])
SWAP = dict(transpose=(2, 0, 1), channel_swap=(2, 1, 0))
CONFIGS = {  # the pack's configurations (gen_caffe_io.py), set in its order
    "transpose": dict(transpose=(2, 0, 1)),
    "transpose+swap": SWAP,
    "transpose+swap+raw255": dict(SWAP, raw_scale=255),
    "transpose+swap+raw255+mean_vec": dict(SWAP, raw_scale=255, mean=VEC),
    "all_vec_mean+input_scale": dict(SWAP, raw_scale=255, mean=VEC, input_scale=0.017),
    "all_full_mean+input_scale": dict(SWAP, raw_scale=255, mean=NPZ["transformer/mean_full_3x10x12"],
                                      input_scale=0.017),
    "mean_small_resized_by_set_mean": dict(transpose=(2, 0, 1), raw_scale=255,
                                           mean=NPZ["transformer/mean_small_3x5x6"]),
    "input_scale_only_no_transpose": dict(input_scale=2.0),
}


def configured(shape=(1, 3, 10, 12), **cfg) -> caffe.io.Transformer:
    t = caffe.io.Transformer({"data": shape})
    for name in ("transpose", "channel_swap", "raw_scale", "mean", "input_scale"):
        if name in cfg:
            getattr(t, "set_" + name)("data", cfg[name])
    return t


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_preprocess_deprocess_and_stored_mean_match_pycaffe(name):
    t = configured(**CONFIGS[name])
    pre = t.preprocess("data", IMG)
    assert_matches(f"transformer/{name}/preprocess", pre)
    assert_matches(f"transformer/{name}/deprocess", t.deprocess("data", pre))
    assert_matches(f"transformer/{name}/stored_mean", np.asarray(t.mean.get("data", np.zeros(0))))
    facts = JSON["transformer"][name]
    assert list(np.shape(t.mean.get("data"))) == facts["stored_mean_shape"]
    if "deprocess of a (1,3,10,12) array: shape (squeezed)" in facts:
        shape = t.deprocess("data", pre[None]).shape
        assert list(shape) == facts["deprocess of a (1,3,10,12) array: shape (squeezed)"]


def test_grey_preprocess_matches_pycaffe():
    t = configured((1, 1, 10, 12), transpose=(2, 0, 1), raw_scale=255, mean=np.array([128.0]))
    assert_matches("transformer/gray/preprocess", t.preprocess("data", IMG_G))


def test_grey_deprocess_with_raw_scale_only_squeezes_the_channel_as_pycaffe():
    pre = configured((1, 1, 10, 12), transpose=(2, 0, 1), raw_scale=255).preprocess("data", IMG_G)
    assert_matches("transformer/gray_raw_scale_only/deprocess",
                   configured((1, 1, 10, 12), raw_scale=255).deprocess("data", pre))


@pytest.mark.parametrize("cfg", [dict(transpose=(2, 0, 1), raw_scale=255, mean=np.array([128.0])),
                                 dict(transpose=(2, 0, 1), raw_scale=255)])
def test_grey_deprocess_with_mean_or_transpose_inverts_preprocess(cfg):
    """Departure: pycaffe's squeeze dropped the channel axis and then failed (ValueError); here it works."""
    recorded = JSON["transformer"]["gray"]
    assert recorded["deprocess (1-channel, with mean)"][0] == "builtins.ValueError"
    assert recorded["deprocess (1-channel, transpose+raw_scale only)"][0] == "builtins.ValueError"
    t = configured((1, 1, 10, 12), **cfg)
    back = t.deprocess("data", t.preprocess("data", IMG_G))
    assert back.shape == (10, 12, 1)
    np.testing.assert_allclose(back, caffe.io.resize_image(IMG_G, (10, 12)), atol=1e-6)


def test_same_size_float32_input_is_modified_in_place_as_pycaffe():
    facts = JSON["transformer"]
    t = configured((1, 3, 14, 20), transpose=(2, 0, 1), raw_scale=255, mean=VEC)
    arg = IMG.copy()
    pre = t.preprocess("data", arg)
    in_place = facts["same-size float32 input, no channel_swap: caller array modified in place"]
    assert (not np.array_equal(arg, IMG)) is in_place
    assert np.allclose(arg, IMG * 255 - VEC, atol=1e-4) is facts["... caller array == img*255 - mean (HWC)"]
    assert np.shares_memory(pre, arg) is facts["... returned array shares memory with caller array"]
    arg = IMG.copy()
    t.set_channel_swap("data", (2, 1, 0))
    t.preprocess("data", arg)
    assert np.array_equal(arg, IMG) is facts["same-size input with channel_swap: caller array untouched"]


def test_list_shape_always_resizes_as_pycaffe():
    t = configured([1, 3, 14, 20], transpose=(2, 0, 1))
    pre = t.preprocess("data", IMG)
    assert_matches("transformer/list_shape_same_size/preprocess", pre)
    want = JSON["transformer"]["inputs given as list, same size: max |pre - img.transpose|"]
    assert abs(float(np.abs(pre - IMG.transpose(2, 0, 1)).max()) - want) < 1e-7


@pytest.mark.parametrize("case, call", [
    ("set_transpose wrong length", lambda t: t.set_transpose("data", (1, 0))),
    ("set_channel_swap wrong length", lambda t: t.set_channel_swap("data", (1, 0))),
    ("set_mean wrong channels", lambda t: t.set_mean("data", np.array([1.0, 2.0]))),
    ("set_mean 4-d", lambda t: t.set_mean("data", np.zeros((1, 3, 10, 12)))),
    ("preprocess unknown input", lambda t: t.preprocess("nope", IMG)),
])
def test_errors_are_pycaffes(case, call):
    assert error_record(lambda: call(caffe.io.Transformer({"data": (1, 3, 10, 12)}))) == \
        JSON["transformer"]["errors"][case]


@pytest.mark.parametrize("setter", ["transpose", "channel_swap", "raw_scale", "mean", "input_scale"])
def test_every_setter_checks_the_input_name(setter):
    t = caffe.io.Transformer({"data": (1, 3, 10, 12)})
    with pytest.raises(Exception, match="nope is not one of the net inputs"):
        getattr(t, "set_" + setter)("nope", np.array([1.0, 2.0, 3.0]))


def test_set_mean_of_a_constant_or_2d_mean_of_another_size_works():
    """Departures: pycaffe gave NaN (constant mean: zero range) and failed on a 2-D mean to resize."""
    t = caffe.io.Transformer({"data": (1, 1, 10, 12)})
    t.set_mean("data", np.full((1, 5, 6), 3.0, np.float32))
    assert t.mean["data"].shape == (1, 10, 12) and np.all(t.mean["data"] == 3.0)
    ramp = np.tile(np.linspace(0, 1, 6, dtype=np.float32), (5, 1))
    t.set_mean("data", ramp)
    assert t.mean["data"].shape == (1, 10, 12)
    assert t.mean["data"].min() >= 0 and t.mean["data"].max() <= 1
