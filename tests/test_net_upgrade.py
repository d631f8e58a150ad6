"""Caffe's legacy V1 nets (`layers {}`, `input:`/`input_dim:`, V1 data-layer fields) and their weights, as
UpgradeNetAsNeeded reads them."""
from __future__ import annotations

import numpy as np
import torch

from fer_caffe_compat.net import Net, load_net_param
from fer_caffe_compat.proto import caffe_pb2



# ------------------------------------------------------------------------------- V1 upgrade
V1_NET = """name: "v1"
input: "data"
input_dim: 2 input_dim: 1 input_dim: 8 input_dim: 8
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv" blobs_lr: 1 blobs_lr: 2
  weight_decay: 1 weight_decay: 0 param: "cw"
  convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
layers { name: "pool" type: POOLING bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layers { name: "ip" type: INNER_PRODUCT bottom: "pool" top: "ip" inner_product_param { num_output: 4 } }
layers { name: "prob" type: SOFTMAX bottom: "ip" top: "prob" include { phase: TEST } }
"""
MODERN_NET = """name: "v1"
layer { name: "input" type: "Input" top: "data" input_param { shape { dim: 2 dim: 1 dim: 8 dim: 8 } } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  param { name: "cw" lr_mult: 1 decay_mult: 1 } param { lr_mult: 2 decay_mult: 0 }
  convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip" type: "InnerProduct" bottom: "pool" top: "ip" inner_product_param { num_output: 4 } }
layer { name: "prob" type: "Softmax" bottom: "ip" top: "prob" include { phase: TEST } }
"""


def test_v1_net_upgrades_to_its_modern_twin(tmp_path):
    (tmp_path / "v1.prototxt").write_text(V1_NET)
    (tmp_path / "new.prototxt").write_text(MODERN_NET)
    assert load_net_param(tmp_path / "v1.prototxt") == load_net_param(tmp_path / "new.prototxt")
    old, new = Net.from_file(tmp_path / "v1.prototxt"), Net.from_file(tmp_path / "new.prototxt")
    new.copy_trained_layers_from(old.to_net_parameter())
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8))
    torch.testing.assert_close(old.forward({"data": x})["prob"], new.forward({"data": x})["prob"])
    assert [(p.lr_mult, p.decay_mult, p.name) for p in old.learnable_params][:2] == [(1, 1, "cw"), (2, 0, "")]
    assert old.blob_shapes == new.blob_shapes


def test_v1_caffemodel_weights_load(tmp_path):
    """A V1 .caffemodel (``layers`` with blobs in legacy 4-D shape) is upgraded before copying."""
    (tmp_path / "v1.prototxt").write_text(V1_NET)
    net = Net.from_file(tmp_path / "v1.prototxt")
    old = caffe_pb2.NetParameter(name="v1")
    v1 = old.layers.add(name="ip", type=caffe_pb2.V1LayerParameter.INNER_PRODUCT)
    w = np.arange(4 * 27, dtype=np.float32)
    b1 = v1.blobs.add(num=1, channels=1, height=4, width=27)
    b1.data.extend(w)
    b2 = v1.blobs.add(num=1, channels=1, height=1, width=4)
    b2.data.extend([1, 2, 3, 4])
    (tmp_path / "v1.caffemodel").write_bytes(old.SerializeToString())
    net.copy_trained_layers_from(tmp_path / "v1.caffemodel")
    np.testing.assert_array_equal(net.layer_by_name("ip").blobs[0].detach().numpy(), w.reshape(4, 27))


def test_v1_data_layer_moves_scale_and_mean_into_transform_param(tmp_path):
    (tmp_path / "v1.prototxt").write_text(
        'layers { name: "d" type: DATA top: "data" top: "label" '
        'data_param { source: "x_lmdb" batch_size: 4 backend: LMDB scale: 0.5 crop_size: 3 mirror: true } }')
    layer = load_net_param(tmp_path / "v1.prototxt").layer[0]
    assert (layer.type, layer.transform_param.scale, layer.transform_param.crop_size, layer.transform_param.mirror) \
        == ("Data", 0.5, 3, True)
    assert not layer.data_param.HasField("scale") and layer.data_param.batch_size == 4
