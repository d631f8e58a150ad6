from __future__ import annotations

import numpy as np
import pytest
import torch

from fer_caffe_compat.data.fer_csv import write_fer_csv
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.eval.predict import Predictor, csv_samples, deploy_form, list_samples, lmdb_samples
from fer_caffe_compat.io.blob import read_blob_file
from fer_caffe_compat.net import Net, load_net_param

from .tiny import DEPLOY, GRAY_LMDB, IMAGESET, MEAN, SCALE, TRAIN_VAL, deploy_param, save_weights


@pytest.fixture(scope="module")
def w48(tmp_path_factory):
    return save_weights(tmp_path_factory.mktemp("w") / "tiny48.caffemodel", 48)


@pytest.fixture(scope="module")
def w44(tmp_path_factory):
    return save_weights(tmp_path_factory.mktemp("w") / "tiny44.caffemodel", 44, seed=1)


@pytest.fixture(scope="module")
def lmdb_images():
    _, it = lmdb_samples(GRAY_LMDB)
    return list(it)


def _reference_net(weights, side):
    net = Net(deploy_param(side))
    net.copy_trained_layers_from(str(weights))
    net.requires_grad_(False)
    return net


def test_deploy_form_of_train_val_drops_label_layers_and_keeps_transform():
    dep = deploy_form(load_net_param(TRAIN_VAL), "tiny_train_val")
    assert [(l.name, l.type) for l in dep.param.layer] == [
        ("mnist", "Input"), ("conv1", "Convolution"), ("relu1", "ReLU"), ("pool1", "Pooling"),
        ("ip1", "InnerProduct")]
    assert dep.param.layer[0].top == ["data"] and dep.input_blob == "data" and dep.input_shape is None
    assert dep.transform.crop_size == 44 and dep.transform.scale == pytest.approx(SCALE)
    assert not dep.transform.mirror  # the TEST data layer's transform


def test_deploy_net_probabilities_are_its_softmax_output(w48, lmdb_images):
    pred = Predictor(DEPLOY, w48, mean=MEAN, scale=SCALE, batch_size=16)
    assert pred.output_blob == "prob" and not pred.softmax and pred.input_shape == (1, 48, 48)
    probs = pred.predict((img, w) for img, _, w in lmdb_images)
    assert probs.shape == (70, 7)
    mean = read_blob_file(MEAN).reshape(1, 48, 48)
    x = np.stack([(img - mean) * np.float32(SCALE) for img, _, _ in lmdb_images]).astype(np.float32)
    net = _reference_net(w48, 48)
    want = torch.cat([net.forward({"data": x[i:i + 1]})["prob"] for i in range(70)]).double().numpy()
    np.testing.assert_allclose(probs, want, rtol=1e-5, atol=1e-7, err_msg="prob of 70 LMDB images")


def test_train_val_net_centre_crops_and_applies_softmax(w44, lmdb_images):
    pred = Predictor(TRAIN_VAL, w44, sample_shape=(1, 48, 48), batch_size=32)
    assert pred.output_blob == "ip1" and pred.softmax and pred.input_shape == (1, 44, 44)
    probs = pred.predict((img, w) for img, _, w in lmdb_images[:5])
    x = np.stack([img[:, 2:46, 2:46] * np.float32(SCALE) for img, _, _ in lmdb_images[:5]]).astype(np.float32)
    ip1 = _reference_net(w44, 44).forward({"data": x})["ip1"]
    np.testing.assert_allclose(probs, torch.softmax(ip1.double(), 1).numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-12)


def test_oversample_averages_caffes_ten_crops(w44, lmdb_images):
    pred = Predictor(TRAIN_VAL, w44, sample_shape=(1, 48, 48), batch_size=20)
    probs = pred.predict(((img, w) for img, _, w in lmdb_images[:3]), oversample=True)
    net = _reference_net(w44, 44)
    for k, (img, _, _) in enumerate(lmdb_images[:3]):
        x = img.astype(np.float32) * np.float32(SCALE)
        offs = [(0, 0), (0, 4), (4, 0), (4, 4), (2, 2)]  # corners then centre, 44 of 48
        crops = [x[:, i:i + 44, j:j + 44] for i, j in offs]
        crops += [c[:, :, ::-1] for c in crops]
        out = net.forward({"data": np.ascontiguousarray(np.stack(crops))})["ip1"]
        want = torch.softmax(out.double(), 1).mean(0).numpy()
        np.testing.assert_allclose(probs[k], want, rtol=1e-5, atol=1e-7, err_msg=f"image {k}")


def test_list_and_csv_inputs_give_the_lmdb_predictions(w48, lmdb_images, tmp_path):
    pred = Predictor(DEPLOY, w48, mean=MEAN, scale=SCALE, batch_size=8)
    from_db = pred.predict((img, w) for img, _, w in lmdb_images)
    n, it = list_samples(IMAGESET / "train.txt", IMAGESET, 1, pred.fit_image)
    items = list(it)
    assert n == 70 and [l for _, l, _ in items] == [l for _, l, _ in lmdb_images]
    np.testing.assert_allclose(pred.predict((i, w) for i, _, w in items), from_db, rtol=1e-6)
    images = np.stack([img[0] for img, _, _ in lmdb_images])
    labels = np.array([l for _, l, _ in lmdb_images])
    usage = np.where(np.arange(70) % 3 == 0, 1, 0)  # every third row is PublicTest
    write_fer_csv(tmp_path / "fer.csv", images, labels, usage)
    n, it = csv_samples(tmp_path / "fer.csv", "PublicTest", pred.fit_image)
    rows = list(it)
    assert n == 24 and rows[1][2].endswith("fer.csv:5")
    np.testing.assert_allclose(pred.predict((i, w) for i, _, w in rows), from_db[::3], rtol=1e-6)


def test_images_of_another_size_are_resized_to_the_training_size(w48):
    pred = Predictor(DEPLOY, w48, mean=MEAN, scale=SCALE)
    big = np.zeros((96, 96, 3), np.uint8)
    assert pred.fit_image(big).shape == (1, 48, 48)


def test_weights_that_do_not_fit_name_the_layer_and_shapes(w48):
    with pytest.raises(CaffeError, match=r"layer ip1: .*shape mismatch.*7 484.*7 400"):
        Predictor(TRAIN_VAL, w48, sample_shape=(1, 48, 48))


def test_wrong_channels_size_mean_or_usage_are_errors(w48, tmp_path):
    pred = Predictor(DEPLOY, w48, mean=MEAN)
    with pytest.raises(CaffeError, match="^rgb.png: image has 3 channels, the net's input has 1$"):
        pred.normalized(np.zeros((3, 48, 48), np.uint8), "rgb.png")
    with pytest.raises(CaffeError, match="^small: image is 40x40, smaller than the net's input 48x48$"):
        pred.normalized(np.zeros((1, 40, 40), np.uint8), "small")
    with pytest.raises(CaffeError, match="mean file .*mean_gray.binaryproto is 1x48x48 but the image is 1x50x50"):
        pred.normalized(np.zeros((1, 50, 50), np.uint8), "big")
    with pytest.raises(CaffeError, match="--usage 'Public'"):
        csv_samples(tmp_path / "x.csv", "Public", pred.fit_image)
