"""nets/zoo: every model folder holds train_val, deploy and solver prototxts with a header, and its nets have
the top shapes and parameter counts computed by hand from the write-ups (tests/zoo/expected.py).

Nets are built on torch's meta device: shapes and parameters without memory, so ResNet-50 costs nothing.
"""
from __future__ import annotations

import pytest

from fer_caffe_compat.net import Net, load_net_param
from fer_caffe_compat.proto import caffe_pb2
from fer_caffe_compat.solver.lr_policy import check_policy
from fer_caffe_compat.solver.updates import solver_type

from .expected import ZOO
from .zoo_nets import MODELS, ZOO_DIR, solver_param, train_val, with_infogain, with_inputs


def _count(net: Net) -> int:
    return sum(p.param.numel() for p in net.learnable_params)


def test_every_zoo_folder_has_hand_computed_values():
    assert MODELS and MODELS == sorted(ZOO), "add the new model's shapes and counts to tests/zoo/expected.py"


@pytest.mark.parametrize("name", MODELS)
def test_zoo_folder_holds_three_files_each_with_a_header(name):
    for f in ("train_val.prototxt", "deploy.prototxt", "solver.prototxt"):
        text = (ZOO_DIR / name / f).read_text()
        assert text.startswith("# ") and text.count("\n# ") >= 3, f"{name}/{f}: no header comment"


@pytest.mark.parametrize("name", MODELS)
def test_zoo_solver_is_valid_and_names_its_own_net(name):
    p = solver_param(name)
    check_policy(p, name)
    assert solver_type(p, name) in ("SGD", "RMSProp", "Adam")
    assert p.net == f"nets/zoo/{name}/train_val.prototxt"
    assert p.snapshot_prefix == f"snapshots/zoo/{name}"
    assert len(p.test_iter) == 1 and p.test_interval > 0 and p.max_iter > p.test_interval


@pytest.mark.parametrize("name", MODELS)
def test_zoo_train_val_top_shapes_and_parameter_count(name, tmp_path):
    e = ZOO[name]
    param = with_infogain(with_inputs(train_val(name), e["input"], 2), tmp_path / "h.binaryproto", e["classes"])
    for phase in (caffe_pb2.TRAIN, caffe_pb2.TEST):
        net = Net(param, phase=phase, device="meta")
        shapes = {**e["shapes"], **e.get("train_shapes", {})}
        for blob, shape in shapes.items():
            assert net.blob_shapes[blob] == (2, *shape), f"{name} {blob}: {net.blob_shapes[blob]} != {shape}"
        assert _count(net) == e.get("train_params", e["params"]), name
        if phase == caffe_pb2.TEST:
            assert any("accuracy" in o or "top-1" in o for o in net.output_names), net.output_names


@pytest.mark.parametrize("name", MODELS)
def test_zoo_deploy_top_shapes_parameter_count_and_prob(name):
    e = ZOO[name]
    net = Net.from_file(ZOO_DIR / name / "deploy.prototxt", phase=caffe_pb2.TEST, device="meta")
    assert net.blob_shapes["data"] == (1, *e["input"])
    for blob, shape in e["shapes"].items():
        assert net.blob_shapes[blob] == (1, *shape), f"{name} {blob}: {net.blob_shapes[blob]} != {shape}"
    assert net.output_names == ["prob"] and net.blob_shapes["prob"] == (1, e["classes"])
    assert _count(net) == e["params"]


@pytest.mark.parametrize("name", MODELS)
def test_zoo_caffe_count_is_keras_summary_plus_one_factor_per_batchnorm(name):
    e = ZOO[name]
    layers = train_val(name).layer
    assert sum(lp.type == "BatchNorm" for lp in layers) == e["batchnorm"]
    if e["keras"] is not None:
        assert e["params"] - e["batchnorm"] == e["keras"]


def test_cnn2x2_pad_and_crop_is_keras_same_padding():
    """Keras 'same' with a 2x2 kernel pads 0 before and 1 after; pad 1 + Crop at offset 1 is that window."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    net = Net.from_file(ZOO_DIR / "cnn2x2" / "deploy.prototxt", phase=caffe_pb2.TEST)
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 1, 48, 48)).astype(np.float32))
    out = net.forward({"data": x})
    conv = net.layer_by_name("conv1")
    w, b = conv.blobs[0].detach(), conv.blobs[1].detach()
    keras = F.conv2d(F.pad(x, (0, 1, 0, 1)), w, b)
    assert torch.allclose(out["conv1"], torch.relu(keras), atol=1e-6)



@pytest.mark.parametrize("form", ["train_val", "deploy"])
def test_jh_v5_is_the_write_ups_code_263944_parameters_on_one_grey_channel(form):
    """Convolution2D(32, 8, 8, input_shape=(1, 150, 150)), (32, 5, 5), (64, 3, 3), (64, 2, 2), Dense 64, Dense 8."""
    param = train_val("jh_v5") if form == "train_val" else load_net_param(ZOO_DIR / "jh_v5" / "deploy.prototxt")
    convs = [(lp.convolution_param.num_output, lp.convolution_param.kernel_size[0])
             for lp in param.layer if lp.type == "Convolution"]
    assert convs == [(32, 8), (32, 5), (64, 3), (64, 2)]
    assert [lp.inner_product_param.num_output for lp in param.layer if lp.type == "InnerProduct"] == [64, 8]
    assert not any(lp.type == "Dropout" for lp in param.layer)
    if form == "train_val":
        param = with_inputs(param, (1, 150, 150), 1)
    net = Net(param, phase=caffe_pb2.TEST, device="meta")
    assert net.blob_shapes["data"] == (1, 1, 150, 150)
    assert _count(net) == 263_944


def test_jh_v5_solver_is_rmsprop_with_keras_1_defaults():
    p = solver_param("jh_v5")
    assert (p.type, p.momentum, p.weight_decay) == ("RMSProp", 0.0, 0.0)
    assert (p.base_lr, p.rms_decay, p.delta) == pytest.approx((0.001, 0.9, 1e-8))  # float fields
