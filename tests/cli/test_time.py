"""tools/time: Caffe's `caffe time` report, and one-line errors for bad nets and a missing GPU."""
from __future__ import annotations

import re
import sys

import pytest
import torch

from fer_caffe_compat import log
from fer_caffe_compat.cli import time as time_tool
from fer_caffe_compat.cli.common import run
from tests.cli.tool_run import assert_one_line_error, run_tool
from tests.conftest import FIXTURES

LENET = FIXTURES / "lenet"


def _report(monkeypatch, *argv: str) -> list[str]:
    lines: list[str] = []
    monkeypatch.setattr(log, "_emit", lambda sev, src, msg: lines.append(f"{src}] {msg}"))
    assert time_tool.main(list(argv)) == 0
    return [l for l in lines if l.startswith("caffe.cpp")]


def test_time_reports_every_layer_and_the_averages_like_caffe(monkeypatch):
    monkeypatch.chdir(LENET)
    lines = _report(monkeypatch, "-model", "lenet_train_test.prototxt", "-iterations", "2")
    layers = ["data", "conv1", "pool1", "conv2", "pool2", "ip1", "relu1", "ip2", "loss"]
    per_layer = [l for l in lines if l.startswith(("caffe.cpp:409]", "caffe.cpp:412]"))]
    assert len(per_layer) == 2 * len(layers)
    for i, name in enumerate(layers):
        assert re.fullmatch(rf"caffe\.cpp:409\] {name:>10}\tforward: [0-9.e+-]+ ms\.", per_layer[2 * i])
        assert re.fullmatch(rf"caffe\.cpp:412\] {name:>10}\tbackward: [0-9.e+-]+ ms\.", per_layer[2 * i + 1])
    for head in ("Average Forward pass: ", "Average Backward pass: ", "Average Forward-Backward: ", "Total Time: "):
        assert any(re.fullmatch(rf"caffe\.cpp:4\d\d\] {head}[0-9.e+-]+ ms\.", l) for l in lines), head
    assert "caffe.cpp:382] Testing for 2 iterations." in lines
    assert len([l for l in lines if "forward-backward time:" in l]) == 2
    loss = float(next(l for l in lines if "Initial loss:" in l).rsplit(" ", 1)[1])
    assert 0 < loss < 20
    assert lines[-1] == "caffe.cpp:424] *** Benchmark ends ***"


def test_layerwise_backward_reproduces_caffes_zoo_gradients(monkeypatch):
    """The timing pass runs each layer's backward on its own (splits, losses, propagate_down and all);
    chained, the parameter gradients are Caffe's (zoo_param_grads.npz)."""
    import numpy as np

    from fer_caffe_compat.net import Net
    from fer_caffe_compat.net_timing import forward_backward
    from fer_caffe_compat.proto import caffe_pb2
    from tests.layers.zoo import assert_close_to_caffe

    monkeypatch.chdir(FIXTURES / "layers")
    net = Net.from_file("zoo.prototxt", phase=caffe_pb2.TRAIN)
    net.copy_trained_layers_from("zoo.caffemodel")
    grads: dict[str, torch.Tensor] = {}
    for lp in net.learnable_params:
        if lp.param.requires_grad:
            key = f"{lp.layer_name}/{lp.blob_index}"
            lp.param.register_hook(lambda g, k=key: grads.__setitem__(k, grads.get(k, 0) + g))
    assert forward_backward(net) == pytest.approx(78.719, rel=1e-5)
    with np.load("zoo_param_grads.npz", allow_pickle=False) as z:
        for key in ("conv_a/0", "conv_a/1", "conv_g/0", "ip4d/0", "ip4d/1", "ip_cls/0", "ip_cls/1"):
            assert_close_to_caffe(key, grads[key].reshape(z[key].shape), z[key], rtol=2e-6)


def _one_line(monkeypatch, capsys, *argv: str) -> str:
    monkeypatch.setattr(sys, "argv", ["time", *argv])
    with pytest.raises(SystemExit) as e:
        run(time_tool.main, "time")
    assert e.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("time: error: "), err
    return err[0]


def test_bad_prototxt_through_the_tool_is_one_line_exit_1(tmp_path):
    (tmp_path / "bad.prototxt").write_text('name: "x"\nlayer { name: "a" type: "Input" top: "x" }\n}\n')
    assert_one_line_error(run_tool("time", "-model", tmp_path / "bad.prototxt"), "time", "bad.prototxt:3:1")


@pytest.mark.parametrize("body,fragment", [
    ('layer { name: "a" type: "NoSuchType" bottom: "x" top: "y" }', "unknown layer type 'NoSuchType' (known types:"),
    ('layer { name: "a" type: "ReLU" bottom: "nope" top: "y" }', "layer a: unknown bottom blob 'nope'"),
    ('layer { name: "in2" type: "Input" top: "z" input_param { shape { dim: 2 dim: 4 } } }\n'
     'layer { name: "s" type: "Eltwise" bottom: "x" bottom: "z" top: "y" }', "layer s (Eltwise)"),
    ('layer { name: "n" type: "LRN" bottom: "x" top: "y" lrn_param { local_size: 2 } }', "layer n (LRN)"),
    ('layer { name: "c" type: "Convolution" bottom: "x" top: "y" convolution_param { num_output: 1 kernel_size: 1 stride: 0 } }',
     "layer c (Convolution)"),
])
def test_net_errors_through_the_tool_are_one_line(tmp_path, monkeypatch, capsys, body, fragment):
    (tmp_path / "n.prototxt").write_text(
        'layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 dim: 4 dim: 4 } } }\n' + body)
    assert fragment in _one_line(monkeypatch, capsys, "-model", str(tmp_path / "n.prototxt"))


def test_missing_model_flag(monkeypatch, capsys):
    assert "Need a model definition to time" in _one_line(monkeypatch, capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_without_a_gpu_suggests_cpu(monkeypatch, capsys):
    msg = _one_line(monkeypatch, capsys, "-model", str(LENET / "lenet_train_test.prototxt"), "-gpu", "0")
    assert "no CUDA GPU is available" in msg and "-gpu cpu" in msg
