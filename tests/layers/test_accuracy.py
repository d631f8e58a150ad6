"""Accuracy against Caffe's zoo blobs and hand-computed cases (ties, top_k, ignore_label, per class)."""
from __future__ import annotations

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_accuracy_and_per_class_match_caffe(dtype):
    check_zoo_layer("accuracy", dtype)


def test_accuracy_top_shapes_match_caffe():
    ours, caffe = zoo_top_shapes("accuracy")
    assert ours == caffe == [(), (7,)]


def _acc(extra="", shapes=((4, 3), (4,)), tops=2):
    top = "".join(f' top: "t{i}"' for i in range(tops))
    return make_layer(f'name: "a" type: "Accuracy"{top} {extra}', shapes, dtype=torch.float32)


SCORES = torch.tensor([[0.9, 0.1, 0.0],    # label 0: top-1 right
                       [0.2, 0.5, 0.5],    # label 1: tied with class 2 -> counts against (Caffe 1.0)
                       [0.1, 0.3, 0.2],    # label 2: second best
                       [0.0, 0.0, 1.0]])   # label 0: tied with class 1, third
LABELS = torch.tensor([0.0, 1.0, 2.0, 0.0])


def test_accuracy_ties_count_against_the_true_class():
    acc, per_class = _acc()(SCORES, LABELS)
    assert acc.item() == pytest.approx(1 / 4)
    assert per_class.tolist() == pytest.approx([1 / 2, 0.0, 0.0])


def test_accuracy_top_k():
    acc, per_class = _acc("accuracy_param { top_k: 2 }")(SCORES, LABELS)
    # items 1 and 2 have one other score >= theirs (1 < 2): right; item 3 has two (tie with class 1)
    assert acc.item() == pytest.approx(3 / 4)
    assert per_class.tolist() == pytest.approx([1 / 2, 1.0, 1.0])
    acc3, _ = _acc("accuracy_param { top_k: 3 }")(SCORES, LABELS)
    assert acc3.item() == 1.0


def test_accuracy_ignore_label_and_absent_classes():
    layer = _acc("accuracy_param { ignore_label: 0 }", shapes=((4, 5), (4,)))
    scores = torch.cat([SCORES, torch.full((4, 2), -1.0)], 1)
    acc, per_class = layer(scores, LABELS)
    assert acc.item() == pytest.approx(0.0)  # items 1 and 2 counted, both wrong
    assert per_class.tolist() == [0.0] * 5
    none_counted = _acc("accuracy_param { ignore_label: 0 }", tops=1)
    assert none_counted(SCORES, torch.zeros(4))[0].item() == 0.0


def test_accuracy_on_a_spatial_axis():
    layer = _acc("accuracy_param { axis: 1 }", shapes=((1, 3, 2), (1, 2)), tops=1)
    x = torch.tensor([[[0.1, 0.7], [0.8, 0.2], [0.1, 0.1]]])
    assert layer(x, torch.tensor([[1.0, 0.0]]))[0].item() == 1.0
    assert layer(x, torch.tensor([[1.0, 1.0]]))[0].item() == 0.5


def test_accuracy_has_no_gradient():
    x = SCORES.clone().requires_grad_()
    acc, per_class = _acc()(x, LABELS)
    assert not acc.requires_grad and not per_class.requires_grad


def test_accuracy_label_out_of_range_is_an_error_at_forward():
    with pytest.raises(CaffeError, match=r"layer a \(Accuracy\): label 3 out of range \[0, 3\)"):
        _acc()(SCORES, torch.tensor([0.0, 1.0, 3.0, 0.0]))


@pytest.mark.parametrize("extra, shapes, message", [
    ("accuracy_param { top_k: 4 }", ((4, 3), (4,)), "top_k 4 must be in [1, 3]"),
    ("", ((4, 3), (3,)), "3 labels for 4 predictions"),
    ("accuracy_param { axis: 2 }", ((4, 3), (4,)), "axis 2 out of range"),
])
def test_accuracy_invalid_parameters_are_one_line_errors(extra, shapes, message):
    with pytest.raises(CaffeError) as e:
        _acc(extra, shapes)
    msg = str(e.value)
    assert message in msg and msg.startswith("layer a (Accuracy)") and "\n" not in msg
