"""Python layers against real pycaffe (fixtures/pycaffe/python_layers: pylayers.py records every call):
call traces, numbers, learnable blobs added in setup, loss weights, errors; a Python loss's gradient
against finite differences; tools/export refusing a Python layer."""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import caffe
from fer_caffe_compat.errors import CaffeError

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "pycaffe" / "python_layers"
J = json.loads((HERE / "python_layers.json").read_text())
R = dict(np.load(HERE / "python_layers.npz"))
ITERATE = "for b in top: ..."  # pycaffe's RawBlobVec cannot be iterated (a boost accident); here it can


@pytest.fixture()
def pylayers(monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    sys.modules.pop("pylayers", None)
    import pylayers

    yield pylayers
    sys.modules.pop("pylayers", None)


def trace(t: list) -> list:
    out = copy.deepcopy(t)
    for _, info in out:
        info.pop(ITERATE, None)
    return json.loads(json.dumps(out))


def pynet(phase=caffe.TRAIN, name="pynet"):
    return caffe.Net(str(HERE / f"{name}.prototxt"), phase, weights=str(HERE / "pynet_init.caffemodel"))


def close(got, want, what):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5, err_msg=what)


@pytest.mark.parametrize("phase,key", [(caffe.TRAIN, "trace_net_construction_TRAIN"),
                                       (caffe.TEST, "trace_net_construction_TEST")])
def test_construction_calls_setup_then_reshape(pylayers, phase, key):
    del pylayers.TRACE[:]
    pynet(phase)
    assert trace(pylayers.TRACE) == trace(J[key])
    assert pylayers.TRACE[0][1][ITERATE] == "ok: 2"


def test_forward_backward_and_introspection_match_pycaffe(pylayers):
    net = pynet()
    intro = J["net_TRAIN"]
    assert [layer.type for layer in net.layers] == intro["layer_types"]
    assert list(net.params) == intro["params_keys"] and dict(net.blob_loss_weights) == intro["blob_loss_weights"]
    assert {k: list(b.shape) for k, b in net.blobs.items()} == intro["blob_shapes"]
    close([b.data for b in net.params["scale"]][0], intro["params['scale'] after loading weights (file overrides setup values)"][0], "scale")
    layer = net.layers[0]
    assert type(layer).__name__ == "DataLayer" and net.layers[0] is layer and isinstance(layer, caffe.Layer)
    assert (layer.counter, layer.param_str, layer.phase) == (0, intro["net.layers[0].param_str"], 0)
    assert type(net.layer_dict["scale"]).__name__ == "LearnableScale" and net.layers[2].type == "Python"
    del pylayers.TRACE[:]
    assert sorted(net.forward()) == J["forward() keys"]
    assert trace(pylayers.TRACE) == trace(J["trace_forward"])
    for k, b in net.blobs.items():
        close(b.data, R["net/forward/data/" + k], "forward " + k)
    del pylayers.TRACE[:]
    assert sorted(net.backward()) == J["backward() keys"]
    assert trace(pylayers.TRACE) == trace(J["trace_backward"])
    for k, b in net.blobs.items():
        close(b.diff, R["net/backward/diff/" + k], "diff " + k)
    for k, v in net.params.items():
        for i, b in enumerate(v):
            close(b.diff, R[f"net/backward/param_diff/{k}/{i}"], f"param diff {k}/{i}")
            close(b.data, R[f"net/param/{k}/{i}"], f"param {k}/{i}")
    del pylayers.TRACE[:]
    net.forward()
    assert trace(pylayers.TRACE) == trace(J["trace_second_forward"])
    close(net.blobs["data"].data, R["net/forward2/data/data"], "second batch")
    close(net.blobs["loss"].data, R["net/forward2/data/loss"], "second loss")


def test_without_loss_weight_a_python_loss_is_not_a_loss(pylayers):
    net = pynet(name="pynet_no_loss_weight")
    net.forward()
    net.backward()
    assert dict(net.blob_loss_weights) == J["no loss_weight: blob_loss_weights"]
    assert net.outputs == J["no loss_weight: outputs"]
    assert net.blobs["loss"].diff.tolist() == J["no loss_weight: loss blob diff"]
    assert sum(np.abs(b.diff).sum() for v in net.params.values() for b in v) == 0


def test_python_loss_gradient_matches_finite_differences(pylayers):
    net = pynet()
    net.forward()
    net.backward()
    analytic = net.params["scale"][0].diff.copy()
    data, target = net.blobs["data"].data.copy(), net.blobs["target"].data.copy()
    w = net.params["scale"][0].data
    eps = 1e-2
    for j in range(w.size):
        losses = []
        for sign in (1, -1):
            w[j] += sign * eps
            net.blobs["data"].data[...], net.blobs["target"].data[...] = data, target
            losses.append(float(net.forward(start="ip")["loss"][0]))
            w[j] -= sign * eps
        assert (losses[0] - losses[1]) / (2 * eps) == pytest.approx(analytic[j], rel=2e-3, abs=1e-4)


@pytest.mark.parametrize("layer,error,message", [
    ("python_param { module: 'no_such_module' layer: 'X' }", CaffeError,
     r"layer p \(Python\): cannot import module 'no_such_module'"),
    ("python_param { module: 'pylayers' layer: 'NoSuchLayer' }", CaffeError,
     r"layer p \(Python\): module 'pylayers' .* has no class 'NoSuchLayer'"),
    ("python_param { module: 'json' layer: 'JSONDecoder' }", CaffeError,
     r"layer p \(Python\): json\.JSONDecoder is not a subclass of caffe\.Layer"),
])
def test_bad_python_layer_is_one_exception_naming_layer_and_module(pylayers, tmp_path, layer, error, message):
    path = tmp_path / "e.prototxt"
    path.write_text("layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 } } }\n"
                    f"layer {{ name: 'p' type: 'Python' bottom: 'x' top: 'y' {layer} }}\n")
    with pytest.raises(error, match=message) as e:
        caffe.Net(str(path), caffe.TEST)
    assert "\n" not in str(e.value)


def test_user_exceptions_reach_the_caller_unchanged(pylayers, tmp_path):
    path = tmp_path / "e.prototxt"
    base = "layer { name: 'in' type: 'Input' top: 'x' input_param { shape { dim: 2 dim: 3 } } }\n"
    path.write_text(base + "layer { name: 'p' type: 'Python' top: 'a' top: 'b' python_param { module: 'pylayers' "
                    "layer: 'DataLayer' param_str: 'not json' } }\n")
    with pytest.raises(json.JSONDecodeError):
        caffe.Net(str(path), caffe.TEST)
    path.write_text(base + "layer { name: 'p' type: 'Python' bottom: 'x' top: 'y' python_param { module: 'pylayers' "
                    "layer: 'RaisesInForward' } }\n")
    net = caffe.Net(str(path), caffe.TEST)
    with pytest.raises(ValueError, match="raised inside forward"):
        net.forward()


def test_export_refuses_a_python_layer(pylayers):
    from fer_caffe_compat.export.module import check_exportable

    with pytest.raises(CaffeError, match=r"layer data \(Python pylayers\.DataLayer\): cannot be exported") as e:
        check_exportable(pynet(caffe.TEST)._net)
    assert "\n" not in str(e.value)


def test_tools_export_refuses_a_deploy_net_with_a_python_layer(pylayers, tmp_path, capsys):
    from fer_caffe_compat.cli import export

    deploy = tmp_path / "deploy.prototxt"
    deploy.write_text("layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: 1 dim: 5 dim: 1 } } }\n"
                      "layer { name: 'ip' type: 'InnerProduct' bottom: 'data' top: 'ip' "
                      "inner_product_param { num_output: 3 } }\n"
                      "layer { name: 'scale' type: 'Python' bottom: 'ip' top: 'scaled' "
                      "python_param { module: 'pylayers' layer: 'LearnableScale' } }\n"
                      "layer { name: 'prob' type: 'Softmax' bottom: 'scaled' top: 'prob' }\n")
    weights = tmp_path / "w.caffemodel"
    caffe.Net(str(deploy), caffe.TEST).save(str(weights))
    with pytest.raises(CaffeError, match=r"layer scale \(Python pylayers\.LearnableScale\): cannot be exported"):
        export.main(["--model", str(deploy), "--weights", str(weights), "--onnx", str(tmp_path / "m.onnx")])
    assert not (tmp_path / "m.onnx").exists()
