"""tools/serve without --model/--weights: the shipped model; /health and the page name it and its PublicTest
accuracy (from model.json)."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fer_caffe_compat.cli import serve
from fer_caffe_compat.eval import pretrained

from ..conftest import ROOT
from ..eval.fake_pretrained import make_pretrained


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    folder, _ = make_pretrained(tmp_path_factory.mktemp("fake"))
    return folder


def _health(argv: list[str]) -> dict:
    with TestClient(serve.build(serve.parse(argv))) as c:
        page = c.get("/").text
        assert "h.publictest_accuracy" in page and "FER2013 PublicTest" in page
        return c.get("/health").json()


def test_health_names_the_pretrained_model_and_its_accuracy(fake, monkeypatch):
    monkeypatch.setattr(pretrained, "PRETRAINED_DIR", fake)
    card = json.loads((fake / "model.json").read_text())
    h = _health([])
    assert (h["name"], h["model"], h["weights"]) == ("FER CPU-hour", "deploy.prototxt", "fer_cpu_hour.caffemodel")
    assert h["publictest_accuracy"] == card["publictest"]["tta"]["none"]["accuracy"]
    assert h["classes"] == [line for line in (fake / "labels.txt").read_text().splitlines()]


def test_another_model_has_no_card_numbers(fake):
    h = _health(["--model", str(fake / "deploy.prototxt"), "--weights", str(fake / "fer_cpu_hour.caffemodel"),
                 "--mean", str(fake / "mean.binaryproto"), "--scale", "0.00390625"])
    assert h["model"] == "deploy.prototxt" and "name" not in h and "publictest_accuracy" not in h


def test_health_of_the_shipped_model():  # needs nets/pretrained's final weights
    card = json.loads((ROOT / "nets" / "pretrained" / "model.json").read_text())
    h = _health([])
    assert h["name"] == card["name"] and h["weights"] == "fer_cpu_hour.caffemodel" and h["input"] == [1, 48, 48]
    assert h["publictest_accuracy"] == card["publictest"]["tta"]["none"]["accuracy"]
