"""Keras' "balanced" class weights as an InfogainLoss H matrix: the weights, and the weighted loss they give."""
from __future__ import annotations

import numpy as np
import pytest

from fer_caffe_compat.data.class_weights import balanced_weights, db_labels, infogain_matrix, write_infogain
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.blob import read_blob_file
from fer_caffe_compat.io.db import array_to_datum, write_lmdb
from fer_caffe_compat.net import Net
from fer_caffe_compat.proto import caffe_pb2

# a skewed toy set: 3 classes with 6, 3 and 1 samples
SKEWED = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2])


def test_balanced_weight_is_n_over_classes_times_count():
    # n / (K * n_k) = 10 / (3 * 6), 10 / (3 * 3), 10 / (3 * 1)
    assert balanced_weights(SKEWED) == pytest.approx([10 / 18, 10 / 9, 10 / 3])


def test_every_class_needs_a_sample():
    with pytest.raises(CaffeError, match="toy: class 3 has no sample"):
        balanced_weights(SKEWED, num_classes=4, source="toy")
    with pytest.raises(CaffeError, match="toy: label 2 is outside 2 classes"):
        balanced_weights(SKEWED, num_classes=2, source="toy")


def test_infogain_file_is_the_diagonal_as_a_1x1xKxK_blob(tmp_path):
    write_infogain(tmp_path / "h.binaryproto", infogain_matrix([0.5, 2.0, 3.0]))
    h = read_blob_file(tmp_path / "h.binaryproto")
    assert h.shape == (1, 1, 3, 3) and np.array_equal(h[0, 0], np.diag(np.float32([0.5, 2.0, 3.0])))


def test_weighted_infogain_loss_is_the_hand_computed_weighted_cross_entropy(tmp_path):
    w = balanced_weights(SKEWED)
    h_file = tmp_path / "h.binaryproto"
    write_infogain(h_file, infogain_matrix(w))
    net = caffe_pb2.NetParameter()
    inp = net.layer.add(name="in", type="Input", top=["x", "label"])
    inp.input_param.shape.add(dim=[10, 3])
    inp.input_param.shape.add(dim=[10])
    loss = net.layer.add(name="loss", type="InfogainLoss", bottom=["x", "label"], top=["loss"])
    loss.infogain_loss_param.source = str(h_file)
    x = np.random.default_rng(3).standard_normal((10, 3))
    got = Net(net, phase=caffe_pb2.TRAIN).to(dtype=__import__("torch").float64).forward(
        {"x": x, "label": SKEWED.astype(np.float64)})["loss"].item()
    # Keras: mean over the batch of class_weight[y_i] * -log softmax(x_i)[y_i]
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want = np.mean(w[SKEWED] * -np.log(p[np.arange(10), SKEWED]))
    assert got == pytest.approx(want, rel=1e-6)
    unweighted = np.mean(-np.log(p[np.arange(10), SKEWED]))
    assert abs(got - unweighted) > 0.05  # the weights matter on this set


def test_db_labels_reads_every_datum_label(tmp_path):
    img = np.zeros((1, 4, 4), np.uint8)
    write_lmdb(tmp_path / "db", ((f"{i:08d}".encode(), array_to_datum(img, int(k)).SerializeToString())
                                 for i, k in enumerate(SKEWED)))
    assert db_labels(tmp_path / "db").tolist() == SKEWED.tolist()
