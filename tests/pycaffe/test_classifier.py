"""caffe.Classifier against real pycaffe's predictions (caffe_io reference: a 5-class tiny net, two images)."""
from __future__ import annotations

import numpy as np
import pytest

import caffe

from .caffe_io_reference import DIR, JSON, assert_matches

CONFIGS = {  # gen_caffe_io.py's keyword sets
    "mean_vec+raw255+swap": dict(image_dims=(16, 16), mean=np.array([104.0, 117.0, 123.0]), raw_scale=255,
                                 channel_swap=(2, 1, 0)),
    "input_scale_only": dict(image_dims=(14, 18), input_scale=3.0),
    "defaults (image_dims = crop dims 12x12)": dict(),
}


def classifier(**kw) -> "caffe.Classifier":
    return caffe.Classifier(str(DIR / "classifier_deploy.prototxt"), str(DIR / "classifier.caffemodel"), **kw)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    return [caffe.io.load_image(str(DIR / "img_color.png")), caffe.io.load_image(str(DIR / "img_color2.png"))]


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("oversample", [True, False])
def test_predict_matches_pycaffe(name, oversample, images):
    c = classifier(**CONFIGS[name])
    p = c.predict(images, oversample=oversample)
    assert_matches(f"classifier/{name}/oversample={oversample}", p)
    facts = JSON["classifier"][name]
    assert list(p.argmax(1)) == facts[f"predict(oversample={oversample})"]["argmax"]
    assert list(c.blobs["data"].data.shape) == facts["net data blob shape after predict"]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_attributes_are_pycaffes(name):
    c = classifier(**CONFIGS[name])
    facts = JSON["classifier"][name]
    assert [list(c.crop_dims), list(c.image_dims)] == [facts["crop_dims"], facts["image_dims"]]
    assert [list(c.inputs), list(c.outputs)] == [facts["inputs"], facts["outputs"]]
    assert {k: list(v) for k, v in c.transformer.inputs.items()} == facts["transformer.inputs"]
    assert c.transformer.transpose["data"] == (2, 0, 1)
    assert isinstance(c, caffe.Net)


def test_ten_crops_are_averaged_over_more_than_one_batch(images):
    """20 crops through a batch-5 net: forward_all's batches, then the mean of each image's ten."""
    c = classifier(**CONFIGS["input_scale_only"])
    crops = caffe.io.oversample([caffe.io.resize_image(im, (14, 18)) for im in images], (12, 12))
    caffe_in = np.stack([c.transformer.preprocess("data", x) for x in crops])
    each = c.forward_all(data=caffe_in)["prob"]
    np.testing.assert_allclose(c.predict(images), each.reshape(2, 10, -1).mean(1), atol=1e-6)
