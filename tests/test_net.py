"""The net builder against Caffe: the zoo end to end, gradients, LeNet's first SGD step, the init log,
saved weights byte for byte, and the graph rules (include/exclude, splits, in-place, sharing, losses)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fer_caffe_compat import log
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.layers import register
from fer_caffe_compat.layers.base import Layer
from fer_caffe_compat.net import Net, insert_splits
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt
from tests.conftest import FIXTURES
from tests.layers.zoo import assert_close_to_caffe

ZOO = FIXTURES / "layers"
LENET = FIXTURES / "lenet"
TRACES = FIXTURES / "net"

with np.load(ZOO / "zoo_blobs.npz", allow_pickle=False) as _z:
    ZOO_TOPS = sorted(k for k in _z.files if "/" not in k and k != "input")
with np.load(ZOO / "zoo_param_grads.npz", allow_pickle=False) as _z:
    ZOO_GRAD_KEYS = sorted(_z.files)


def _build_zoo(phase: int) -> tuple[Net, dict[str, torch.Tensor]]:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ZOO)
        net = Net.from_file("zoo.prototxt", phase=phase)
        net.copy_trained_layers_from("zoo.caffemodel")
        return net, net.forward()


@pytest.fixture(scope="module")
def zoo_test():
    return _build_zoo(caffe_pb2.TEST)


@pytest.fixture(scope="module")
def zoo_train_grads():
    net, out = _build_zoo(caffe_pb2.TRAIN)
    loss = net.total_loss(out)
    loss.backward()
    grads = {f"{p.layer_name}/{p.blob_index}":
             (p.param.grad if p.param.grad is not None else torch.zeros_like(p.param)) for p in net.learnable_params}
    return loss.item(), grads


def net_from_text(text: str, **kw) -> Net:
    return Net(parse_prototxt(text, caffe_pb2.NetParameter(), "test.prototxt"), **kw)


# ------------------------------------------------------------------------------- Caffe's numbers
@pytest.mark.parametrize("blob", ZOO_TOPS)
def test_zoo_top_blob_matches_caffe(zoo_test, blob):
    _, out = zoo_test
    with np.load(ZOO / "zoo_blobs.npz", allow_pickle=False) as z:
        assert_close_to_caffe(blob, out[blob], z[blob])


def test_zoo_total_loss_matches_caffe(zoo_test):
    net, out = zoo_test
    manifest = json.loads((ZOO / "zoo_manifest.json").read_text())
    assert net.total_loss(out).item() == pytest.approx(manifest["total_loss_caffe_train_iter0"], rel=1e-5)
    assert net.loss_weights == {"loss_sm": 1, "loss_sm_ign": 0.5, "loss_euc": 1, "loss_sce": 1,
                                "loss_hinge": 1, "loss_contr": 1, "loss_info": 1, "loss_mnl": 1}


@pytest.mark.parametrize("key", ZOO_GRAD_KEYS)
def test_zoo_param_gradient_matches_caffe(zoo_train_grads, key):
    loss, grads = zoo_train_grads
    assert loss == pytest.approx(78.719, rel=1e-5)
    with np.load(ZOO / "zoo_param_grads.npz", allow_pickle=False) as z:
        caffe = z[key]
    ours = grads[key].reshape(caffe.shape)
    if not np.abs(caffe).max() > 0:
        assert float(ours.abs().max()) == 0.0, f"{key}: Caffe's gradient is 0, ours max |g| {ours.abs().max()}"
    else:
        assert_close_to_caffe(key, ours, caffe, rtol=2e-6)


def test_lenet_first_sgd_step_reproduces_caffe_losses(monkeypatch):
    """Iteration 0's loss, then w -= lr * (g + wd * w) (SGD, empty momentum history) and the loss of
    iteration 1 on the next batch: both as in Caffe's lenet_train.log (losses.tsv)."""
    monkeypatch.chdir(LENET)
    losses = np.genfromtxt("losses.tsv", names=True, delimiter="\t")
    net = Net.from_file("lenet_train_test.prototxt", phase=caffe_pb2.TRAIN)
    net.copy_trained_layers_from("lenet_iter_0.caffemodel")
    loss0 = net.total_loss(net.forward())
    loss0.backward()
    with torch.no_grad():
        for lp in net.learnable_params:
            lp.param -= 0.01 * lp.lr_mult * (lp.param.grad + 0.0005 * lp.decay_mult * lp.param)
    loss1 = net.total_loss(net.forward())
    assert loss0.item() == pytest.approx(losses["loss"][0], rel=1e-5)
    assert loss1.item() == pytest.approx(losses["loss"][1], rel=1e-5)
    assert [(p.layer_name, p.blob_index) for p in net.learnable_params] == [
        ("conv1", 0), ("conv1", 1), ("conv2", 0), ("conv2", 1), ("ip1", 0), ("ip1", 1), ("ip2", 0), ("ip2", 1)]


def test_saved_caffemodel_is_byte_identical_to_caffes(tmp_path, monkeypatch):
    """Net::ToProto: every layer (splits included, with phase and the loss layers' default weight)
    and its blobs; loading zoo.caffemodel and saving it again gives Caffe's own bytes."""
    monkeypatch.chdir(ZOO)
    net = Net.from_file("zoo.prototxt", phase=caffe_pb2.TRAIN)
    net.copy_trained_layers_from("zoo.caffemodel")
    net.save_caffemodel(tmp_path / "again.caffemodel")
    assert (tmp_path / "again.caffemodel").read_bytes() == (ZOO / "zoo.caffemodel").read_bytes()


def test_lenet_saved_caffemodel_is_byte_identical(tmp_path, monkeypatch):
    monkeypatch.chdir(LENET)
    net = Net.from_file("lenet_train_test.prototxt", phase=caffe_pb2.TRAIN)
    net.copy_trained_layers_from("lenet_iter_0.caffemodel")
    assert net.to_net_parameter().SerializeToString() == Path("lenet_iter_0.caffemodel").read_bytes()


def test_write_diff_stores_gradients(tmp_path, monkeypatch):
    monkeypatch.chdir(LENET)
    net = Net.from_file("lenet_train_test.prototxt", phase=caffe_pb2.TRAIN)
    net.total_loss(net.forward()).backward()
    p = net.to_net_parameter(write_diff=True)
    conv1 = next(l for l in p.layer if l.name == "conv1")
    g = net.layer_by_name("conv1").blobs[0].grad.numpy().ravel()
    np.testing.assert_array_equal(np.asarray(conv1.blobs[0].diff, np.float32), g)


# ------------------------------------------------------------------------------- the init log
def _trace(build) -> list[str]:
    lines: list[str] = []
    old = log._emit

    def grab(sev, src, msg):
        if src.startswith("net.cpp") and src != "net.cpp:53" and not src.startswith("net.cpp:29"):
            lines.append(f"{src}] {msg}")
    log._emit = grab
    try:
        build()
    finally:
        log._emit = old
    return lines


@pytest.mark.parametrize("folder,prototxt,phase,trace", [
    (ZOO, "zoo.prototxt", caffe_pb2.TEST, "zoo_test_init_trace.txt"),
    (LENET, "lenet_train_test.prototxt", caffe_pb2.TRAIN, "lenet_train_init_trace.txt"),
    (LENET, "lenet_train_test.prototxt", caffe_pb2.TEST, "lenet_test_init_trace.txt"),
])
def test_init_log_matches_caffe_line_by_line(monkeypatch, folder, prototxt, phase, trace):
    """Creating Layer / <- / -> / Setting up / Top shape / with loss weight / Memory required /
    needs backward / produces output / Network initialization done: the lines of Caffe's logs
    (zoo_extract_features.log, lenet_train.log) with the timestamps cut off."""
    monkeypatch.chdir(folder)
    ours = _trace(lambda: Net.from_file(prototxt, phase=phase))
    caffe = (TRACES / trace).read_text().splitlines()
    for i, (a, b) in enumerate(zip(ours, caffe)):
        assert a == b, f"{trace} line {i + 1}: ours {a!r}, Caffe {b!r}"
    assert len(ours) == len(caffe)


def test_top_shape_line_format():
    lines = _trace(lambda: net_from_text(
        'layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 64 dim: 20 dim: 44 dim: 44 } } }'))
    assert "net.cpp:131] Top shape: 64 20 44 44 (2478080)" in lines
    assert "net.cpp:139] Memory required for data: 9912320" in lines


# ------------------------------------------------------------------------------- test-only layers
@register("TestScaleBy2")
class _ScaleBy2(Layer):
    """y = 2 x; with ``param {}`` a learnable scalar w: y = w * x (w filled with 3)."""

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.top_shapes = [bottom_shapes[0]] * max(1, len(param.top))
        if len(param.param):
            self.add_blob((1,), caffe_pb2.FillerParameter(type="constant", value=3))

    def forward(self, x):
        k = self.blobs[0] if len(self.blobs) else 2.0
        return [x * k for _ in self.top_shapes]


@register("TestSumLoss")
class _SumLoss(Layer):
    is_loss = True

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.top_shapes = [()]

    def forward(self, *xs):
        return [sum(x.sum() for x in xs)]


_IN = 'layer { name: "in" type: "Input" top: "x" input_param { shape { dim: 2 dim: 3 } } }\n'


def test_in_place_top_holds_the_final_value():
    net = net_from_text(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" }\n'
                              'layer { name: "b" type: "TestScaleBy2" bottom: "y" top: "y" }\n')
    out = net.forward({"x": np.ones((2, 3))})
    assert out["y"].tolist() == [[4.0] * 3] * 2
    assert net.output_names == ["y"]


def test_blob_used_twice_gets_caffes_split_and_summed_gradient():
    net = net_from_text(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" param { } }\n'
                              'layer { name: "l1" type: "TestSumLoss" bottom: "y" top: "l1" }\n'
                              'layer { name: "l2" type: "TestSumLoss" bottom: "y" top: "l2" loss_weight: 0.5 }\n')
    assert net.layer_names == ["in", "a", "y_a_0_split", "l1", "l2"]
    assert net.bottom_names[3] == ["y_a_0_split_0"] and net.bottom_names[4] == ["y_a_0_split_1"]
    out = net.forward({"x": np.ones((2, 3))})
    net.total_loss(out).backward()
    # d/dw of (1 + 0.5) * sum(w * x) = 1.5 * 6
    assert net.layer_by_name("a").blobs[0].grad.item() == pytest.approx(9.0)
    assert net.total_loss(out).item() == pytest.approx(1.5 * 3 * 6)


def test_insert_splits_moves_a_loss_weight_onto_the_split():
    p = parse_prototxt(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" loss_weight: 2 }\n'
                             'layer { name: "b" type: "TestScaleBy2" bottom: "y" top: "z" }\n',
                       caffe_pb2.NetParameter())
    layers, splits = insert_splits(p)
    assert [l.name for l in layers] == ["in", "a", "y_a_0_split", "b"] and splits == {2}
    assert list(layers[1].loss_weight) == [] and list(layers[2].loss_weight) == [2.0, 0.0]
    assert layers[3].bottom[0] == "y_a_0_split_1"


def test_loss_weight_on_a_non_loss_layer_counts_in_total_loss():
    net = net_from_text(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" loss_weight: 0.25 }\n')
    out = net.forward({"x": np.full((2, 3), 2.0)})
    assert net.loss_weights == {"y": 0.25}
    assert net.total_loss(out).item() == pytest.approx(0.25 * 4 * 6)


def test_loss_layer_defaults_to_weight_one_on_first_top():
    net = net_from_text(_IN + 'layer { name: "l" type: "TestSumLoss" bottom: "x" top: "l" }\n')
    assert net.loss_weights == {"l": 1.0}


def test_shared_params_use_one_parameter_and_sum_gradients():
    net = net_from_text(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" param { name: "w" lr_mult: 2 } }\n'
                              'layer { name: "b" type: "TestScaleBy2" bottom: "y" top: "z" param { name: "w" } }\n'
                              'layer { name: "l" type: "TestSumLoss" bottom: "z" top: "l" }\n')
    a, b = net.layer_by_name("a"), net.layer_by_name("b")
    assert a.blobs[0] is b.blobs[0]
    assert len(net.learnable_params) == 1
    lp = net.learnable_params[0]
    assert (lp.layer_name, lp.blob_index, lp.name, lp.lr_mult, lp.decay_mult) == ("a", 0, "w", 2.0, 1.0)
    net.total_loss(net.forward({"x": np.ones((2, 3))})).backward()
    # loss = sum(w^2 x) -> d/dw = 2 w * 6 = 36 for w = 3: the sum of both layers' gradients (w x each)
    assert lp.param.grad.item() == pytest.approx(36.0)
    net.double()
    assert a.blobs[0] is b.blobs[0] is net.learnable_params[0].param and lp.param.dtype == torch.float64


def test_shared_param_shape_mismatch_is_an_error():
    with pytest.raises(CaffeError, match=r"layer b: shared parameter 'w' has shape .*"):
        net_from_text(
            'layer { name: "in" type: "Input" top: "x" top: "u" input_param { shape { dim: 2 dim: 5 } } }\n'
            'layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" param { name: "w" } '
            'inner_product_param { num_output: 3 } }\n'
            'layer { name: "b" type: "InnerProduct" bottom: "u" top: "z" param { name: "w" } '
            'inner_product_param { num_output: 4 } }\n')


def test_lr_mult_zero_freezes_the_parameter():
    net = net_from_text(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" param { lr_mult: 0 decay_mult: 0 } }\n'
                              'layer { name: "l" type: "TestSumLoss" bottom: "y" top: "l" }\n')
    lp = net.learnable_params[0]
    assert (lp.lr_mult, lp.decay_mult, lp.param.requires_grad) == (0.0, 0.0, False)


def test_propagate_down_false_stops_the_gradient_into_that_bottom():
    text = ('layer { name: "in" type: "Input" top: "x" top: "t" input_param { shape { dim: 2 dim: 3 } } }\n'
            'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" param { } }\n'
            'layer { name: "b" type: "TestScaleBy2" bottom: "t" top: "u" param { } }\n'
            'layer { name: "l" type: "TestSumLoss" bottom: "y" bottom: "u" top: "l" PD }\n')
    grads = []
    for pd in ("propagate_down: true propagate_down: true", "propagate_down: true propagate_down: false"):
        net = net_from_text(text.replace("PD", pd))
        net.total_loss(net.forward({"x": np.ones((2, 3)), "t": np.ones((2, 3))})).backward()
        g = net.layer_by_name("b").blobs[0].grad
        grads.append(0.0 if g is None else g.item())
    assert grads == [6.0, 0.0]


def test_include_exclude_phase_stage_and_level():
    text = _IN + (
        'layer { name: "train" type: "TestScaleBy2" bottom: "x" top: "a" include { phase: TRAIN } }\n'
        'layer { name: "test" type: "TestScaleBy2" bottom: "x" top: "b" include { phase: TEST } }\n'
        'layer { name: "deploy" type: "TestScaleBy2" bottom: "x" top: "c" include { stage: "deploy" } }\n'
        'layer { name: "notdeploy" type: "TestScaleBy2" bottom: "x" top: "d" include { not_stage: "deploy" } }\n'
        'layer { name: "lvl" type: "TestScaleBy2" bottom: "x" top: "e" include { min_level: 1 max_level: 2 } }\n'
        'layer { name: "ex" type: "TestScaleBy2" bottom: "x" top: "f" exclude { phase: TEST stage: "x" } }\n')
    names = lambda **kw: [n for n in net_from_text(text, **kw).layer_names if "split" not in n][1:]
    assert names(phase=caffe_pb2.TRAIN) == ["train", "notdeploy", "ex"]
    assert names(phase=caffe_pb2.TEST) == ["test", "notdeploy", "ex"]
    assert names(phase=caffe_pb2.TEST, stages=["deploy"]) == ["test", "deploy", "ex"]
    assert names(phase=caffe_pb2.TEST, stages=["x"], level=1) == ["test", "notdeploy", "lvl"]
    assert names(phase=caffe_pb2.TEST, level=3) == ["test", "notdeploy", "ex"]


def test_net_state_from_the_param_is_honoured():
    p = parse_prototxt('state { phase: TRAIN stage: "deploy" }\n' + _IN +
                       'layer { name: "t" type: "TestScaleBy2" bottom: "x" top: "a" include { phase: TRAIN stage: "deploy" } }',
                       caffe_pb2.NetParameter())
    assert Net(p).layer_names == ["in", "t"]
    assert Net(p, phase=caffe_pb2.TEST).layer_names == ["in"]


def test_include_and_exclude_together_is_an_error():
    with pytest.raises(CaffeError, match="layer t: specify either include rules or exclude rules"):
        net_from_text(_IN + 'layer { name: "t" type: "TestScaleBy2" bottom: "x" top: "a" '
                            'include { phase: TRAIN } exclude { phase: TEST } }')


def test_outputs_are_sorted_like_caffes_set(monkeypatch):
    monkeypatch.chdir(LENET)
    net = Net.from_file("lenet_train_test.prototxt", phase=caffe_pb2.TEST)
    assert net.output_names == ["accuracy", "loss"]
    assert net.blob_shapes["ip2"] == (10, 7) and net.blob_shapes["loss"] == ()


def test_feeding_a_blob_that_is_not_an_input_is_an_error():
    net = net_from_text(_IN + 'layer { name: "a" type: "TestScaleBy2" bottom: "x" top: "y" }')
    with pytest.raises(CaffeError, match="'y' is not an input blob"):
        net.forward({"y": np.ones((2, 3))})


def test_net_runs_in_float64():
    net = net_from_text(_IN + 'layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" '
                              'inner_product_param { num_output: 2 weight_filler { type: "gaussian" } } }').double()
    out = net.forward({"x": np.ones((2, 3))})
    assert out["y"].dtype == torch.float64 and out["x"].dtype == torch.float64


def test_meta_device_builds_without_allocating():
    net = net_from_text(_IN + 'layer { name: "a" type: "InnerProduct" bottom: "x" top: "y" '
                              'inner_product_param { num_output: 100000 weight_filler { type: "xavier" } } }',
                        device="meta")
    assert net.layer_by_name("a").blobs[0].is_meta
    assert net.blob_shapes["y"] == (2, 100000)


# ------------------------------------------------------------------------------- devices
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_zoo_on_cuda_matches_caffe(monkeypatch):
    monkeypatch.chdir(ZOO)
    net = Net.from_file("zoo.prototxt", phase=caffe_pb2.TEST)
    net.copy_trained_layers_from("zoo.caffemodel")
    out = net.to("cuda").forward()
    with np.load("zoo_blobs.npz", allow_pickle=False) as z:
        for blob in ZOO_TOPS:
            assert out[blob].device.type == "cuda"
            assert_close_to_caffe(blob, out[blob], z[blob], rtol=1e-4)
