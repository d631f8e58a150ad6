from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from fer_caffe_compat.cli import evaluate
from fer_caffe_compat.eval import metrics
from fer_caffe_compat.eval.predict import Predictor, lmdb_samples

from ..eval.tiny import DEPLOY, GRAY_LMDB, IMAGESET, MEAN, SCALE, TRAIN_VAL, save_weights
from .tool_run import assert_one_line_error, run_tool


@pytest.fixture(scope="module")
def w48(tmp_path_factory):
    return save_weights(tmp_path_factory.mktemp("w") / "tiny48.caffemodel", 48)


def test_evaluate_lmdb_writes_pngs_and_json_with_the_metrics(w48, tmp_path, capsys):
    out = tmp_path / "eval"
    assert evaluate.main(["--model", str(DEPLOY), "--weights", str(w48), "--db", str(GRAY_LMDB), "--mean", str(MEAN),
                          "--scale", str(SCALE), "--out", str(out), "--top-k", "3"]) == 0
    text = capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "metrics.json", "roc.png"]
    for name in ("confusion.png", "roc.png"):
        with Image.open(out / name) as im:
            assert im.format == "PNG" and im.size == (800, 700)
    got = json.loads((out / "metrics.json").read_text())
    _, it = lmdb_samples(GRAY_LMDB)
    items = list(it)
    probs = Predictor(DEPLOY, w48, mean=MEAN, scale=SCALE).predict((i, w) for i, _, w in items)
    labels = np.array([l for _, l, _ in items])
    want = metrics.evaluate(labels, probs, got["classes"], top_k=3)
    assert got["num_samples"] == 70 and got["top_k"] == 3 and got["output_blob"] == "prob"
    assert got["confusion"] == want["confusion"] and np.sum(got["confusion"]) == 70
    assert got["accuracy"] == pytest.approx(want["accuracy"])
    assert got["top_k_accuracy"] == pytest.approx(want["top_k_accuracy"])
    assert got["roc_auc"]["macro"] == pytest.approx(want["roc_auc"]["macro"])
    assert got["report"]["Happy"]["support"] == 10
    assert f"accuracy: {want['accuracy']:.4f}" in text and "top-3 accuracy:" in text
    assert "macro avg" in text and "micro-average:" in text and "true \\ predicted" in text


def test_evaluate_list_with_labels_file_defaults_out_beside_the_weights(w48, tmp_path, capsys):
    weights = tmp_path / "snap_iter_5.caffemodel"
    weights.write_bytes(w48.read_bytes())
    labels = tmp_path / "labels.txt"
    labels.write_text("anger\ndisgust\nfear\nhappiness\nsadness\nsurprise\nneutral\n")
    assert evaluate.main(["-model", str(DEPLOY), "-weights", str(weights), "--list", str(IMAGESET / "train.txt"),
                          "--mean", str(MEAN), "--scale", str(SCALE), "--labels", str(labels),
                          "--oversample"]) == 0
    got = json.loads((tmp_path / "snap_iter_5_eval" / "metrics.json").read_text())
    assert got["classes"][3] == "happiness" and got["oversample"] is True and got["num_samples"] == 70


def test_weights_that_do_not_fit_the_model_one_line_exit_1(w48, tmp_path):
    proc = run_tool("evaluate", "--model", TRAIN_VAL, "--weights", w48, "--db", GRAY_LMDB, "--out", tmp_path / "o")
    assert_one_line_error(proc, "evaluate", "tiny48.caffemodel", "layer ip1", "shape mismatch")
    assert not (tmp_path / "o").exists()


def test_labels_file_with_wrong_number_of_classes_one_line_exit_1(w48, tmp_path):
    labels = tmp_path / "eight.txt"
    labels.write_text("anger\ncontempt\ndisgust\nfear\nhappiness\nneutral\nsadness\nsurprise\n")
    proc = run_tool("evaluate", "--model", DEPLOY, "--weights", w48, "--db", GRAY_LMDB, "--labels", labels,
                    "--out", tmp_path / "o")
    assert_one_line_error(proc, "evaluate", "eight.txt: 8 class names, but the net has 7 outputs")
    assert not (tmp_path / "o").exists()


def test_eight_class_net_with_its_labels_file(tmp_path, capsys):
    import torch

    from fer_caffe_compat.net import Net
    from fer_caffe_compat.proto import write_prototxt

    from ..eval.tiny import deploy_param

    p = deploy_param(48)
    p.layer[-2].inner_product_param.num_output = 8
    write_prototxt(tmp_path / "deploy8.prototxt", p)
    torch.manual_seed(3)
    Net(p).save_caffemodel(tmp_path / "w8.caffemodel")
    names = ["anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
    (tmp_path / "labels8.txt").write_text("\n".join(names) + "\n")
    assert evaluate.main(["--model", str(tmp_path / "deploy8.prototxt"), "--weights", str(tmp_path / "w8.caffemodel"),
                          "--db", str(GRAY_LMDB), "--scale", str(SCALE), "--labels", str(tmp_path / "labels8.txt"),
                          "--out", str(tmp_path / "out")]) == 0
    got = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert got["classes"] == names and np.array(got["confusion"]).shape == (8, 8)
    assert got["report"]["surprise"]["support"] == 0  # the 7-class data has no label 7
    assert got["roc_auc"]["per_class"]["surprise"] is None
