"""DataTransformer: (x - mean) * scale with the mean at the crop position, crops, mirror, encoded Datums."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fer_caffe_compat.data.transform import DataTransformer
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.blob import write_blob_file
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt
from tests.conftest import FIXTURES

IMAGESET = FIXTURES / "imageset"
TRAIN, TEST = caffe_pb2.TRAIN, caffe_pb2.TEST


def transformer(text: str, phase: int = TEST, seed: int = 0) -> DataTransformer:
    p = parse_prototxt(text, caffe_pb2.TransformationParameter())
    return DataTransformer(p, phase, "layer t", np.random.default_rng(seed))


def image(c: int = 3, h: int = 13, w: int = 11) -> np.ndarray:
    return np.random.default_rng(42).integers(0, 256, (c, h, w)).astype(np.uint8)


def test_centre_crop_in_test_uses_caffes_offsets():
    img = image(h=13, w=11)
    out = transformer("crop_size: 10").transform(img)
    # h_off = (13 - 10) / 2 = 1, w_off = (11 - 10) / 2 = 0 (integer division)
    np.testing.assert_array_equal(out, img[:, 1:11, 0:10].astype(np.float32))


def test_mean_file_is_taken_at_the_crop_position(tmp_path):
    img = image()
    mean = np.random.default_rng(1).random((3, 13, 11), dtype=np.float32) * 255
    write_blob_file(tmp_path / "mean.binaryproto", mean[None])
    t = transformer(f'mean_file: "{tmp_path / "mean.binaryproto"}" crop_size: 8 scale: 0.25', phase=TRAIN, seed=5)
    seen = set()
    for _ in range(30):
        out = t.transform(img)
        hits = [(h, w) for h in range(6) for w in range(4)
                if np.allclose(out, (img.astype(np.float32) - mean)[:, h:h + 8, w:w + 8] * 0.25, atol=1e-5)]
        assert len(hits) == 1, "output is not (x - mean) * scale at one crop offset"
        seen.add(hits[0])
    assert len(seen) > 3, f"TRAIN crops should move, saw offsets {seen}"


def test_single_mean_value_is_broadcast_to_all_channels():
    img = image()
    out = transformer("mean_value: 100 scale: 2").transform(img)
    np.testing.assert_allclose(out, (img.astype(np.float32) - 100) * 2)


def test_mean_value_per_channel_bgr():
    img = image()
    out = transformer("mean_value: 10 mean_value: 20 mean_value: 30").transform(img)
    np.testing.assert_allclose(out, img.astype(np.float32) - np.array([10, 20, 30], np.float32)[:, None, None])


def test_mean_value_count_must_be_one_or_channels():
    with pytest.raises(CaffeError, match=r"layer t: specify either 1 mean_value or as many as channels \(3\)"):
        transformer("mean_value: 1 mean_value: 2").transform(image())


def test_mean_file_and_mean_value_together_is_an_error(tmp_path):
    write_blob_file(tmp_path / "m.binaryproto", np.zeros((1, 3, 13, 11), np.float32))
    with pytest.raises(CaffeError, match="cannot specify mean_file and mean_value"):
        transformer(f'mean_file: "{tmp_path / "m.binaryproto"}" mean_value: 3')


def test_mean_file_of_another_size_is_an_error():
    with pytest.raises(CaffeError, match=r"mean_gray\.binaryproto is 1x48x48 but the image is 3x13x11"):
        transformer(f'mean_file: "{IMAGESET / "mean_gray.binaryproto"}"').transform(image())


def test_mirror_flips_at_random_in_both_phases():
    """Caffe draws Rand(2) whenever mirror is set, TEST included (data_transformer.cpp)."""
    img = image()
    for phase in (TRAIN, TEST):
        t = transformer("mirror: true", phase=phase)
        outs = {t.transform(img).tobytes() for _ in range(20)}
        assert outs == {img.astype(np.float32).tobytes(), img[:, :, ::-1].astype(np.float32).tobytes()}


def test_crop_larger_than_image_is_an_error():
    with pytest.raises(CaffeError, match=r"crop_size 20 is larger than the image \(13x11\)"):
        transformer("crop_size: 20").transform(image())


def test_encoded_datum_is_decoded_with_force_gray_and_force_color():
    jpeg = (IMAGESET / "color" / "00003.jpg").read_bytes()
    datum = caffe_pb2.Datum(data=jpeg, encoded=True, label=1)
    native = transformer("").datum_image(datum, "r")
    gray = transformer("force_gray: true").datum_image(datum, "r")
    assert native.shape == (3, 14, 20) and gray.shape == (1, 14, 20)
    np.testing.assert_array_equal(gray[0], cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE))
    gray_jpeg = (IMAGESET / "0" / "00000.jpg").read_bytes()
    color = transformer("force_color: true").datum_image(caffe_pb2.Datum(data=gray_jpeg, encoded=True), "r")
    assert color.shape == (3, 48, 48)


def test_float_datum_and_size_check():
    d = caffe_pb2.Datum(channels=1, height=2, width=2, float_data=[0.5, 1.5, 2.5, 3.5])
    out = transformer("scale: 2").transform(transformer("").datum_image(d, "r"))
    np.testing.assert_array_equal(out, np.array([[[1, 3], [5, 7]]], np.float32))
    with pytest.raises(CaffeError, match=r"rec: Datum holds 3 values"):
        transformer("").datum_image(caffe_pb2.Datum(channels=1, height=2, width=2, float_data=[1, 2, 3]), "rec")


# ------------------------------------------------------------------------------- the batched transformer
@pytest.mark.parametrize("text,phase", [
    ("crop_size: 8 mirror: true scale: 0.25 MEAN_FILE", TRAIN),
    ("crop_size: 8 mirror: true mean_value: 10 mean_value: 20 mean_value: 30", TRAIN),
    ("crop_size: 9 mean_value: 100 scale: 0.017", TRAIN),
    ("mirror: true MEAN_FILE scale: 0.00390625", TRAIN),
    ("crop_size: 8 mirror: true MEAN_FILE", TEST),
    ("crop_size: 11 scale: 3", TEST),
    ("", TEST),
])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_batch_transformer_equals_per_image_transformer_for_the_same_draws(tmp_path, text, phase, dtype):
    """Caffe's semantics stay in DataTransformer: the batch, from the same seed, is the per-image result
    bit for bit, and the generator ends where the per-image loop leaves it."""
    from fer_caffe_compat.data.transform import BatchTransformer

    mean = np.random.default_rng(1).random((3, 13, 11), dtype=np.float32) * 255
    write_blob_file(tmp_path / "mean.binaryproto", mean[None])
    text = text.replace("MEAN_FILE", f'mean_file: "{tmp_path / "mean.binaryproto"}"')
    imgs = np.random.default_rng(2).integers(0, 256, (37, 3, 13, 11)).astype(dtype)
    if dtype == np.float32:
        imgs += np.float32(0.3)
    one, many = transformer(text, phase, seed=9), transformer(text, phase, seed=9)
    want = np.stack([one.transform(img) for img in imgs])
    bt = BatchTransformer(many)
    got = bt.apply(torch.from_numpy(imgs), bt.draw(len(imgs), 13, 11)).numpy()
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert one.rng.integers(1 << 40) == many.rng.integers(1 << 40)


def test_batch_transformer_checks_like_the_per_image_one():
    from fer_caffe_compat.data.transform import BatchTransformer

    bt = BatchTransformer(transformer("mean_value: 1 mean_value: 2"))
    with pytest.raises(CaffeError, match=r"rec 7: specify either 1 mean_value or as many as channels \(3\)"):
        bt.check((3, 13, 11), "rec 7")
    with pytest.raises(CaffeError, match=r"crop_size 20 is larger than the image \(13x11\)"):
        BatchTransformer(transformer("crop_size: 20")).check((3, 13, 11), "r")
