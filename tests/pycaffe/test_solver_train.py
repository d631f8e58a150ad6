"""A pycaffe solver is tools/train's loop: solver.step(1) x N logs the same glog lines and losses as tools/train
on the same solver file; a solver whose data, scale and loss layers are Python layers trains as real pycaffe's
did (fixtures/pycaffe/python_layers, with pysolver.prototxt from the same reference run)."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import caffe
from fer_caffe_compat.proto import caffe_pb2, read_binary

from .. import glog
from .solver_reference import HERE, assert_weights, glog_lines, weights, without_iter_s, work  # noqa: F401

PYLAYERS = Path(__file__).resolve().parents[1] / "fixtures" / "pycaffe" / "python_layers"


def _loop_lines(lines) -> list:
    """The loop's own lines (display, outputs, lr), clock parts removed: what parse_log.sh reads."""
    return without_iter_s([x for x in lines if x[1] in ("solver.cpp:239", "solver.cpp:258", "sgd_solver.cpp:112")])


def test_step_loop_logs_what_tools_train_logs(work):
    from fer_caffe_compat.cli import train

    (work / "short.prototxt").write_text((work / "solver_sgd.prototxt").read_text()
                                         .replace("max_iter: 10", "max_iter: 7") + "snapshot_after_train: false\n")
    assert train.main(["--solver", "short.prototxt", "--gpu", "cpu", "--log", "train.log"]) == 0
    trained = _loop_lines([[g.severity, g.src, g.msg] for g in glog.lines((work / "train.log").read_text())])
    s = caffe.get_solver("short.prototxt")
    with glog_lines(work / "step.log") as lines:
        for _ in range(7):
            s.step(1)
    assert _loop_lines(lines) == trained
    assert len(trained) == 7 * 3 and trained[-1] == ["I", "sgd_solver.cpp:112", "Iteration 6, lr = 0.025"]


def test_step_display_line_counts_iterations_since_the_last_display(work):
    """iter/s is (iter - the iteration of the last display) / seconds: Caffe keeps that iteration across
    step() calls, so a step(1) loop reports 1 iteration per line, not the iteration number."""
    s = caffe.get_solver("solver_sgd.prototxt")
    s.step(1)
    with glog_lines(work / "step.log") as lines:
        s.step(1)
    line = next(m for _, src, m in lines if src == "solver.cpp:239")
    rate, seconds = line.split("(")[1].split(" iter/s, ")
    seconds = float(seconds.split("s/")[0])
    assert float(rate) == pytest.approx(1 / seconds if seconds else 1, rel=1e-3)


@pytest.fixture()
def pywork(tmp_path, monkeypatch) -> Path:
    dst = tmp_path / "py"
    dst.mkdir()
    for name in ("pylayers.py", "pynet.prototxt", "pynet_init.caffemodel"):
        shutil.copy(PYLAYERS / name, dst / name)
    shutil.copy(HERE / "pysolver.prototxt", dst / "pysolver.prototxt")
    (dst / "pysnap").mkdir()
    monkeypatch.chdir(dst)
    monkeypatch.syspath_prepend(str(dst))
    sys.modules.pop("pylayers", None)
    yield dst
    sys.modules.pop("pylayers", None)


def test_python_data_layer_feeds_a_solver_as_in_pycaffe(pywork):
    ref = json.loads((PYLAYERS / "python_layers.json").read_text())["solver"]
    npz = dict(np.load(PYLAYERS / "python_layers.npz"))
    s = caffe.get_solver("pysolver.prototxt")
    s.net.copy_from("pynet_init.caffemodel")
    assert list(s.net.params) == ref["params_keys"]
    for k, want in enumerate(ref["steps"], start=1):
        with glog_lines(pywork / "step.log") as lines:
            s.step(1)
        assert s.iter == want["iter"]
        np.testing.assert_allclose(float(s.net.blobs["loss"].data.reshape(-1)[0]), want["loss"], rtol=1e-5)
        assert _loop_lines(lines) == _loop_lines(want["glog"])
        for blob in ("data", "target"):
            np.testing.assert_allclose(s.net.blobs[blob].data, npz[f"solver/step{k}/{blob}"], rtol=1e-5, atol=1e-6)
        prefix = f"solver/step{k}/w/"
        assert_weights(weights(s.net), {n[len(prefix):]: v for n, v in npz.items() if n.startswith(prefix)},
                       f"python-layer solver step {k}")
    s.snapshot()
    assert sorted(str(p.relative_to(pywork)) for p in (pywork / "pysnap").iterdir()) == ref["snapshot files"]
    model = read_binary("pysnap/pynet_iter_3.caffemodel", caffe_pb2.NetParameter())
    assert {layer.name: [list(b.shape.dim) for b in layer.blobs] for layer in model.layer if layer.blobs} == \
        ref["snapshot caffemodel: layers with blobs"]
    state = read_binary("pysnap/pynet_iter_3.solverstate", caffe_pb2.SolverState())
    assert [list(h.shape.dim) for h in state.history] == ref["solverstate history shapes"]


def test_extensions_of_the_solver_file_run_under_pycaffe(work):
    """ema_decay (an extension) works through solver.step as through tools/train: the snapshot holds the
    average and the solverstate the raw weights."""
    (work / "ema.prototxt").write_text((work / "solver_sgd.prototxt").read_text() + "ema_decay: 0.5\n")
    s = caffe.get_solver("ema.prototxt")
    s.step(3)
    raw = weights(s.net)
    s.snapshot()
    state = read_binary("snap/sgd_iter_3.solverstate", caffe_pb2.SolverState())
    assert len(state.raw_weights) == len(raw)
    model = caffe.Net("solver_net.prototxt", caffe.TRAIN, weights="snap/sgd_iter_3.caffemodel")
    assert any(not np.array_equal(model.params[k.split("/")[0]][int(k.split("/")[1])].data, v) for k, v in raw.items())
