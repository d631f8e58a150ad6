"""tools/parse_log.sh and tools/parse_log.py: Caffe's tables for Caffe's log (byte for byte), the glog-0.6
year prefix, and our own tools/train logs."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from ..conftest import FIXTURES, ROOT
from .train_workspace import train_inproc, workspace, write_solver

LENET = FIXTURES / "lenet"


def _sh(log, cwd):
    return subprocess.run([str(ROOT / "tools" / "parse_log.sh"), str(log)], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def _py(log, out):
    return subprocess.run([str(ROOT / "tools" / "parse_log.py"), str(log), str(out)], capture_output=True,
                          text=True, timeout=60)


def _drop_seconds(text: str, sep: str | None) -> list[list[str]]:
    rows = [line.split(sep) for line in text.splitlines() if line.strip()]
    return [r[:1] + r[2:] for r in rows]


def test_parse_log_sh_gives_caffes_tables(tmp_path):
    p = _sh(LENET / "lenet_train.log", tmp_path)
    assert p.returncode == 0, p.stderr
    for ext in ("train", "test"):
        ours = (tmp_path / f"lenet_train.log.{ext}").read_text()
        assert ours == (LENET / "parse_log_sh" / f"lenet_train.log.{ext}").read_text(), ext


def test_parse_log_py_gives_caffes_csv(tmp_path):
    p = _py(LENET / "lenet_train.log", tmp_path)
    assert p.returncode == 0, p.stderr
    for ext in ("train", "test"):
        ours = (tmp_path / f"lenet_train.log.{ext}").read_bytes()
        assert ours == (LENET / "parse_log_py" / f"lenet_train.log.{ext}").read_bytes(), ext


def test_parsers_read_the_glog_year_prefix(tmp_path):
    """glog >= 0.6 writes I20261122: Caffe's scripts crash on it, ours give the same tables (the
    Seconds differ: it is another run)."""
    log = tmp_path / "lenet_train.log"
    shutil.copy(LENET / "lenet_train_glog_year_prefix.log", log)
    (tmp_path / "sh").mkdir()
    assert _sh(log, tmp_path / "sh").returncode == 0
    assert _py(log, tmp_path).returncode == 0
    for ext in ("train", "test"):
        assert _drop_seconds((tmp_path / "sh" / f"lenet_train.log.{ext}").read_text(), None) == \
            _drop_seconds((LENET / "parse_log_sh" / f"lenet_train.log.{ext}").read_text(), None)
        assert _drop_seconds((tmp_path / f"lenet_train.log.{ext}").read_text(), ",") == \
            _drop_seconds((LENET / "parse_log_py" / f"lenet_train.log.{ext}").read_text(), ",")


@pytest.fixture(scope="module")
def our_log(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ourlog")
    run = workspace(tmp)
    write_solver(run, max_iter=4, extra="test_iter: 1\ntest_interval: 2\n")
    mp = pytest.MonkeyPatch()
    try:
        assert train_inproc(run, mp, None, "--solver", "solver.prototxt", "--weights",
                            "lenet_iter_0.caffemodel", "--log", "ours.log").returncode == 0
    finally:
        mp.undo()
    return run / "ours.log"


def test_parse_log_sh_reads_our_train_log(our_log, tmp_path):
    assert _sh(our_log, tmp_path).returncode == 0
    train = [r.split() for r in (tmp_path / "ours.log.train").read_text().splitlines()]
    assert train[0] == ["#Iters", "Seconds", "TrainingLoss", "LearningRate"]
    assert [r[0] for r in train[1:]] == ["0", "1", "2", "3", "4"]
    assert train[1][2] == "1.93359" and train[1][3] == "0.01" and len(train[5]) == 3
    test = [r.split() for r in (tmp_path / "ours.log.test").read_text().splitlines()]
    assert [r[0] for r in test[1:]] == ["0", "2", "4"]
    assert test[1][2:] == ["0.1", "1.93359"]  # batch 0 of the TEST Data layer at iteration 0


def test_parse_log_py_reads_our_train_log(our_log, tmp_path):
    assert _py(our_log, tmp_path).returncode == 0
    train = (tmp_path / "ours.log.train").read_text().splitlines()
    assert train[0] == "NumIters,Seconds,LearningRate,loss"
    assert [r.split(",")[0] for r in train[1:]] == ["0.0", "1.0", "2.0", "3.0"]
    assert train[1].endswith(",0.01,1.93359")
    test = (tmp_path / "ours.log.test").read_text().splitlines()
    assert test[0] == "NumIters,Seconds,LearningRate,accuracy,loss"
    assert [r.split(",")[0] for r in test[1:]] == ["0.0", "2.0", "4.0"]


def test_parse_log_of_a_file_that_is_not_a_training_log_is_one_line_error(tmp_path):
    bad = tmp_path / "x.log"
    bad.write_text("hello\n")
    p = _py(bad, tmp_path)
    assert p.returncode == 1 and p.stderr.strip() == f'parse_log.py: error: {bad}: no "Solving" line: not a Caffe training log'


def test_parse_log_sh_of_a_file_that_is_not_a_training_log_says_what_it_expected(tmp_path):
    bad = tmp_path / "x.log"
    bad.write_text("hello\n")
    p = _sh(bad, tmp_path)
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.strip().splitlines() == [
        f"parse_log.sh: error: {bad}: not a Caffe training log: expected glog lines from caffe train or "
        "tools/train, such as 'I1122 01:55:04.056345 12345 solver.cpp:289] Solving FER_LeNet' and then "
        "'Iteration N (...), loss = X'"]
    assert not list(tmp_path.glob("x.log.*"))
