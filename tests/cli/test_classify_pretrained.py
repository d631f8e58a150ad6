"""tools/classify without --model/--weights: the shipped model (nets/pretrained), --sample, --demo."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fer_caffe_compat.cli import classify
from fer_caffe_compat.cli.net_args import choose_model
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval import pretrained
from fer_caffe_compat.eval.labels import FER_CLASSES
from fer_caffe_compat.eval.predict import Predictor

from ..conftest import FIXTURES, ROOT
from ..eval.fake_pretrained import make_pretrained
from ..eval.tiny import SCALE
from .tool_run import run_tool

CROPS = FIXTURES / "pretrained"  # the first PublicTest face of each class (make_crops.py)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    folder, _ = make_pretrained(tmp_path_factory.mktemp("fake"))
    return folder


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.strip().splitlines()]


# -- the shipped model (these need nets/pretrained's final weights) -------------------------------------
def test_sample_photo_is_one_happy_face():
    proc = run_tool("classify", "--sample")
    assert proc.returncode == 0, proc.stderr
    (face,) = _lines(proc.stdout)
    assert face["file"] == "astronaut.png" and face["top"] == "Happy"
    assert face["probabilities"]["Happy"] >= 0.5
    assert proc.stderr.strip().startswith("classify: the sample photo (scikit-image's astronaut): 1 face(s): "
                                          "face 1 at [")
    assert ": Happy 0." in proc.stderr or ": Happy 1.00" in proc.stderr


def test_cropped_publictest_faces_get_the_models_answers():
    proc = run_tool("classify", "--no-detect", CROPS)
    assert proc.returncode == 0, proc.stderr
    faces = _lines(proc.stdout)
    files = sorted(CROPS.glob("*.png"))
    assert [f["file"] for f in faces] == [str(p) for p in files]
    p = pretrained.load()
    pred = Predictor(p.model, p.weights, mean=p.mean, scale=p.scale, batch_size=1)
    for f, path in zip(faces, files):
        assert f["box"] == [0, 0, 48, 48] and f["frame"] is None
        assert list(f["probabilities"]) == list(FER_CLASSES)
        (probs,) = pred.predict([(pred.fit_image(cv2.imread(str(path))), str(path))])
        assert list(f["probabilities"].values()) == pytest.approx(list(probs), abs=2e-6)
        assert f["top"] == FER_CLASSES[int(probs.argmax())]


# -- the defaults, on a stand-in folder ------------------------------------------------------------------
def test_no_model_flags_means_the_pretrained_folder(fake, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", fake)
    face = tmp_path / "face.png"
    cv2.imwrite(str(face), np.add.outer(np.arange(48), np.arange(48)).astype(np.uint8) * 2)
    assert classify.main(["--no-detect", str(face)]) == 0
    default = capsys.readouterr().out
    assert classify.main(["--model", str(fake / "deploy.prototxt"), "--weights", str(fake / "fer_cpu_hour.caffemodel"),
                          "--mean", str(fake / "mean.binaryproto"), "--scale", str(SCALE),
                          "--labels", str(fake / "labels.txt"), "--no-detect", str(face)]) == 0
    assert capsys.readouterr().out == default and _lines(default)[0]["box"] == [0, 0, 48, 48]


def test_sample_flag_classifies_the_astronaut(fake, monkeypatch, capsys):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", fake)
    assert classify.main(["--sample"]) == 0
    out, err = capsys.readouterr()
    (face,) = _lines(out)
    assert face["file"] == "astronaut.png" and 150 < face["box"][0] < 200
    assert err.strip() == (f"classify: the sample photo (scikit-image's astronaut): 1 face(s): face 1 at "
                           f"{face['box']}: {face['top']} {face['probabilities'][face['top']]:.2f}")


def test_demo_flag_names_the_newest_demo_snapshot(monkeypatch, tmp_path):
    for name in ("snapshots/lenet_demo_iter_900.caffemodel", "snapshots/lenet_demo_iter_1200.caffemodel",
                 "data/demo/mean.binaryproto"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setattr(pretrained, "ROOT", tmp_path)
    args = classify.parse(["--demo", "x.jpg"])
    assert choose_model(args) is None
    assert (args.model, args.weights, args.mean, args.scale) == (
        str(tmp_path / "nets/lenet_demo_train_test.prototxt"),
        str(tmp_path / "snapshots/lenet_demo_iter_1200.caffemodel"), str(tmp_path / "data/demo/mean.binaryproto"), None)
    assert (ROOT / pretrained.DEMO_MODEL).is_file()


@pytest.mark.parametrize("argv, message", [
    (["--model", "m.prototxt", "x.jpg"], "--model needs --weights (give neither for nets/pretrained)"),
    (["--weights", "w.caffemodel", "x.jpg"], "--weights needs --model"),
    (["--demo", "--weights", "w.caffemodel", "x.jpg"], "--demo names the model"),
])
def test_half_a_model_choice_is_refused(argv, message):
    with pytest.raises(CaffeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        choose_model(classify.parse(argv))


def test_no_input_is_refused():
    with pytest.raises(CaffeError, match="nothing to classify: give images, folders or videos, or --sample"):
        classify.main([])


def test_missing_card_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", tmp_path)
    with pytest.raises(CaffeError, match="model.json: not found: .*give --model and --weights"):
        choose_model(classify.parse(["x.jpg"]))
