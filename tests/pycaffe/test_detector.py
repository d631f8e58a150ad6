"""caffe.Detector (BVLC detector.py) on the tiny 5-class net of the caffe_io reference.

Real pycaffe recorded no Detector case: windows are checked against Classifier (a window warped to the net
size is what Classifier scores with image_dims = the net size, centre crop), crops against Caffe's
arithmetic worked by hand."""
from __future__ import annotations

import numpy as np
import pytest

import caffe

from .caffe_io_reference import DIR

MEAN = np.array([104.0, 117.0, 123.0])
PREP = dict(mean=MEAN, raw_scale=255, channel_swap=(2, 1, 0))
WINDOWS = [(0, 0, 14, 20), (2, 3, 10, 15), (5, 5, 14, 12)]
FILES = [str(DIR / "img_color.png"), str(DIR / "img_color2.png")]


def detector(**kw) -> "caffe.Detector":
    return caffe.Detector(str(DIR / "classifier_deploy.prototxt"), str(DIR / "classifier.caffemodel"), **kw)


def test_detect_windows_scores_each_window_as_classifier_scores_the_crop():
    d = detector(**PREP)
    pairs = zip(FILES, [WINDOWS, WINDOWS[:2]])  # a zip, read once (pycaffe read it twice: no detections)
    dets = d.detect_windows(pairs)
    assert [(x["filename"], x["window"]) for x in dets] == \
        [(FILES[0], w) for w in WINDOWS] + [(FILES[1], w) for w in WINDOWS[:2]]
    c = caffe.Classifier(str(DIR / "classifier_deploy.prototxt"), str(DIR / "classifier.caffemodel"), **PREP)
    crops = [caffe.io.load_image(f)[w[0]:w[2], w[1]:w[3]] for f, ws in zip(FILES, [WINDOWS, WINDOWS[:2]]) for w in ws]
    want = c.predict(crops, oversample=False)
    got = np.stack([x["prediction"] for x in dets])
    assert got.shape == (5, 5) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got.sum(1), 1, atol=1e-6)


def test_detect_windows_without_windows_is_empty():
    assert detector().detect_windows([(FILES[0], [])]) == []


def test_configure_crop_without_context():
    d = detector(**PREP)
    assert list(d.crop_dims) == [12, 12, 3] and d.context_pad is None
    im = caffe.io.load_image(FILES[0])
    assert np.array_equal(d.crop(im, (2, 3, 10, 15)), im[2:10, 3:15])


def test_crop_mean_is_the_mean_in_image_space():
    d = detector(context_pad=2, **PREP)
    np.testing.assert_allclose(d.crop_mean, (MEAN[::-1] / 255).reshape(1, 1, 3))
    assert np.array_equal(detector(context_pad=2).crop_mean, np.zeros((12, 12, 3), np.float32))


def test_context_crop_follows_caffes_arithmetic():
    """Window (0, 0, 6, 8), net 12 wide, context_pad 2: scale 12/8; the grown box rounds to (-2, -2, 9, 11),
    so 2 mean rows/columns pad the top/left (round(2 * 1) and round(2 * 12/14)) and the clipped box
    im[0:9, 0:11] is resized to (10, 10) (min(round(10), 12 - 2), min(round(12 * 12/14), 12 - 2))."""
    d = detector(context_pad=2, **PREP)
    im = caffe.io.load_image(FILES[0])
    crop = d.crop(im, np.array((0, 0, 6, 8)))
    assert crop.shape == (12, 12, 3)
    mean_rgb = (MEAN[::-1] / 255).reshape(1, 1, 3)
    np.testing.assert_allclose(crop[:2], np.broadcast_to(mean_rgb, (2, 12, 3)))
    np.testing.assert_allclose(crop[:, :2], np.broadcast_to(mean_rgb, (12, 2, 3)))
    np.testing.assert_allclose(crop[2:, 2:], caffe.io.resize_image(im[0:9, 0:11], (10, 10)), atol=1e-6)


def test_context_crop_of_a_window_outside_the_image_is_a_clear_error():
    with pytest.raises(ValueError, match="outside the 14x20 image"):
        detector(context_pad=2).crop(caffe.io.load_image(FILES[0]), (40, 40, 50, 50))


def test_detect_selective_search_without_the_module_says_what_is_missing():
    with pytest.raises(ImportError, match="selective_search_ijcv_with_python"):
        detector().detect_selective_search([FILES[0]])
