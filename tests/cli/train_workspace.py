"""A scratch layout for running tools/train as a user would: <tmp>/imageset -> the fixture imageset,
<tmp>/run/ holding the LeNet net (its Data layers read ../imageset/gray_lmdb) and the solvers."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..conftest import FIXTURES, ROOT

LENET = FIXTURES / "lenet"
SOLVER = """net: "lenet_train_test.prototxt"
type: "{type}"
base_lr: {base_lr}
momentum: {momentum}
weight_decay: 0.0005
lr_policy: "{policy}"
gamma: {gamma}
stepsize: {stepsize}
display: 1
max_iter: {max_iter}
snapshot: {snapshot}
snapshot_prefix: "{prefix}"
random_seed: 1701
solver_mode: CPU
{extra}"""


def workspace(tmp: Path, batch: int = 10) -> Path:
    os.symlink(FIXTURES / "imageset", tmp / "imageset")
    run = tmp / "run"
    run.mkdir()
    text = (LENET / "lenet_train_test.prototxt").read_text()
    if batch != 10:
        text = text.replace("batch_size: 10", f"batch_size: {batch}", 1)  # the TRAIN Data layer only
    (run / "lenet_train_test.prototxt").write_text(text)
    shutil.copy(LENET / "lenet_iter_0.caffemodel", run)
    return run


def write_solver(run: Path, name: str = "solver.prototxt", type: str = "SGD", base_lr: float = 0.01,
                 momentum: float = 0.9, policy: str = "step", max_iter: int = 3, snapshot: int = 0,
                 extra: str = "", gamma: float = 0.5, stepsize: int = 10, prefix: str = "lenet") -> Path:
    p = run / name
    p.write_text(SOLVER.format(type=type, base_lr=base_lr, momentum=momentum, policy=policy, gamma=gamma,
                               stepsize=stepsize, max_iter=max_iter, snapshot=snapshot, extra=extra,
                               prefix=prefix))
    return p


def train(run: Path, *args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "tools" / "train"), *args], cwd=run, capture_output=True, text=True,
                          timeout=timeout)


def train_inproc(run: Path, monkeypatch, capsys, *args: str) -> subprocess.CompletedProcess:
    """tools/train's main in this process (no interpreter start-up): exit status and stderr (when ``capsys``
    is given). glog lines are muted by the tests' autouse fixture, so stderr holds only what the tool says."""
    from fer_caffe_compat.cli import train as tool
    from fer_caffe_compat.cli.common import run as run_tool

    monkeypatch.chdir(run)
    monkeypatch.setattr(sys, "argv", ["train", *args])
    if capsys is not None:
        capsys.readouterr()
    try:
        run_tool(tool.main, "train")
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = (capsys.readouterr() if capsys is not None else ("", ""))
    return subprocess.CompletedProcess(args, code, out, err)


def torchrun(run: Path, n: int, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={n}", "-m", "fer_caffe_compat.cli.train", *args],
                          cwd=run, capture_output=True, text=True, timeout=timeout, env=env)


def assert_error_last_line(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1, no traceback, the last stderr line is one 'train: error: ...' line naming the fragments
    (glog lines Caffe would also have printed may come before it)."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("train: error: "), last
    for f in fragments:
        assert f in last, (f, last)
    return last
