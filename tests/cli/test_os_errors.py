"""Every tool that writes, on every OS error a user meets: a disk that fills up (ENOSPC, a 4 KiB tmpfs), a
read-only file system (EROFS), a folder it may not write (EACCES) and an output whose parent is a file.
Each ends in one line (after any glog lines Caffe also prints) naming the path and what the OS said, exit
status 1, no traceback, and nothing half-written left behind."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest

from fer_caffe_compat.data.demo import make_demo
from fer_caffe_compat.data.fer_csv import write_fer_csv

from .. import glog
from ..conftest import FIXTURES, ROOT
from ..eval.tiny import DEPLOY, MEAN, SCALE, save_weights
from ..fsfaults import read_only_folder, tmpfs, unprivileged

IMAGESET = FIXTURES / "imageset"


@dataclass(frozen=True)
class Tool:
    module: str  # fer_caffe_compat.cli.<module>
    argv: Callable[[Path, dict], list[str]]  # (folder the output goes into, inputs) -> arguments
    output: str  # the output's name in that folder, which the message names


TOOLS = {
    "csv_to_images": Tool("csv_to_images", lambda d, i: ["--csv", i["csv"], "--out", f"{d}/images"], "images"),
    "make_lmdb": Tool("make_lmdb", lambda d, i: [i["csv"], f"{d}/fer"], "fer"),
    "convert_imageset": Tool("convert_imageset", lambda d, i: ["--gray", f"{IMAGESET}/", f"{IMAGESET}/train.txt",
                                                               f"{d}/train_lmdb"], "train_lmdb"),
    "compute_image_mean": Tool("compute_image_mean", lambda d, i: [f"{IMAGESET}/gray_lmdb", f"{d}/mean.binaryproto"],
                               "mean.binaryproto"),
    "classify": Tool("classify", lambda d, i: ["--model", str(DEPLOY), "--weights", i["weights"], "--mean", str(MEAN),
                                               "--scale", str(SCALE), "--no-detect", i["photo"],
                                               "--annotate", f"{d}/annotated.png"], "annotated.png"),
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    images, labels, usage = make_demo(40, 10, 0, seed=3)
    write_fer_csv(d / "small.csv", images, labels, usage)
    noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)  # a PNG of ~77 KB
    cv2.imwrite(str(d / "face.png"), noise)
    return {"csv": str(d / "small.csv"), "photo": str(d / "face.png"),
            "weights": str(save_weights(d / "tiny.caffemodel", 48))}


def run_in_process(tool: Tool, argv: list[str], monkeypatch, capsys) -> subprocess.CompletedProcess:
    import importlib

    from fer_caffe_compat.cli.common import run

    mod = importlib.import_module(f"fer_caffe_compat.cli.{tool.module}")
    monkeypatch.setattr(sys, "argv", [tool.module, *argv])
    capsys.readouterr()
    try:
        run(mod.main, tool.module)
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(argv, code, out, err)


def assert_os_error(p: subprocess.CompletedProcess, tool: str, *fragments: str) -> str:
    assert p.returncode == 1, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.strip().splitlines()
    assert not any(x.startswith(f"{tool}: ") for x in lines[:-1]), p.stderr
    assert lines[-1].startswith(f"{tool}: error: "), lines[-1]
    for f in fragments:
        assert f in lines[-1], (f, lines[-1])
    return lines[-1]


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_disk_full_is_one_line_and_leaves_nothing(name, inputs, tmp_path, monkeypatch, capsys):
    tool = TOOLS[name]
    with tmpfs(tmp_path, size="4k") as fs:
        p = run_in_process(tool, tool.argv(fs, inputs), monkeypatch, capsys)
        assert_os_error(p, name, f"{fs}/{tool.output}", "No space left on device")
        assert _entries(fs) == []


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_read_only_file_system_is_one_line(name, inputs, tmp_path, monkeypatch, capsys):
    tool = TOOLS[name]
    with tmpfs(tmp_path, read_only=True) as fs:
        p = run_in_process(tool, tool.argv(fs, inputs), monkeypatch, capsys)
        assert_os_error(p, name, f"{fs}/{tool.output}", "Read-only file system")


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_parent_that_is_a_file_is_one_line(name, inputs, tmp_path, monkeypatch, capsys):
    tool = TOOLS[name]
    (tmp_path / "blocker").write_text("a file where the output folder should be\n")
    p = run_in_process(tool, tool.argv(tmp_path / "blocker", inputs), monkeypatch, capsys)
    assert_os_error(p, name, f"{tmp_path / 'blocker'}: is a file, not a directory")
    assert _entries(tmp_path) == ["blocker"]


@pytest.mark.parametrize("name", sorted(TOOLS))
def test_folder_without_write_permission_is_one_line(name, inputs, tmp_path):
    """A real process, without the capabilities that let root write anywhere."""
    tool = TOOLS[name]
    with read_only_folder(tmp_path / "locked") as locked:
        cmd = unprivileged([str(ROOT / "tools" / "_python"), "-m", f"fer_caffe_compat.cli.{tool.module}",
                            *tool.argv(locked, inputs)])
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert_os_error(p, name, str(locked), "Permission denied")
        assert _entries(locked) == []


def test_training_whose_snapshots_it_may_not_write_exits_1_naming_the_last_one(tmp_path):
    """The snapshot policy (README, Training): the run trains on, logs each failed snapshot, and exits 1
    when its last snapshot failed."""
    from .train_workspace import train, workspace, write_solver

    run = workspace(tmp_path)
    with read_only_folder(tmp_path / "locked") as locked:
        write_solver(run, max_iter=2, snapshot=1, prefix=f"{locked}/lenet")
        cmd = unprivileged([str(ROOT / "tools" / "train"), "--solver", "solver.prototxt"])
        p = subprocess.run(cmd, cwd=run, capture_output=True, text=True, timeout=300)
        last = assert_os_error(p, "train")
        assert last == (f"train: error: the snapshot at iteration 2 failed: {locked}/lenet_iter_2.caffemodel: "
                        f"Permission denied; last snapshot: none")
        assert [g.msg.split(";")[0] for g in glog.lines(p.stderr) if g.severity == "E"] == [
            f"Snapshot at iteration {i} failed: {locked}/lenet_iter_{i}.caffemodel: Permission denied" for i in (1, 2)]
        assert _entries(locked) == []
