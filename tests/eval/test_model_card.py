"""tools/model_card: model.json and README.md from tools/evaluate's metrics, and their refusals."""
from __future__ import annotations

import json
import shutil

import pytest

from fer_caffe_compat.cli import model_card
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval import pretrained
from fer_caffe_compat.eval.model_card import render_card

from .fake_pretrained import TTAS, make_pretrained


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return make_pretrained(tmp_path_factory.mktemp("card"))


def test_card_holds_the_evaluations_numbers(made):
    folder, _ = made
    card = json.loads((folder / "model.json").read_text())
    assert card["weights_sha256"] == pretrained.sha256_file(folder / "fer_cpu_hour.caffemodel")
    assert list(card["publictest"]["tta"]) == list(TTAS)
    assert card["publictest"]["num_samples"] == 14 and card["publictest"]["data"] == "public.csv"
    assert card["publictest"]["support"] == {c: 2 for c in card["classes"]}
    for tta in TTAS:
        m = json.loads((folder.parent / f"eval_{tta}" / "metrics.json").read_text())
        e = card["publictest"]["tta"][tta]
        assert e["accuracy"] == pytest.approx(m["accuracy"], abs=1e-6)
        assert e["macro_f1"] == pytest.approx(m["report"]["macro avg"]["f1-score"], abs=1e-6)
        assert e["recall"] == {c: pytest.approx(m["report"][c]["recall"], abs=1e-6) for c in m["classes"]}
    assert (folder / "confusion.png").read_bytes() == (folder.parent / "eval_none" / "confusion.png").read_bytes()


def test_readme_is_rendered_from_model_json_alone(made):
    folder, _ = made
    card = json.loads((folder / "model.json").read_text())
    text = (folder / "README.md").read_text()
    assert text == render_card(card)
    acc = card["publictest"]["tta"]["none"]["accuracy"]
    assert f"| {100 * acc:.2f} |" in text and card["weights_sha256"] in text and "![PublicTest" in text
    for words in ("Frontal faces", "Haar cascade", "Label noise", "Research only", "(pixel - mean) * scale"):
        assert words in text


def test_loaded_card_names_the_files(made):
    folder, _ = made
    p = pretrained.load(folder)
    assert (p.model, p.weights, p.mean, p.labels) == tuple(str(folder.resolve() / n) for n in
                                                          ("deploy.prototxt", "fer_cpu_hour.caffemodel",
                                                           "mean.binaryproto", "labels.txt"))
    assert p.scale == 0.00390625 and p.name == "FER CPU-hour"
    assert p.accuracy("none") == p.card["publictest"]["tta"]["none"]["accuracy"] and p.accuracy("shift") is None


def test_metrics_of_other_weights_are_refused(made, tmp_path):
    folder, _ = made
    other = tmp_path / "pretrained"
    shutil.copytree(folder, other)
    with open(other / "fer_cpu_hour.caffemodel", "ab") as f:
        f.write(b"\0")
    with pytest.raises(CaffeError, match="sha256 differs"):
        model_card.main(["--dir", str(other), "--command", "c", "--log", str(folder.parent / "train.log"),
                         str(folder.parent / "eval_none" / "metrics.json")])


def test_a_mode_twice_or_no_none_is_refused(made):
    folder, _ = made
    log = str(folder.parent / "train.log")
    none, flip = (str(folder.parent / f"eval_{t}" / "metrics.json") for t in TTAS)
    with pytest.raises(CaffeError, match="a second metrics file for --tta none"):
        model_card.main(["--dir", str(folder), "--command", "c", "--log", log, none, none])
    with pytest.raises(CaffeError, match="no metrics.json with tta none"):
        model_card.main(["--dir", str(folder), "--command", "c", "--log", log, flip])


def test_a_folder_without_a_card_is_one_clear_error(tmp_path):
    with pytest.raises(CaffeError, match="model.json: not found: the pretrained model is not installed"):
        pretrained.load(tmp_path)
