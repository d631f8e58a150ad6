"""What tools/train (and the tools that run a trained net) refuse in one line before any work: weights that
do not arrive, solver values no run can mean, a net that cannot train."""
from __future__ import annotations

import sys

import pytest

from fer_caffe_compat.proto import caffe_pb2

from .. import glog
from ..conftest import FIXTURES
from ..eval.tiny import DEPLOY, GRAY_LMDB, MEAN, SCALE, save_weights
from .train_workspace import assert_error_last_line, train_inproc, workspace, write_solver

LENET = FIXTURES / "lenet"


@pytest.fixture
def run(tmp_path):
    return workspace(tmp_path)


def cut_at_layer(src, dst, keep: int):
    """``src`` cut right after its first ``keep`` layers: protobuf reads such a file as a complete message."""
    full = src.read_bytes()
    part = caffe_pb2.NetParameter.FromString(full)
    del part.layer[keep:]
    data = part.SerializeToString()
    assert full.startswith(data)  # the very bytes of the file up to a layer boundary
    dst.write_bytes(data)
    return dst


def _train(run, monkeypatch, capsys, *args):
    write_solver(run, max_iter=1)
    return train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt", *args)


@pytest.mark.parametrize("allow", [False, True])
def test_weights_that_copy_nothing_are_refused(run, monkeypatch, capsys, allow):
    (run / "empty.caffemodel").write_bytes(b"")
    p = _train(run, monkeypatch, capsys, "--weights", "empty.caffemodel", *(["--allow_missing_weights"] * allow))
    assert_error_last_line(p, "empty.caffemodel: no layer of this file matches a layer with weights of net "
                              "FER_LeNet (conv1, conv2, ip1, ip2): it would copy nothing")


def test_weights_cut_at_a_layer_boundary_are_refused_naming_the_missing_layers(run, monkeypatch, capsys):
    cut_at_layer(run / "lenet_iter_0.caffemodel", run / "cut.caffemodel", keep=4)  # data conv1 pool1 conv2
    p = _train(run, monkeypatch, capsys, "--weights", "cut.caffemodel")
    assert_error_last_line(p, "cut.caffemodel: no weights for layers ip1, ip2 of net FER_LeNet",
                           "--allow_missing_weights")
    assert not list(run.glob("lenet_iter_*.solverstate"))


def test_allow_missing_weights_lists_the_layers_left_at_their_fillers(run, monkeypatch, capsys):
    """Fine-tuning with a new head: the flag lets the layers the file lacks start from their fillers."""
    cut_at_layer(run / "lenet_iter_0.caffemodel", run / "cut.caffemodel", keep=4)
    p = _train(run, monkeypatch, capsys, "--weights", "cut.caffemodel", "--allow_missing_weights", "--log", "t.log")
    assert p.returncode == 0, p.stderr
    lines = glog.lines((run / "t.log").read_text())
    copied = [g.msg for g in lines if g.src == "net.cpp:764"]
    assert copied[:4] == ["Copying source layer data", "Copying source layer conv1", "Copying source layer pool1",
                          "Copying source layer conv2"]
    assert ("W", "Layers left at their initial values (not in cut.caffemodel): ip1, ip2") in \
        [(g.severity, g.msg) for g in lines]


def test_weights_cut_inside_a_layer_are_refused(run, monkeypatch, capsys):
    data = (run / "lenet_iter_0.caffemodel").read_bytes()
    (run / "cut.caffemodel").write_bytes(data[:int(len(data) * 0.6)])
    assert_error_last_line(_train(run, monkeypatch, capsys, "--weights", "cut.caffemodel"),
                           "cut.caffemodel: not a valid NetParameter")


@pytest.fixture(scope="module")
def tiny_cut(tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny")
    w = save_weights(d / "tiny.caffemodel", 48)
    keep = [i for i, layer in enumerate(caffe_pb2.NetParameter.FromString(w.read_bytes()).layer) if layer.blobs][-1]
    return cut_at_layer(w, d / "cut.caffemodel", keep)  # everything but the last layer with weights


def _tool(name, argv, monkeypatch, capsys):
    import importlib

    from fer_caffe_compat.cli.common import run
    monkeypatch.setattr(sys, "argv", [name, *map(str, argv)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        run(importlib.import_module(f"fer_caffe_compat.cli.{name}").main, name)
    return e.value.code, capsys.readouterr().err


@pytest.mark.parametrize("name", ["test", "evaluate", "classify"])
def test_tools_that_run_a_net_refuse_missing_weights_unless_allowed(name, tiny_cut, tmp_path, monkeypatch,
                                                                    capsys):
    if name == "test":
        monkeypatch.chdir(LENET)
        cut = cut_at_layer(LENET / "lenet_iter_0.caffemodel", tmp_path / "cut.caffemodel", keep=4)
        argv = ["--model", "lenet_train_test.prototxt", "--weights", cut, "--iterations", "1"]
        missing = "layers ip1, ip2 of net FER_LeNet"
    else:
        argv = ["--model", DEPLOY, "--weights", tiny_cut, "--mean", MEAN, "--scale", SCALE]
        argv += ["--db", GRAY_LMDB, "--out", tmp_path / "eval"] if name == "evaluate" else \
            ["--no-detect", FIXTURES / "imageset" / "0" / sorted(p.name for p in (FIXTURES / "imageset" / "0").iterdir())[0]]
        missing = "no weights for layer"
    code, err = _tool(name, argv, monkeypatch, capsys)
    assert code == 1 and err.count("\n") == 1 and err.startswith(f"{name}: error: {tiny_cut if name != 'test' else cut}: "), err
    assert missing in err and "--allow_missing_weights" in err
    code, err = _tool(name, [*argv, "--allow_missing_weights"], monkeypatch, capsys)
    assert code == 0, err


@pytest.mark.parametrize("kw, message", [
    (dict(base_lr=-1), "base_lr must be >= 0, got -1 (a negative rate climbs the loss)"),
    (dict(momentum=1.0), "momentum must be in [0, 1), got 1"),
    (dict(momentum=-0.5), "momentum must be in [0, 1), got -0.5"),
    (dict(gamma=0), 'lr_policy "step" needs gamma > 0, got 0'),
    (dict(gamma=-0.1), 'lr_policy "step" needs gamma > 0, got -0.1'),
    (dict(stepsize=0), 'lr_policy "step" needs stepsize > 0'),
    (dict(max_iter=-5), "max_iter must be >= 0, got -5"),
    (dict(type="Adam", extra="momentum2: 1.5\n"), "momentum2 must be in [0, 1), got 1.5"),
    (dict(extra='test_net: "lenet_train_test.prototxt"\ntest_interval: 2\n'),
     "test_iter must be specified for each test network (0 test_iter for 1 test nets)"),
    (dict(extra="test_iter: 1\ntest_interval: 2\ntest_state { stage: 'a' }\ntest_state { stage: 'b' }\n"),
     "test_state must be unspecified or given once per test net (2 test_state for 1 test nets)"),
], ids=["base_lr", "momentum1", "momentum_neg", "gamma0", "gamma_neg", "stepsize0", "max_iter", "momentum2",
        "test_iter", "test_state"])
def test_nonsense_solver_values_are_one_line_errors(run, monkeypatch, capsys, kw, message):
    write_solver(run, **kw)
    p = train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt")
    assert_error_last_line(p, f"solver.prototxt: {message}")


@pytest.mark.parametrize("net, message", [
    ('name: "empty"\n', "the train net empty has no layers in phase TRAIN"),
    ('name: "noloss"\nlayer { name: "data" type: "Data" top: "data" top: "label"\n'
     '  data_param { source: "../imageset/gray_lmdb" batch_size: 2 backend: LMDB } }\n'
     'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 7 } }\n',
     "the train net noloss produces no loss in phase TRAIN"),
], ids=["empty", "no_loss"])
def test_net_that_cannot_train_is_one_line_error(run, monkeypatch, capsys, net, message):
    (run / "lenet_train_test.prototxt").write_text(net)
    write_solver(run)
    assert_error_last_line(train_inproc(run, monkeypatch, capsys, "--solver", "solver.prototxt"), message)
