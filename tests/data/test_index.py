"""Index files from an image tree: deterministic order, labels from folder numbers or labels.txt."""
from __future__ import annotations

import pytest

from fer_caffe_compat.data.index import create_index, scan_split, write_index
from fer_caffe_compat.errors import CaffeError


def _touch(root, *paths):
    for p in paths:
        (root / p).parent.mkdir(parents=True, exist_ok=True)
        (root / p).write_bytes(b"x")


def test_entries_follow_the_row_numbers_then_the_class(tmp_path):
    _touch(tmp_path, "train/3/00002.jpg", "train/0/00010.jpg", "train/6/00001.jpg", "train/0/100000.jpg",
           "train/0/00002.png", "train/0/notes.txt")
    assert scan_split(tmp_path / "train") == [("6/00001.jpg", 6), ("0/00002.png", 0), ("3/00002.jpg", 3),
                                              ("0/00010.jpg", 0), ("0/100000.jpg", 0)]


def test_create_index_writes_one_file_per_split_present(tmp_path):
    _touch(tmp_path / "images", "train/1/00000.jpg", "train/0/00001.jpg", "val/2/00002.jpg")
    assert create_index(tmp_path / "images", tmp_path) == {"train": 2, "val": 1}
    assert (tmp_path / "train.txt").read_text() == "1/00000.jpg 1\n0/00001.jpg 0\n"
    assert (tmp_path / "val.txt").read_text() == "2/00002.jpg 2\n"
    assert not (tmp_path / "test.txt").exists()


def test_named_class_folders_take_their_labels_from_labels_txt(tmp_path):
    _touch(tmp_path / "images", "train/Happy/00000.jpg", "train/Angry/00001.jpg")
    (tmp_path / "images" / "labels.txt").write_text("Angry\nDisgust\nFear\nHappy\n")
    create_index(tmp_path / "images", tmp_path)
    assert (tmp_path / "train.txt").read_text() == "Happy/00000.jpg 3\nAngry/00001.jpg 0\n"


def test_unknown_class_folders_are_errors(tmp_path):
    _touch(tmp_path / "images", "train/Happy/00000.jpg")
    with pytest.raises(CaffeError, match=r"Happy: class folder name is not a label number"):
        create_index(tmp_path / "images", tmp_path)
    (tmp_path / "images" / "labels.txt").write_text("Angry\n")
    with pytest.raises(CaffeError, match=r"Happy: folder is not one of the classes Angry"):
        create_index(tmp_path / "images", tmp_path)
    with pytest.raises(CaffeError, match=r"nothing: no such image folder"):
        create_index(tmp_path / "nothing", tmp_path)


def test_paths_with_spaces_keep_the_label_last(tmp_path):
    write_index(tmp_path / "l.txt", [("a b/c d.jpg", 4)])
    assert (tmp_path / "l.txt").read_text() == "a b/c d.jpg 4\n"
