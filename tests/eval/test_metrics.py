"""Every metric against numbers worked out by hand on a 7-sample, 3-class case."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval import metrics as m

# true label, probabilities; predictions (argmax): 0 1 1 2 2 0 2
LABELS = np.array([0, 0, 1, 1, 2, 2, 2])
PROBS = np.array([
    [0.7, 0.2, 0.1],
    [0.4, 0.5, 0.1],
    [0.1, 0.8, 0.1],
    [0.3, 0.3, 0.4],
    [0.2, 0.2, 0.6],
    [0.5, 0.3, 0.2],
    [0.1, 0.1, 0.8],
])
NAMES = ["a", "b", "c"]


def test_accuracy_counts_argmax_hits():
    assert m.accuracy(LABELS, PROBS) == pytest.approx(4 / 7)


def test_top_k_accuracy_follows_caffe_strictly_greater_rule():
    # top-2 misses only sample 5 (two classes score above its true class); sample 3's tie counts as a hit
    assert m.top_k_accuracy(LABELS, PROBS, 2) == pytest.approx(6 / 7)
    assert m.top_k_accuracy(LABELS, PROBS, 1) == pytest.approx(4 / 7)
    assert m.top_k_accuracy(LABELS, PROBS, 3) == 1.0
    tie = np.array([[0.5, 0.5]])
    assert m.top_k_accuracy(np.array([1]), tie, 1) == 1.0


def test_confusion_counts_and_row_normalised():
    c = m.confusion_counts(LABELS, PROBS.argmax(1), 3)
    np.testing.assert_array_equal(c, [[1, 1, 0], [0, 1, 1], [1, 0, 2]])
    np.testing.assert_allclose(m.row_normalize(c), [[.5, .5, 0], [0, .5, .5], [1 / 3, 0, 2 / 3]])


def test_row_normalise_leaves_empty_rows_zero():
    np.testing.assert_array_equal(m.row_normalize(np.array([[0, 0], [1, 3]])), [[0, 0], [.25, .75]])


def test_classification_report_per_class_and_averages():
    r = m.classification_report(LABELS, PROBS.argmax(1), NAMES)
    expect = {"a": (.5, .5, .5, 2), "b": (.5, .5, .5, 2), "c": (2 / 3, 2 / 3, 2 / 3, 3)}
    for name, (p, rec, f1, sup) in expect.items():
        got = r[name]
        assert (got["precision"], got["recall"], got["f1-score"], got["support"]) == pytest.approx((p, rec, f1, sup))
    assert r["macro avg"]["precision"] == pytest.approx((0.5 + 0.5 + 2 / 3) / 3)
    assert r["macro avg"]["f1-score"] == pytest.approx((0.5 + 0.5 + 2 / 3) / 3)
    assert r["weighted avg"]["recall"] == pytest.approx(4 / 7)
    assert r["weighted avg"]["support"] == 7


def test_classification_report_lists_a_class_absent_from_the_data():
    r = m.classification_report(np.array([0, 1]), np.array([0, 1]), ["x", "y", "z"])
    assert r["z"]["support"] == 0 and r["z"]["recall"] == 0
    assert r["macro avg"]["recall"] == pytest.approx(2 / 3)


def test_roc_auc_per_class_micro_macro_by_hand():
    roc = m.roc_curves(LABELS, PROBS)
    # pairs (positive, negative) ranked correctly, ties 1/2: a 9/10, b 8.5/10, c 11/12
    assert roc.auc == pytest.approx([0.9, 0.85, 11 / 12])
    assert roc.macro_auc == pytest.approx((0.9 + 0.85 + 11 / 12) / 3)
    assert roc.micro_auc == pytest.approx(85 / 98)  # 7 positives x 14 negatives pooled
    # class c: thresholds 0.8, 0.6, 0.4, 0.2, 0.1 (one negative scores 0.4, above the positive at 0.2)
    np.testing.assert_allclose(roc.fpr[2], [0, 0, 0, .25, .25, 1])
    np.testing.assert_allclose(roc.tpr[2], [0, 1 / 3, 2 / 3, 2 / 3, 1, 1])


def test_roc_uses_probabilities_not_hard_labels():
    hard = m.roc_curves(LABELS, np.eye(3)[PROBS.argmax(1)])
    assert hard.auc[0] == pytest.approx(0.65)  # what a hard-label ROC gives for class a
    assert roc_auc_score(LABELS == 0, PROBS.argmax(1) == 0) == pytest.approx(0.65)
    assert m.evaluate(LABELS, PROBS, NAMES)["roc_auc"]["per_class"]["a"] == pytest.approx(0.9)


def test_roc_of_class_without_samples_is_undefined_and_left_out_of_macro():
    labels = np.array([0, 1, 0, 1])
    probs = np.array([[.9, .1, 0], [.2, .7, .1], [.6, .3, .1], [.5, .4, .1]])
    roc = m.roc_curves(labels, probs)
    assert roc.auc[2] is None
    assert roc.auc[0] == pytest.approx(1.0) and roc.auc[1] == pytest.approx(1.0)
    assert roc.macro_auc == pytest.approx(1.0)


def test_evaluate_collects_every_number():
    e = m.evaluate(LABELS, PROBS, NAMES, top_k=2)
    assert e["num_samples"] == 7 and e["classes"] == NAMES
    assert e["accuracy"] == pytest.approx(4 / 7) and e["top_k_accuracy"] == pytest.approx(6 / 7)
    assert e["confusion"] == [[1, 1, 0], [0, 1, 1], [1, 0, 2]]
    assert e["roc_auc"]["macro"] == pytest.approx((0.9 + 0.85 + 11 / 12) / 3)


def test_evaluate_rejects_bad_shapes_and_labels():
    with pytest.raises(CaffeError, match="class names"):
        m.evaluate(LABELS, PROBS, ["a", "b"])
    with pytest.raises(CaffeError, match="outside"):
        m.accuracy(np.array([3]), np.array([[0.5, 0.5]]))


def test_confusion_text_is_aligned_table():
    t = m.confusion_text(np.array([[3, 0], [1, 12]]), ["Happy", "Sad"])
    assert t.splitlines()[2].split() == ["Happy", "3", "0"]
    assert t.splitlines()[3].split() == ["Sad", "1", "12"]
