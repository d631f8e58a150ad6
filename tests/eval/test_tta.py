"""Test-time augmentation (extension): the views, and tools/test / tools/evaluate scoring the averaged
probabilities."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval.predict import lmdb_samples
from fer_caffe_compat.eval.tta import SHIFT_PIXELS, VIEWS, views
from fer_caffe_compat.net import Net

from .. import glog
from .tiny import GRAY_LMDB, SCALE, TRAIN_VAL, deploy_param, save_weights


def test_views_are_caffes_crops_and_their_mirrors():
    x = torch.arange(2 * 1 * 6 * 7, dtype=torch.float32).reshape(2, 1, 6, 7)
    none = views(x, (4, 4), "none")
    assert none.shape == (1, 2, 1, 4, 4) and torch.equal(none[0], x[:, :, 1:5, 1:5])  # (6-4)//2, (7-4)//2
    flip = views(x, (4, 4), "flip")
    assert torch.equal(flip[0], none[0]) and torch.equal(flip[1], none[0].flip(-1))
    ten = views(x, (4, 4), "tencrop")
    offs = [(0, 0), (0, 3), (2, 0), (2, 3), (1, 1)]  # caffe.io.oversample's order
    for k, (i, j) in enumerate(offs):
        assert torch.equal(ten[k], x[:, :, i:i + 4, j:j + 4])
        assert torch.equal(ten[k + 5], x[:, :, i:i + 4, j:j + 4].flip(-1))
    assert {m: views(x, (4, 4), m).shape[0] for m in VIEWS} == VIEWS


def test_shift_views_move_the_centre_window_and_fill_with_the_mean():
    d = SHIFT_PIXELS
    x = torch.arange(1 * 1 * 9 * 10, dtype=torch.float32).reshape(1, 1, 9, 10) + 1  # no zero inside
    shift = views(x, (9, 10), "shift")  # the whole image: the recipe's nets have no crop_size
    padded = torch.zeros(1, 1, 9 + 2 * d, 10 + 2 * d)
    padded[:, :, d:d + 9, d:d + 10] = x
    offs = [(d, d), (0, d), (2 * d, d), (d, 0), (d, 2 * d)]  # centre, up, down, left, right
    for k, (i, j) in enumerate(offs):
        assert torch.equal(shift[k], padded[:, :, i:i + 9, j:j + 10])
        assert torch.equal(shift[k + 5], shift[k].flip(-1))
    assert torch.equal(shift[0], x)
    assert (shift[1][0, 0, :d] == 0).all() and torch.equal(shift[1][0, 0, d:], x[0, 0, :9 - d])
    small = views(x, (5, 6), "shift")  # with a crop: the centre crop's window, moved
    assert torch.equal(small[0], views(x, (5, 6), "none")[0])
    assert torch.equal(small[4], padded[:, :, 2 + d:2 + d + 5, 2 + 2 * d:2 + 2 * d + 6])


def test_unknown_mode_and_too_small_image_are_errors():
    with pytest.raises(CaffeError, match="--tta rotate: expected one of none, flip, tencrop, shift"):
        views(torch.zeros(1, 1, 8, 8), (4, 4), "rotate")
    with pytest.raises(CaffeError, match="input 9x9 is larger than the image 8x8"):
        views(torch.zeros(1, 1, 8, 8), (9, 9), "none")


def _expected(weights, mode: str, n: int, side: int = 44):
    """Accuracy and mean loss of the averaged view probabilities, computed with the deploy net."""
    net = Net(deploy_param(side))
    net.copy_trained_layers_from(str(weights))
    _, samples = lmdb_samples(GRAY_LMDB)
    items = [next(samples) for _ in range(n)]
    x = torch.from_numpy(np.stack([img for img, _, _ in items]).astype(np.float32) * np.float32(SCALE))
    y = torch.tensor([label for _, label, _ in items])
    with torch.no_grad():
        probs = torch.stack([net.forward({"data": v})["prob"].reshape(n, -1).double()
                             for v in views(x, (side, side), mode)]).mean(0)
    acc = float((probs.argmax(1) == y).double().mean())
    loss = float(-torch.log(probs[torch.arange(n), y]).mean())
    return acc, loss


def _test_means(log_file) -> dict[str, float]:
    """tools/test's final means (caffe.cpp:320 lines: ``accuracy = 0.5``, ``loss = 1.9 (* 1 = 1.9 loss)``)."""
    return {g.msg.split(" = ")[0]: float(g.msg.split(" = ")[1].split()[0])
            for g in glog.lines(log_file.read_text()) if g.src == "caffe.cpp:320"}


@pytest.mark.parametrize("mode", ["flip", "tencrop", "shift"])
def test_tools_test_scores_the_averaged_probabilities(tmp_path, mode):
    from fer_caffe_compat.cli.test import main
    model = tmp_path / "train_val.prototxt"
    model.write_text(TRAIN_VAL.read_text().replace('"val_lmdb"', f'"{GRAY_LMDB}"'))
    weights = save_weights(tmp_path / "w.caffemodel", side=44)
    out = tmp_path / "test.log"
    assert main(["--model", str(model), "--weights", str(weights), "--iterations", "3", "--tta", mode,
                 "--log", str(out)]) == 0
    means = _test_means(out)
    acc, loss = _expected(weights, mode, 12)  # 3 batches of 4
    assert means["accuracy"] == pytest.approx(acc, abs=1e-6)
    assert means["loss"] == pytest.approx(loss, rel=1e-5)


def test_tools_evaluate_tta_matches_tools_test(tmp_path):
    from fer_caffe_compat.cli.evaluate import main
    weights = save_weights(tmp_path / "w.caffemodel", side=44)
    model = tmp_path / "train_val.prototxt"
    model.write_text(TRAIN_VAL.read_text().replace('"val_lmdb"', f'"{GRAY_LMDB}"'))
    assert main(["--model", str(model), "--weights", str(weights), "--db", str(GRAY_LMDB), "--tta", "flip",
                 "--out", str(tmp_path / "ev")]) == 0
    result = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    acc, _ = _expected(weights, "flip", result["num_samples"])
    assert result["tta"] == "flip" and result["accuracy"] == pytest.approx(acc, abs=1e-9)


def test_without_crop_size_shift_scores_and_tencrop_is_refused(tmp_path):
    from fer_caffe_compat.cli.test import main
    model = tmp_path / "train_val.prototxt"
    model.write_text(TRAIN_VAL.read_text().replace('"val_lmdb"', f'"{GRAY_LMDB}"')
                     .replace("scale: 0.00390625 crop_size: 44", "scale: 0.00390625"))
    weights = save_weights(tmp_path / "w.caffemodel", side=48)
    with pytest.raises(CaffeError, match="--tta tencrop needs a crop_size"):
        main(["--model", str(model), "--weights", str(weights), "--tta", "tencrop"])
    out = tmp_path / "test.log"
    assert main(["--model", str(model), "--weights", str(weights), "--iterations", "2", "--tta", "shift",
                 "--log", str(out)]) == 0
    means = _test_means(out)
    acc, loss = _expected(weights, "shift", 8, side=48)  # 2 batches of 4
    assert means["accuracy"] == pytest.approx(acc, abs=1e-6)
    assert means["loss"] == pytest.approx(loss, rel=1e-5)
