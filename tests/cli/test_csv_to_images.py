"""tools/csv_to_images as a user runs it: outputs, and one-line errors with no traceback or partial output."""
from __future__ import annotations

import gzip
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

from fer_caffe_compat.data.demo import make_demo
from fer_caffe_compat.data.fer_csv import write_fer_csv
from tests.conftest import ROOT


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_caffe_compat.cli.csv_to_images", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def _one_line_error(r: subprocess.CompletedProcess, pattern: str) -> None:
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("csv_to_images: error: "), r.stderr
    assert re.search(pattern, lines[0]), lines[0]


def test_csv_to_images_writes_the_split_class_tree(tmp_path):
    images, labels, usage = make_demo(12, 4, 3, seed=2)
    write_fer_csv(tmp_path / "f.csv.gz", images, labels, usage)
    r = _run("--csv", tmp_path / "f.csv.gz", "--out", tmp_path / "img", "--splits", "train,test", "--format", "png")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"train=12 test=3 images in {tmp_path / 'img'}"
    files = sorted(p.relative_to(tmp_path / "img").as_posix() for p in (tmp_path / "img").rglob("*.png"))
    test_files = [f for f in files if f.startswith("test/")]
    assert test_files == sorted(f"test/{labels[i]}/{i:05d}.png" for i in (16, 17, 18))
    assert len(files) == 15
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "img" / test_files[0]), cv2.IMREAD_GRAYSCALE),
                                  images[int(test_files[0][-9:-4])])
    r = _run("--csv", tmp_path / "f.csv.gz", "--out", tmp_path / "img")
    _one_line_error(r, r"img: already exists; refusing to overwrite it \(use --overwrite\)")
    assert _run("--csv", tmp_path / "f.csv.gz", "--out", tmp_path / "img", "--overwrite").returncode == 0
    assert len(list((tmp_path / "img").rglob("*.jpg"))) == 19


def test_csv_to_images_reads_a_class_tree(tmp_path):
    for name in ("happy", "sad"):
        (tmp_path / "tree" / name).mkdir(parents=True)
        cv2.imwrite(str(tmp_path / "tree" / name / "x.png"), np.full((350, 350, 3), 99, np.uint8))
    r = _run("--tree", tmp_path / "tree", "--out", tmp_path / "img", "--size", "48x48", "--gray",
             "--val-fraction", "0")
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(tmp_path / "img" / "train" / "sad" / "x.jpg"), cv2.IMREAD_UNCHANGED).shape == (48, 48)


PX = " ".join(str(i % 256) for i in range(2304))
HEADER = "emotion,pixels,Usage\n"


BAD_CSVS = [
    ("nohead.csv", f"3,{PX},Training\n", r"nohead\.csv:1: expected the header 'emotion,pixels,Usage'"),
    ("count.csv", HEADER + f"3,{PX},Training\n3,{PX} 7,Training\n", r"count\.csv:3: expected 2304 pixels, found 2305"),
    ("float.csv", HEADER + f"3,0.5 {PX[2:]},Training\n", r"float\.csv:2: pixel 1 is not an integer: '0\.5'"),
    ("range.csv", HEADER + f"3,{PX[:-3]}300,Training\n", r"range\.csv:2: pixel 2304 is out of range 0\.\.255: 300"),
    ("emotion.csv", HEADER + f"9,{PX},Training\n", r"emotion\.csv:2: unknown emotion 9"),
    ("usage.csv", HEADER + f"1,{PX},Train\n", r"usage\.csv:2: unknown Usage 'Train'"),
    ("empty.csv", "", r"empty\.csv: empty file"),
    ("corrupt.csv.gz", gzip.compress((HEADER + f"1,{PX},Training\n").encode(), mtime=0)[:40],
     r"corrupt\.csv\.gz: corrupt gzip data"),
]


@pytest.mark.parametrize("name, content, pattern", BAD_CSVS, ids=[c[0] for c in BAD_CSVS])
def test_bad_csv_is_one_line_naming_file_and_line_and_writes_nothing(tmp_path, name, content, pattern):
    (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    r = _run("--csv", tmp_path / name, "--out", tmp_path / "out" / "images")
    _one_line_error(r, pattern)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
