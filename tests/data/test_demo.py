"""The embedded synthetic dataset: deterministic per seed, 7 distinct expressions, learnable but not trivially."""
from __future__ import annotations

import numpy as np

from fer_caffe_compat.data.demo import draw_face, make_demo, write_demo_csv
from fer_caffe_compat.data.fer_csv import read_fer_csv


def test_demo_is_deterministic_per_seed_and_face_i_ignores_the_dataset_size():
    a = make_demo(20, 5, 5, seed=7)
    b = make_demo(20, 5, 5, seed=7)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = make_demo(10, 0, 0, seed=7)
    np.testing.assert_array_equal(c[0], a[0][:10])
    assert not np.array_equal(make_demo(10, 0, 0, seed=8)[0], c[0])


def test_demo_csv_has_fer_format_and_the_requested_split_sizes(tmp_path):
    n = write_demo_csv(tmp_path / "demo.csv", 30, 8, 6, seed=1)
    assert n == 44
    assert (tmp_path / "demo.csv").read_text().splitlines()[0] == "emotion,pixels,Usage"
    d = read_fer_csv(tmp_path / "demo.csv")
    assert d.images.shape == (44, 48, 48)
    assert [len(d.split(s)) for s in ("train", "val", "test")] == [30, 8, 6]
    np.testing.assert_array_equal(d.images, make_demo(30, 8, 6, seed=1)[0])


def test_expressions_differ_in_mouth_brows_and_eyes():
    # the same random stream gives the same pose, lighting and noise, so differences are the expression
    def diff(k: int) -> tuple[float, float]:
        d = np.stack([np.abs(draw_face(k, np.random.default_rng([5, s])).astype(float)
                             - draw_face(6, np.random.default_rng([5, s])).astype(float)) for s in range(20)])
        return d[:, :24].mean(), d[:, 24:].mean()  # upper half: brows and eyes; lower half: mouth

    upper, lower = zip(*(diff(k) for k in range(6)))
    assert min(upper[0], upper[2], upper[5]) > 2 * lower[0]  # angry brows, fear and surprise eyes
    assert lower[3] > upper[3] and lower[3] > 1.5  # happy: the mouth
    assert min(upper) > 0.5 and min(lower) > 0.5  # every expression differs from neutral in both


def test_label_noise_is_a_few_percent():
    clean = make_demo(600, 0, 0, seed=3, label_noise=0.0)[1]
    noisy = make_demo(600, 0, 0, seed=3, label_noise=0.04)[1]
    changed = (clean != noisy).mean()
    assert 0.01 < changed < 0.07
    assert set(np.unique(clean)) == set(range(7))


def test_a_linear_model_learns_some_but_not_all_of_it():
    from sklearn.linear_model import RidgeClassifier

    images, labels, usage = make_demo(1200, 0, 300, seed=0)
    x = images.reshape(len(images), -1).astype(np.float32)
    x = (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)
    acc = RidgeClassifier(alpha=1000).fit(x[usage == 0], labels[usage == 0]).score(x[usage == 2], labels[usage == 2])
    assert 0.3 < acc < 0.8, f"ridge accuracy {acc} (chance 0.14)"


def test_preview_png_shows_one_row_per_expression(tmp_path):
    import cv2

    write_demo_csv(tmp_path / "d.csv", 40, 0, 0, seed=2, preview=tmp_path / "faces.png")
    grid = cv2.imread(str(tmp_path / "faces.png"), cv2.IMREAD_GRAYSCALE)
    assert grid.shape == (7 * 48 * 2, 10 * 48 * 2)
    images, labels, _ = make_demo(40, 0, 0, seed=2)
    np.testing.assert_array_equal(grid[:96:2, :96:2], images[labels == 0][0])
