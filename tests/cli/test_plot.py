"""Training curves as PNGs: tools/plot_log.gnuplot (gnuplot-nox) and tools/plot_training_log (matplotlib)."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from ..conftest import FIXTURES, ROOT

CHARTS = ["learning_rate_vs_iters.png", "test_accuracy_vs_iters.png", "test_loss_vs_iters.png",
          "train_loss_vs_iters.png", "train_loss_vs_seconds.png"]
PNG = b"\x89PNG\r\n\x1a\n"


def _assert_pngs(folder):
    assert sorted(p.name for p in folder.glob("*.png")) == CHARTS
    for p in folder.glob("*.png"):
        assert p.read_bytes()[:8] == PNG and p.stat().st_size > 5000, p


@pytest.mark.skipif(shutil.which("gnuplot") is None, reason="gnuplot-nox is not installed (make system-deps)")
def test_gnuplot_script_writes_the_five_charts(tmp_path):
    log = tmp_path / "lenet_train.log"
    shutil.copy(FIXTURES / "lenet" / "lenet_train.log", log)
    assert subprocess.run([str(ROOT / "tools" / "parse_log.sh"), str(log)], cwd=tmp_path).returncode == 0
    (tmp_path / "png").mkdir()
    p = subprocess.run(["gnuplot", "-e", f"log='{log}'; out='{tmp_path / 'png'}'",
                        str(ROOT / "tools" / "plot_log.gnuplot")], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    _assert_pngs(tmp_path / "png")


def test_matplotlib_overlays_several_logs(tmp_path):
    from fer_caffe_compat.cli.plot_training_log import main
    a = FIXTURES / "lenet" / "lenet_train.log"
    b = FIXTURES / "lenet" / "lenet_resume.log"
    assert main([str(a), str(b), "--out", str(tmp_path / "png")]) == 0
    _assert_pngs(tmp_path / "png")
    from fer_caffe_compat.curves.plot import load
    assert [r["NumIters"] for r in load(b)["test"]] == [20.0, 30.0]


def test_plot_log_sh_writes_tables_and_both_chart_sets(tmp_path):
    """`make plot LOG=...` runs tools/plot_log.sh: parse_log.sh tables, gnuplot PNGs (when gnuplot is
    installed) and the matplotlib PNGs."""
    log = tmp_path / "lenet_train.log"
    shutil.copy(FIXTURES / "lenet" / "lenet_train.log", log)
    p = subprocess.run([str(ROOT / "tools" / "plot_log.sh"), str(log)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = tmp_path / "lenet_train_curves"
    assert p.stdout.strip() == str(out)
    assert (out / "lenet_train.log.train").read_text() == \
        (FIXTURES / "lenet" / "parse_log_sh" / "lenet_train.log.train").read_text()
    _assert_pngs(out)
    if shutil.which("gnuplot"):
        _assert_pngs(out / "gnuplot")
