"""The model shipped in nets/pretrained/: its files are the ones its card describes, the card's text is
rendered from model.json, and the net builds with the weights. (tools/check_pretrained re-scores it.)"""
from __future__ import annotations

import json

from fer_caffe_compat.eval import pretrained
from fer_caffe_compat.eval.labels import FER_CLASSES, read_labels
from fer_caffe_compat.eval.model_card import render_card
from fer_caffe_compat.eval.predict import Predictor
from fer_caffe_compat.io.blob import read_blob_file

from ..conftest import ROOT

FOLDER = ROOT / "nets" / "pretrained"


def _card() -> dict:
    return json.loads((FOLDER / "model.json").read_text(encoding="utf-8"))


def test_weights_are_the_ones_the_card_names():
    card = _card()
    sha = pretrained.sha256_file(FOLDER / card["files"]["weights"])
    assert card["files"]["weights"] == "fer_cpu_hour.caffemodel"
    assert sha == card["weights_sha256"]
    assert f"sha256 `{sha}`" in (FOLDER / "README.md").read_text(encoding="utf-8")


def test_readme_is_the_card_rendered_from_model_json():
    assert (FOLDER / "README.md").read_text(encoding="utf-8") == render_card(_card())


def test_card_scores_every_tta_mode_on_all_of_publictest():
    pt = _card()["publictest"]
    assert list(pt["tta"]) == ["none", "flip", "shift"]
    assert pt["num_samples"] == 3589 and sum(pt["support"].values()) == 3589
    assert (ROOT / _card()["training"]["log"]).is_file()
    for e in pt["tta"].values():
        assert (ROOT / e["metrics"]).is_file()
        assert 0.6 < e["accuracy"] < 1 and 0.5 < e["macro_f1"] < 1
        assert list(e["recall"]) == list(FER_CLASSES)


def test_deploy_net_is_the_recipes_and_builds_with_the_weights():
    assert (FOLDER / "deploy.prototxt").read_bytes() == (ROOT / "nets" / "fer_cpu_hour_deploy.prototxt").read_bytes()
    p = pretrained.load()
    assert p.folder == FOLDER.resolve() and p.scale == 0.00390625
    assert read_labels(p.labels) == list(FER_CLASSES)
    assert read_blob_file(p.mean).shape == (1, 1, 48, 48)
    pred = Predictor(p.model, p.weights, mean=p.mean, scale=p.scale, batch_size=2)
    assert pred.input_shape == (1, 48, 48) and pred.num_classes == 7
    assert (FOLDER / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
