"""Classic baselines: scikit-image features and scikit-learn models on synthetic demo faces."""
from __future__ import annotations

import numpy as np
import pytest

from fer_caffe_compat.data.demo import make_demo
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval.baseline import (FEATURES, MODELS, BaselineConfig, hog_features, lbp_histograms,
                                            run_baseline, subsample)


@pytest.fixture(scope="module")
def faces():
    images, labels, usage = make_demo(n_train=700, n_val=140, n_test=0, seed=1)
    return images[usage == 0], labels[usage == 0], images[usage == 1], labels[usage == 1]


def test_lbp_is_skimage_uniform_codes_histogrammed_per_8x8_cell(faces):
    from skimage.feature import local_binary_pattern
    img = faces[0][0]
    h = lbp_histograms(img[None], progress=False)[0]
    assert h.shape == (6 * 6 * 10,)
    codes = local_binary_pattern(img, 8, 1, method="uniform").astype(int)
    cell = codes[8:16, 16:24]  # grid row 1, column 2: cell 1 * 6 + 2
    assert np.allclose(h[8 * 10:9 * 10], np.bincount(cell.ravel(), minlength=10) / 64)
    assert np.allclose(h.reshape(36, 10).sum(1), 1)


def test_hog_is_skimages_descriptor(faces):
    from skimage.feature import hog
    img = faces[0][3]
    want = hog(img, orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2), block_norm="L2-Hys")
    got = hog_features(img[None], progress=False)[0]
    assert got.shape == (900,) and np.allclose(got, want, atol=1e-6)


def test_stratified_subsample_keeps_each_class_share():
    labels = np.repeat([0, 1, 2], [600, 300, 100])
    idx = subsample(labels, 100, seed=0)
    assert np.bincount(labels[idx]).tolist() == [60, 30, 10] and (np.diff(idx) > 0).all()
    assert subsample(labels, None, 0).size == 1000


@pytest.mark.parametrize("features,model", [(f, "rf") for f in FEATURES] + [("pca", m) for m in MODELS if m != "rf"])
def test_each_features_and_model_scores_every_test_face_above_chance(faces, features, model):
    tr_x, tr_y, te_x, te_y = faces
    cfg = BaselineConfig(features, model, trees=50, gbm_iters=20, pca_components=30, jobs=1)
    res = run_baseline(cfg, tr_x, tr_y, te_x, 7, progress=False)
    assert res.scores.shape == (len(te_x), 7) and res.train_rows == len(tr_x)
    assert np.isfinite(res.scores).all() and np.mean(res.scores.argmax(1) == te_y) > 1 / 7


def test_hog_svc_on_its_default_subsample_learns_the_demo_expressions(faces, monkeypatch):
    from fer_caffe_compat.eval import baseline
    monkeypatch.setitem(baseline.DEFAULT_TRAIN_SAMPLES, "svc", 350)
    tr_x, tr_y, te_x, te_y = faces
    res = run_baseline(BaselineConfig("hog", "svc"), tr_x, tr_y, te_x, 7, progress=False)
    assert res.train_rows == 350 and np.mean(res.scores.argmax(1) == te_y) > 0.5


@pytest.mark.parametrize("kw,fragment", [({"features": "sift"}, "unknown features 'sift'"),
                                         ({"model": "knn"}, "unknown model 'knn'"),
                                         ({"train_samples": 1}, "train_samples 1"),
                                         ({"trees": 0}, "trees 0: need at least 1")])
def test_bad_config_is_an_error(kw, fragment):
    args = {"features": "pca", "model": "rf", **kw}
    with pytest.raises(CaffeError, match=fragment):
        BaselineConfig(**args)
