"""make lmdb's one-pass route equals the step-by-step route (csv_to_images, create_aux, convert_imageset
--gray, compute_image_mean) file for file."""
from __future__ import annotations

import filecmp

import numpy as np
import pytest

from fer_caffe_compat.data.convert import convert_imageset
from fer_caffe_compat.data.demo import make_demo
from fer_caffe_compat.data.fer_csv import read_fer_csv, write_fer_csv
from fer_caffe_compat.data.index import create_index
from fer_caffe_compat.data.mean import compute_image_mean
from fer_caffe_compat.data.prepare import export_fer_images, prepare_fer
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.db import datum_to_array, iter_records, parse_datum


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("csv") / "small.csv.gz"
    images, labels, usage = make_demo(60, 15, 10, seed=5)
    write_fer_csv(path, images, labels, usage)
    return path


def _dircmp_equal(a, b) -> bool:
    c = filecmp.dircmp(a, b)
    if c.left_only or c.right_only or c.diff_files or c.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, c.common_files, shallow=False)
    return not mismatch and not errors and all(_dircmp_equal(a / d, b / d) for d in c.common_dirs)


def test_one_pass_equals_the_step_by_step_route(tmp_path, small_csv):
    fast = tmp_path / "fast"
    prepare_fer(small_csv, fast, progress=False)
    slow = tmp_path / "slow"
    export_fer_images(read_fer_csv(small_csv), slow / "images", progress=False)
    assert create_index(slow / "images", slow) == {"train": 60, "val": 15, "test": 10}
    for split in ("train", "val", "test"):
        convert_imageset(f"{slow}/images/{split}/", str(slow / f"{split}.txt"), str(slow / f"{split}_lmdb"),
                         gray=True, progress=False)
        assert (fast / f"{split}.txt").read_text() == (slow / f"{split}.txt").read_text()
        assert list(iter_records(fast / f"{split}_lmdb")) == list(iter_records(slow / f"{split}_lmdb")), split
    compute_image_mean(slow / "train_lmdb", str(slow / "mean.binaryproto"), progress=False)
    assert (fast / "mean.binaryproto").read_bytes() == (slow / "mean.binaryproto").read_bytes()
    assert _dircmp_equal(fast / "images", slow / "images")


def test_layout_keys_and_index_follow_the_csv_rows(tmp_path, small_csv):
    prepare_fer(small_csv, tmp_path / "d", progress=False)
    data = read_fer_csv(small_csv)
    val_rows = data.split("val")
    lines = (tmp_path / "d" / "val.txt").read_text().splitlines()
    assert lines == [f"{data.labels[r]}/{r:05d}.jpg {data.labels[r]}" for r in val_rows]
    keys = [k.decode() for k, _ in iter_records(tmp_path / "d" / "val_lmdb")]
    assert keys == [f"{i:08d}_{ln.split()[0]}" for i, ln in enumerate(lines)]
    assert (tmp_path / "d" / "images" / "val" / lines[0].split()[0]).is_file()


def test_png_is_lossless_and_jpeg_quality_matters(tmp_path, small_csv):
    data = read_fer_csv(small_csv)
    prepare_fer(small_csv, tmp_path / "png", fmt="png", splits=["train"], progress=False)
    stored = np.stack([datum_to_array(parse_datum(v)) for _, v in iter_records(tmp_path / "png" / "train_lmdb")])
    np.testing.assert_array_equal(stored[:, 0], data.images[data.split("train")])
    assert not (tmp_path / "png" / "val_lmdb").exists()
    assert not (tmp_path / "png" / "images" / "val").exists()
    sizes, errors = {}, {}
    for q in (50, 95):
        out = export_fer_images(data, tmp_path / f"q{q}", quality=q, splits=["val"], progress=False)
        sizes[q] = sum(p.stat().st_size for p in (tmp_path / f"q{q}").rglob("*.jpg"))
        errors[q] = np.abs(out["val"][1][:, 0].astype(int) - data.images[data.split("val")]).mean()
    assert sizes[50] < sizes[95] and errors[50] > errors[95] > 0, (sizes, errors)


def test_class_names_name_the_folders_and_labels_txt_lists_them(tmp_path, small_csv):
    names = ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    prepare_fer(small_csv, tmp_path / "d", class_names=names, progress=False)
    assert (tmp_path / "d" / "images" / "labels.txt").read_text().split() == names
    line = (tmp_path / "d" / "train.txt").read_text().splitlines()[0]
    path, label = line.split()
    assert path.split("/")[0] == names[int(label)]
    create_index(tmp_path / "d" / "images", tmp_path / "again")
    assert (tmp_path / "again" / "train.txt").read_text() == (tmp_path / "d" / "train.txt").read_text()


def test_existing_outputs_are_refused_unless_overwrite(tmp_path, small_csv):
    prepare_fer(small_csv, tmp_path / "d", splits=["val"], progress=False)
    with pytest.raises(CaffeError, match=r"images: already exists"):
        prepare_fer(small_csv, tmp_path / "d", splits=["val"], progress=False)
    prepare_fer(small_csv, tmp_path / "d", splits=["val"], overwrite=True, progress=False)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["images", "val.txt", "val_lmdb"]
    prepare_fer(small_csv, tmp_path / "d", splits=["test"], overwrite=True, progress=False)  # no stale val
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["images", "test.txt", "test_lmdb"]


def test_a_bad_csv_leaves_nothing_behind(tmp_path):
    (tmp_path / "bad.csv").write_text("emotion,pixels,Usage\n3,1 2 3,Training\n")
    with pytest.raises(CaffeError, match=r"bad\.csv:2: expected 2304 pixels, found 3"):
        prepare_fer(tmp_path / "bad.csv", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_failure_leaves_the_previous_outputs_and_no_build_folder(tmp_path, small_csv, monkeypatch):
    """make lmdb builds in a hidden folder and moves the results in at the end: a disk that fills up while
    the LMDBs are written (here: the mean) leaves the earlier run's files as they were, and nothing else."""
    import errno
    import os

    from fer_caffe_compat.data import prepare

    out = tmp_path / "d"
    prepare_fer(small_csv, out, progress=False)
    before = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(prepare, "write_blob_file", full)
    with pytest.raises(OSError) as e:
        prepare_fer(small_csv, out, overwrite=True, progress=False)
    assert e.value.filename == str(out)  # the folder the user named, not the hidden build folder
    after = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert after == before and not list(out.glob(".*"))


def test_ctrl_c_while_the_lmdbs_are_written_removes_the_folders_the_run_created(tmp_path, small_csv, monkeypatch):
    from fer_caffe_compat.data import prepare

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(prepare, "write_lmdb", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare_fer(small_csv, tmp_path / "new" / "d", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_outputs_get_the_mode_the_umask_gives(tmp_path, small_csv):
    """As Caffe's: mean.binaryproto and the index files were 0600 (mkstemp's mode) whatever the umask."""
    import os

    old = os.umask(0o022)
    try:
        prepare_fer(small_csv, tmp_path / "d", progress=False)
    finally:
        os.umask(old)
    d = tmp_path / "d"
    files = [d / "mean.binaryproto", d / "train.txt", d / "val.txt", d / "train_lmdb" / "data.mdb",
             next((d / "images" / "train").rglob("*.jpg"))]
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: "0o644" for f in files}
