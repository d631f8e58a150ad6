"""make zoo-results' bookkeeping: which models it trains, and the tables it writes (no training here)."""
from __future__ import annotations

from pathlib import Path

from fer_caffe_compat.cli import zoo_results as zr

from ..conftest import ROOT
from ..zoo.zoo_nets import MODELS


def test_every_48x48_zoo_model_has_a_budget_and_the_others_are_not_trained(monkeypatch):
    monkeypatch.chdir(ROOT)
    fer48 = zr.fer48_models()
    assert sorted(fer48) == sorted(zr.BUDGETS)
    assert set(MODELS) - set(fer48) == {"jh_v5", "resnet50_227", "googlenet_227"}


def test_tables_have_a_row_per_zoo_model_and_the_write_ups_aucs(monkeypatch):
    monkeypatch.chdir(ROOT)
    auc = {c: 0.7 for c in ("Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral")}
    result = {"epochs": 10, "iterations": 8972, "batch": 32, "precision": "bf16", "minutes": 3.25,
              "accuracy": 0.41234, "macro_f1": 0.3, "auc": auc, "best_test_accuracy": 0.42,
              "best_test_iteration": 8072}
    text = zr.zoo_tables({"mlp": result})
    rows = [line for line in text.split("\n\n")[0].splitlines() if line.startswith("| `")]
    assert len(rows) == len(MODELS)
    assert "| `deep_bn_cnn` | Keras deep BN CNN (about 58%) | not trained yet (make zoo-results) |" in text
    assert "| `mlp` | Keras MLP | 10 epochs = 8,972 iters of 32, bf16 | 3.2 | 41.23% | 0.3000 | 42.00% (iter 8072) |" \
        in text
    assert "| `jh_v5` | jh_v5, 8-class grey set | shapes and a training smoke only (tests/zoo) |" in text
    assert "| Keras MLP: write-up (hard labels) | 0.54 | 0.50 | 0.50 | 0.69 | - | - | - |" in text
    assert "| `mlp` (ours, from probabilities) | 0.700 |" in text


def test_zoo_doc_has_both_generated_blocks_where_the_tool_writes_them():
    assert zr.TABLES_DOC == Path("docs/zoo.md")
    text = (ROOT / zr.TABLES_DOC).read_text()
    for name in ("zoo-results", "baseline-results"):
        assert f"<!-- {name}: begin (generated) -->" in text and f"<!-- {name}: end -->" in text
