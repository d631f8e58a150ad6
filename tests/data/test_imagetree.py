"""Class-folder trees and label CSVs (the LFW-based facial_expressions layout) into the image tree."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from fer_caffe_compat.data.convert import convert_imageset
from fer_caffe_compat.data.imagetree import (FACIAL_EXPRESSIONS, assign_split, export_items, read_label_csv,
                                             scan_class_tree)
from fer_caffe_compat.data.index import create_index
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.db import datum_to_array, iter_records, parse_datum


def _colour(path, value: int, size: int = 350) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.zeros((size, size, 3), np.uint8)
    img[..., 0], img[..., 2] = value, 255 - value  # B, R
    cv2.imwrite(str(path), img)


def test_unsplit_class_tree_gets_hash_splits_and_sorted_names(tmp_path):
    for i, name in enumerate(["sad", "happy", "angry"]):
        for j in range(4):
            _colour(tmp_path / "tree" / name / f"img{j}.png", 40 * i)
    items, names = scan_class_tree(tmp_path / "tree", val_fraction=0.5)
    assert names == ["angry", "happy", "sad"]
    assert {(it.source.parent.name, it.label) for it in items} == {("angry", 0), ("happy", 1), ("sad", 2)}
    assert {it.split for it in items} <= {"train", "val"}
    assert [it.split for it in items] == [assign_split(f"{it.source.parent.name}/{it.source.name}", 0.5, 0.0)
                                          for it in items]
    counts = export_items(items, tmp_path / "images", names, size=(48, 40), progress=False)
    assert sum(counts.values()) == 12
    assert (tmp_path / "images" / "labels.txt").read_text().split() == names
    out = next((tmp_path / "images").rglob("happy/*.jpg"))
    assert cv2.imread(str(out)).shape == (48, 40, 3)


def test_split_folders_of_a_tree_are_kept(tmp_path):
    _colour(tmp_path / "t" / "train" / "0" / "a.jpg", 10, 20)
    _colour(tmp_path / "t" / "val" / "3" / "b.jpg", 10, 20)
    items, names = scan_class_tree(tmp_path / "t")
    assert [(it.split, it.label) for it in items] == [("train", 0), ("val", 3)]
    assert names == ["0", "1", "2", "3"]


def test_label_csv_of_facial_expressions_end_to_end(tmp_path):
    root = tmp_path / "facial_expressions"
    rows = [("a.jpg", "HAPPINESS"), ("b.jpg", "anger"), ("c.jpg", "Neutral"), ("d.jpg", "contempt")]
    for k, (f, _) in enumerate(rows):
        _colour(root / "images" / f, 60 * k)
    (root / "data").mkdir()
    (root / "data" / "legend.csv").write_text("user.id,image,emotion\n" + "".join(f"628,{f},{e}\n" for f, e in rows))
    items = read_label_csv(root / "data" / "legend.csv", val_fraction=0.0)
    assert [(it.name, it.label, it.split) for it in items] == [("a", 4, "train"), ("b", 0, "train"),
                                                               ("c", 5, "train"), ("d", 1, "train")]
    export_items(items, tmp_path / "out" / "images", list(FACIAL_EXPRESSIONS), size=(48, 48), progress=False)
    assert create_index(tmp_path / "out" / "images", tmp_path / "out") == {"train": 4}
    assert (tmp_path / "out" / "train.txt").read_text().splitlines()[0] == "happiness/a.jpg 4"
    convert_imageset(f"{tmp_path}/out/images/train/", str(tmp_path / "out" / "train.txt"),
                     str(tmp_path / "out" / "train_lmdb"), progress=False)
    first = datum_to_array(parse_datum(next(iter(iter_records(tmp_path / "out" / "train_lmdb")))[1]))
    assert first.shape == (3, 48, 48)
    assert int(first[0].mean()) <= 3 and int(first[2].mean()) >= 252  # a.jpg: blue 0, red 255, kept BGR


def test_label_csv_errors_name_the_line(tmp_path):
    _colour(tmp_path / "a.jpg", 0, 8)
    (tmp_path / "l.csv").write_text("image,emotion\na.jpg,anger\na.jpg,joy\n")
    with pytest.raises(CaffeError, match=r"l\.csv:3: unknown emotion 'joy'"):
        read_label_csv(tmp_path / "l.csv", tmp_path)
    (tmp_path / "l.csv").write_text("a.jpg,anger\nmissing.jpg,fear\n")
    with pytest.raises(CaffeError, match=r"l\.csv:2: image .*missing\.jpg does not exist"):
        read_label_csv(tmp_path / "l.csv", tmp_path)
