"""tools/baseline: a FER CSV in, PublicTest accuracy, macro F1 and the confusion matrix out, with the PNGs and
metrics.json of tools/evaluate."""
from __future__ import annotations

import json

import pytest

from PIL import Image

from fer_caffe_compat.cli import baseline
from fer_caffe_compat.data.demo import write_demo_csv
from fer_caffe_compat.errors import CaffeError

from .tool_run import assert_one_line_error, run_tool


def test_baseline_prints_scores_and_writes_evaluates_files(tmp_path, capsys):
    csv = tmp_path / "demo.csv"
    write_demo_csv(csv, n_train=210, n_val=70, n_test=0, seed=2)
    out = tmp_path / "out"
    assert baseline.main(["--csv", str(csv), "--features", "hog", "--model", "svc", "--train-samples", "140",
                          "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "hog + svc: trained on a stratified subsample of 140 of the 210 Training rows; scored 70 PublicTest" in text
    assert "accuracy: " in text and "macro F1: " in text and "true \\ predicted" in text
    assert sorted(p.name for p in out.iterdir()) == ["confusion.png", "metrics.json", "roc.png"]
    for name in ("confusion.png", "roc.png"):
        with Image.open(out / name) as im:
            assert im.format == "PNG" and im.size == (800, 700)
    m = json.loads((out / "metrics.json").read_text())
    assert m["num_samples"] == 70 and m["train_rows"] == 140 and m["training_rows_available"] == 210
    assert m["features"] == "hog" and m["model"] == "svc" and m["scores"].startswith("decision values")
    assert sum(map(sum, m["confusion"])) == 70 and 0 <= m["accuracy"] <= 1


def test_bad_inputs_are_one_line_errors(tmp_path):
    csv = tmp_path / "train_only.csv"
    write_demo_csv(csv, n_train=20, n_val=0, n_test=0)
    assert_one_line_error(run_tool("baseline", "--csv", csv, "--features", "pca", "--model", "rf"), "baseline",
                          "train_only.csv: no PublicTest rows to score")
    with pytest.raises(CaffeError, match="--svc-gamma -1: expected scale, auto or a positive number"):
        baseline.main(["--csv", str(csv), "--features", "pca", "--model", "svc", "--svc-gamma", "-1"])
    with pytest.raises(CaffeError, match="none.csv: cannot read"):
        baseline.main(["--csv", str(tmp_path / "none.csv"), "--features", "pca", "--model", "rf"])
