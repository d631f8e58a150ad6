from __future__ import annotations

import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval.labels import FER_CLASSES, class_names

EIGHT = ["anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]


def test_default_names_are_fer_seven_in_label_order():
    assert class_names(None, 7) == ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    assert list(FER_CLASSES) == class_names(None, 7)


def test_default_names_for_other_counts_are_numbered():
    assert class_names(None, 3) == ["class 0", "class 1", "class 2"]


def test_labels_file_with_eight_classes(tmp_path):
    p = tmp_path / "labels.txt"
    p.write_text("\n".join(EIGHT) + "\n\n")
    assert class_names(p, 8) == EIGHT


def test_labels_file_with_wrong_count_names_the_file(tmp_path):
    p = tmp_path / "labels.txt"
    p.write_text("\n".join(EIGHT) + "\n")
    with pytest.raises(CaffeError, match=r"labels\.txt: 8 class names, but the net has 7 outputs"):
        class_names(p, 7)


def test_labels_file_missing_or_duplicate(tmp_path):
    with pytest.raises(CaffeError, match="nope.txt: cannot read"):
        class_names(tmp_path / "nope.txt", 7)
    p = tmp_path / "dup.txt"
    p.write_text("a\nb\na\n")
    with pytest.raises(CaffeError, match="'a' appears twice"):
        class_names(p, 3)
