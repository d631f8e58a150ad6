"""caffe.Net introspection against real pycaffe (fixtures/pycaffe/introspection, copied from the reference pack):
every field, in Caffe's order, split blobs included; container types and identities; constructor forms."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import caffe
from fer_caffe_compat.errors import CaffeError

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "pycaffe" / "introspection"
REF = json.loads((HERE / "introspection.json").read_text())


def describe(net) -> dict:
    """The same fields gen_introspection.py records."""
    return {
        "_blob_names": list(net._blob_names), "_layer_names": list(net._layer_names),
        "_inputs": list(net._inputs), "_outputs": list(net._outputs), "blobs_keys": list(net.blobs),
        "blob_shapes": {k: list(b.shape) for k, b in net.blobs.items()}, "params_keys": list(net.params),
        "param_shapes": {k: [list(b.shape) for b in v] for k, v in net.params.items()},
        "layer_types": [layer.type for layer in net.layers],
        "layer_blob_counts": [len(layer.blobs) for layer in net.layers],
        "inputs": list(net.inputs), "outputs": list(net.outputs),
        "top_names": {k: list(v) for k, v in net.top_names.items()},
        "bottom_names": {k: list(v) for k, v in net.bottom_names.items()},
        "top_names_keys_order": list(net.top_names),
        "_top_ids": [list(net._top_ids(i)) for i in range(len(net.layers))],
        "_bottom_ids": [list(net._bottom_ids(i)) for i in range(len(net.layers))],
        "blob_loss_weights": {k: float(v) for k, v in net.blob_loss_weights.items()},
        "blob_loss_weights_keys_order": list(net.blob_loss_weights),
        "_blob_loss_weights": [float(v) for v in net._blob_loss_weights],
        "layer_dict_keys": list(net.layer_dict), "layer_dict_types": {k: v.type for k, v in net.layer_dict.items()},
    }


CASES = [(name, phase) for name, phases in REF["nets"].items() for phase in phases]


@pytest.mark.parametrize("name,phase", CASES)
def test_introspection_matches_pycaffe(name, phase):
    kw = {"stages": ["extra"]} if phase == "TEST_stages_extra" else {}
    net = caffe.Net(str(HERE / f"{name}.prototxt"), caffe.TEST if phase.startswith("TEST") else caffe.TRAIN, **kw)
    got, want = describe(net), REF["nets"][name][phase]
    assert set(got) == set(want)
    for key in want:
        assert got[key] == want[key], f"{name} {phase} {key}: {got[key]} != {want[key]}"


def test_container_types_and_identities_match_pycaffe():
    net = caffe.Net(str(HERE / "convnet.prototxt"), caffe.TEST)
    ref = REF["python_types_and_identity"]
    got = {
        "type(net.blobs)": type(net.blobs).__name__, "type(net.params)": type(net.params).__name__,
        "type(net.params['conv1'])": type(net.params["conv1"]).__name__,
        "type(net.params['conv1'][0])": type(net.params["conv1"][0]).__name__,
        "type(net.blobs['data'])": type(net.blobs["data"]).__name__,
        "type(net.blobs['data'].shape)": type(net.blobs["data"].shape).__name__,
        "type(net.layers)": type(net.layers).__name__, "type(net.layers[0])": type(net.layers[0]).__name__,
        "type(net.layers[0].blobs)": type(net.layers[0].blobs).__name__,
        "type(net.inputs)": type(net.inputs).__name__, "type(net.outputs)": type(net.outputs).__name__,
        "type(net.top_names)": type(net.top_names).__name__,
        "type(net.top_names['conv1'])": type(net.top_names["conv1"]).__name__,
        "type(net.blob_loss_weights)": type(net.blob_loss_weights).__name__,
        "type(net.layer_dict)": type(net.layer_dict).__name__,
        "type(net.layers[0].type)": type(net.layers[0].type).__name__,
        "net.blobs is net.blobs": net.blobs is net.blobs, "net.params is net.params": net.params is net.params,
        "net.layer_dict is net.layer_dict": net.layer_dict is net.layer_dict,
        "net.blob_loss_weights is net.blob_loss_weights": net.blob_loss_weights is net.blob_loss_weights,
        "net.top_names is net.top_names": net.top_names is net.top_names,
        "net.params['conv1'] is net.params['conv1']": net.params["conv1"] is net.params["conv1"],
        "net.params['conv1'][0] is net.params['conv1'][0]": net.params["conv1"][0] is net.params["conv1"][0],
        "net.blobs['conv1'] is net.blobs['conv1']": net.blobs["conv1"] is net.blobs["conv1"],
        "net.layers[2] is net.layers[2]": net.layers[2] is net.layers[2],
        "net.layer_dict['conv1'] is net.layers[2]": net.layer_dict["conv1"] is net.layers[2],
        "net.params['conv1'] is net.layers[2].blobs": net.params["conv1"] is net.layers[2].blobs,
        "len(net.layers)": len(net.layers), "net.layers[2].type": net.layers[2].type,
        "net.params['conv1'][0].shape == [4, 3, 3, 3]": net.params["conv1"][0].shape == [4, 3, 3, 3],
        "net.params['conv1'][0].shape == (4, 3, 3, 3)": net.params["conv1"][0].shape == (4, 3, 3, 3),
        "list(net.blobs['data'].shape) == [4, 3, 8, 8]": list(net.blobs["data"].shape) == [4, 3, 8, 8],
        "tuple(net.blobs['data'].shape)": list(tuple(net.blobs["data"].shape)),
        "net.blobs['data'].data.shape": list(net.blobs["data"].data.shape),
        "net.blobs['loss'].data.shape (0-d)": list(net.blobs["loss"].data.shape),
        "net.blobs['label'].data.shape": list(net.blobs["label"].data.shape),
        "'split' blobs in net.blobs": [k for k in net.blobs if "split" in k],
        "hasattr(net, 'name')": hasattr(net, "name"), "hasattr(net, 'phase')": hasattr(net, "phase"),
        "net.params['conv1'][0].data.dtype": str(net.params["conv1"][0].data.dtype),
    }
    # StringVec (pycaffe's _layer_names/_blob_names) are plain lists here.
    assert got == {k: v for k, v in ref.items() if k in got}
    assert set(ref) - set(got) == {"type(net._layer_names)", "type(net._blob_names)"}


def test_every_constructor_form_works(tmp_path):
    path = str(HERE / "shared.prototxt")
    weights = str(tmp_path / "w.caffemodel")
    caffe.Net(path, caffe.TEST).save(weights)
    for net in (caffe.Net(path, caffe.TEST), caffe.Net(path, phase=caffe.TEST),
                caffe.Net(path, caffe.TEST, weights=weights), caffe.Net(path, weights, caffe.TEST),
                caffe.Net(path, caffe.TEST, level=1, stages=["a"])):
        assert list(net.params) == ["ip_a", "ip_b"]


@pytest.mark.parametrize("call,error,message", [
    (lambda p: caffe.Net(p), TypeError, "phase .* is required"),
    (lambda p: caffe.Net("missing.prototxt", caffe.TEST), CaffeError, "Could not open file missing.prototxt"),
    (lambda p: caffe.Net(p, caffe.TEST, weights="missing.caffemodel"), CaffeError,
     "Could not open file missing.caffemodel"),
    (lambda p: caffe.Net(p, 5), ValueError, "phase must be caffe.TRAIN"),
])
def test_bad_constructor_is_one_clear_exception(call, error, message):
    with pytest.raises(error, match=message):
        call(str(HERE / "shared.prototxt"))


@pytest.mark.parametrize("text,message", [
    ('name: "x"\nlayer { name: "a" type: "Input" top: "a" input_param { shape { dim: 1 } }\n', r"x\.prototxt"),
    ('layer { name: "a" type: "Input" top: "a" input_param { shape { dim: 1 } } }\n'
     'layer { name: "b" type: "NoSuchType" bottom: "a" top: "b" }\n', r"layer b: unknown layer type 'NoSuchType'"),
    ('layer { name: "b" type: "ReLU" bottom: "nope" top: "b" }\n', r"layer b: unknown bottom blob 'nope'"),
])
def test_what_aborts_caffe_raises_one_line_here(tmp_path, text, message):
    path = tmp_path / "x.prototxt"
    path.write_text(text)
    with pytest.raises(CaffeError, match=message) as e:
        caffe.Net(str(path), caffe.TEST)
    assert "\n" not in str(e.value)
