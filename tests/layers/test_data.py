"""Data layers: Input, DummyData, MemoryData, Data (LMDB) and ImageData, through the net as Caffe runs them."""
from __future__ import annotations

import cv2
import lmdb
import numpy as np
import pytest
import torch

from fer_caffe_compat import log
from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.db import iter_records, parse_datum
from fer_caffe_compat.net import Net
from fer_caffe_compat.proto import caffe_pb2, parse_prototxt
from tests.conftest import FIXTURES

IMAGESET = FIXTURES / "imageset"


def net_from_text(text: str, phase: int = caffe_pb2.TEST) -> Net:
    return Net(parse_prototxt(text, caffe_pb2.NetParameter(), "test.prototxt"), phase=phase)


def gray_records() -> tuple[np.ndarray, np.ndarray]:
    """The 70 gray_lmdb records read directly (uint8 N,1,48,48 and labels)."""
    data, labels = [], []
    for _, v in iter_records(IMAGESET / "gray_lmdb"):
        d = parse_datum(v)
        data.append(np.frombuffer(d.data, np.uint8).reshape(1, 48, 48))
        labels.append(d.label)
    return np.stack(data), np.asarray(labels, np.float32)


def data_net(batch: int, transform: str = "", phase: int = caffe_pb2.TEST, source: str = "gray_lmdb",
             extra: str = "") -> Net:
    return net_from_text(f'layer {{ name: "data" type: "Data" top: "data" top: "label" {transform} '
                         f'data_param {{ source: "{IMAGESET / source}" batch_size: {batch} backend: LMDB {extra} }} }}',
                         phase)


class LogLines:
    def __init__(self):
        self.lines: list[str] = []

    def __enter__(self):
        self._old = log._emit
        log._emit = lambda sev, src, msg: self.lines.append(f"{src}] {msg}")
        return self

    def __exit__(self, *exc):
        log._emit = self._old


# ------------------------------------------------------------------------------- Data
def test_data_layer_reads_records_in_key_order_and_scales():
    data, labels = gray_records()
    net = data_net(10, "transform_param { scale: 0.00390625 }")
    assert net.blob_shapes == {"data": (10, 1, 48, 48), "label": (10,)}
    for b in range(2):
        out = net.forward()
        assert out["data"].dtype == torch.float32
        np.testing.assert_array_equal(out["data"].numpy(), data[10 * b:10 * b + 10].astype(np.float32) * 0.00390625)
        np.testing.assert_array_equal(out["label"].numpy(), labels[10 * b:10 * b + 10])


def test_data_layer_wraps_around_with_caffes_log_line():
    data, _ = gray_records()
    net = data_net(30)
    with LogLines() as log_lines:
        batches = [net.forward()["data"].numpy() for _ in range(3)]
    np.testing.assert_array_equal(batches[2], np.concatenate([data[60:], data[:20]]).astype(np.float32))
    assert log_lines.lines == ["data_layer.cpp:73] Restarting data prefetching from start."]


def test_train_and_test_nets_keep_separate_cursors():
    data, _ = gray_records()
    train, test = data_net(10, phase=caffe_pb2.TRAIN), data_net(10)
    train.forward()
    train.forward()
    np.testing.assert_array_equal(test.forward()["data"].numpy(), data[:10].astype(np.float32))
    np.testing.assert_array_equal(train.forward()["data"].numpy(), data[20:30].astype(np.float32))
    np.testing.assert_array_equal(data_net(10).forward()["data"].numpy(), data[:10].astype(np.float32))


def test_data_layer_mean_file_and_centre_crop_in_test():
    data, _ = gray_records()
    with np.load(IMAGESET / "means.npz", allow_pickle=False) as z:
        mean = z["mean_gray"][0]
    net = data_net(2, f'transform_param {{ mean_file: "{IMAGESET / "mean_gray.binaryproto"}" scale: 0.5 crop_size: 40 }}')
    out = net.forward()["data"].numpy()
    expect = (data[:2].astype(np.float32) - mean)[:, :, 4:44, 4:44] * np.float32(0.5)
    np.testing.assert_allclose(out, expect, rtol=0, atol=1e-6)
    assert net.blob_shapes["data"] == (2, 1, 40, 40)


def test_data_layer_single_top_has_no_label():
    net = net_from_text(f'layer {{ name: "d" type: "Data" top: "data" data_param {{ source: "{IMAGESET / "gray_lmdb"}" '
                        'batch_size: 3 backend: LMDB } }')
    assert list(net.forward()) == ["data"]


def test_data_layer_rand_skip_starts_inside_the_first_rand_skip_records():
    data, _ = gray_records()
    torch.manual_seed(3)
    first = data_net(1, extra="rand_skip: 5").forward()["data"].numpy()[0]
    assert any(np.array_equal(first, data[i].astype(np.float32)) for i in range(5))


def test_data_layer_decodes_encoded_records(tmp_path):
    """convert_imageset --encoded stores the JPEG bytes; the transformer decodes them (force_gray: 1 channel)."""
    env = lmdb.open(str(tmp_path / "enc_lmdb"), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, name in enumerate(["color/00000.jpg", "color/00001.jpg"]):
            d = caffe_pb2.Datum(data=(IMAGESET / name).read_bytes(), encoded=True, label=i)
            txn.put(f"{i:08d}".encode(), d.SerializeToString())
    env.close()
    for force, channels, flag in (("force_gray: true", 1, cv2.IMREAD_GRAYSCALE), ("", 3, cv2.IMREAD_COLOR)):
        net = net_from_text(f'layer {{ name: "d" type: "Data" top: "data" top: "label" transform_param {{ {force} }} '
                            f'data_param {{ source: "{tmp_path / "enc_lmdb"}" batch_size: 2 backend: LMDB }} }}')
        out = net.forward()
        img = cv2.imread(str(IMAGESET / "color/00001.jpg"), flag)
        chw = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
        assert net.blob_shapes["data"] == (2, channels, 14, 20)
        np.testing.assert_array_equal(out["data"].numpy()[1], chw.astype(np.float32))
        assert out["label"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("param,message", [
    ('source: "SRC" batch_size: 2', r"backend LEVELDB is not supported"),
    ('source: "SRC" batch_size: 0 backend: LMDB', r"batch_size must be positive"),
    ('source: "/nonexistent/db" batch_size: 2 backend: LMDB', r"/nonexistent/db: not an LMDB"),
])
def test_data_layer_errors_name_the_layer(param, message):
    with pytest.raises(CaffeError, match=message):
        net_from_text('layer { name: "d" type: "Data" top: "data" top: "label" '
                      f'data_param {{ {param.replace("SRC", str(IMAGESET / "gray_lmdb"))} }} }}')


# ------------------------------------------------------------------------------- ImageData
def test_image_data_reads_list_resizes_and_wraps_around():
    net = net_from_text(f'layer {{ name: "img" type: "ImageData" top: "img" top: "label" image_data_param {{ '
                        f'source: "{IMAGESET / "color.txt"}" root_folder: "{IMAGESET}/" batch_size: 5 '
                        'new_height: 7 new_width: 9 is_color: true } }')
    assert net.blob_shapes["img"] == (5, 3, 7, 9)
    batches = [net.forward() for _ in range(3)]
    expect = cv2.resize(cv2.imread(str(IMAGESET / "color/00010.jpg")), (9, 7), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(batches[2]["img"].numpy()[0], expect.transpose(2, 0, 1).astype(np.float32))
    assert batches[2]["label"].tolist() == [5, 5, 0, 0, 1]  # items 10, 11, then 0, 1, 2 again


def test_image_data_shuffle_is_a_seeded_permutation():
    text = (f'layer {{ name: "img" type: "ImageData" top: "img" top: "label" image_data_param {{ '
            f'source: "{IMAGESET / "train.txt"}" root_folder: "{IMAGESET}/" batch_size: 70 shuffle: true is_color: false }} }}')
    torch.manual_seed(7)
    a = net_from_text(text).forward()["label"].numpy()
    torch.manual_seed(7)
    b = net_from_text(text).forward()["label"].numpy()
    np.testing.assert_array_equal(a, b)
    assert sorted(a.tolist()) == sorted(np.repeat(np.arange(7), 10).tolist())
    assert a.tolist() != sorted(a.tolist())


def test_image_data_bad_list_line_names_file_and_line(tmp_path):
    (tmp_path / "list.txt").write_text("0/00000.jpg 0\n0/00001.jpg zero\n")
    with pytest.raises(CaffeError, match=r"list\.txt:2: expected 'path label'"):
        net_from_text(f'layer {{ name: "img" type: "ImageData" top: "img" top: "label" image_data_param {{ '
                      f'source: "{tmp_path / "list.txt"}" root_folder: "{IMAGESET}/" batch_size: 1 }} }}')


def test_image_data_missing_image_is_one_line(tmp_path):
    (tmp_path / "list.txt").write_text("nope.jpg 0\n")
    with pytest.raises(CaffeError, match=r"nope\.jpg: no such image file"):
        net_from_text(f'layer {{ name: "img" type: "ImageData" top: "img" top: "label" image_data_param {{ '
                      f'source: "{tmp_path / "list.txt"}" root_folder: "{tmp_path}/" batch_size: 1 }} }}')


def test_image_data_needs_both_new_height_and_new_width():
    with pytest.raises(CaffeError, match="new_height and new_width must be set at the same time"):
        net_from_text(f'layer {{ name: "img" type: "ImageData" top: "img" top: "label" image_data_param {{ '
                      f'source: "{IMAGESET / "train.txt"}" root_folder: "{IMAGESET}/" new_height: 5 }} }}')


# ------------------------------------------------------------------------------- DummyData, Input, MemoryData
def test_dummy_data_constant_once_gaussian_every_forward_and_legacy_shape():
    net = net_from_text('layer { name: "d" type: "DummyData" top: "a" top: "b" dummy_data_param { '
                        'num: 2 channels: 3 height: 4 width: 5 '
                        'data_filler { type: "constant" value: 2.5 } data_filler { type: "gaussian" std: 1 } } }')
    assert net.blob_shapes == {"a": (2, 3, 4, 5), "b": (2, 3, 4, 5)}
    o1, o2 = net.forward(), net.forward()
    assert o1["a"].unique().tolist() == [2.5] and o2["a"].unique().tolist() == [2.5]
    assert not torch.equal(o1["b"], o2["b"])


def test_dummy_data_default_filler_is_zero():
    net = net_from_text('layer { name: "d" type: "DummyData" top: "a" dummy_data_param { shape { dim: 3 } } }')
    assert net.forward()["a"].tolist() == [0.0, 0.0, 0.0]


def test_input_layer_shapes_and_feeding():
    net = net_from_text('layer { name: "in" type: "Input" top: "x" top: "y" input_param { shape { dim: 2 dim: 3 } } }')
    assert net.blob_shapes == {"x": (2, 3), "y": (2, 3)}
    out = net.forward({"x": np.ones((2, 3))})
    assert out["x"].tolist() == [[1.0] * 3] * 2 and out["y"].tolist() == [[0.0] * 3] * 2


def test_memory_data_cycles_through_the_arrays():
    net = net_from_text('layer { name: "m" type: "MemoryData" top: "data" top: "label" '
                        'memory_data_param { batch_size: 2 channels: 1 height: 2 width: 2 } }')
    layer = net.layer_by_name("m")
    with pytest.raises(CaffeError, match="call set_input_arrays"):
        net.forward()
    with pytest.raises(CaffeError, match=r"positive multiple of batch_size \(2\)"):
        layer.set_input_arrays(np.zeros((3, 1, 2, 2)), np.zeros(3))
    data = np.arange(16, dtype=np.float32).reshape(4, 1, 2, 2)
    layer.set_input_arrays(data, [0, 1, 2, 3])
    labels = [net.forward()["label"].tolist() for _ in range(3)]
    assert labels == [[0, 1], [2, 3], [0, 1]]
    np.testing.assert_array_equal(net.forward()["data"].numpy(), data[2:])


# ------------------------------------------------------------------------------- the data path (prefetch, memory)
def _old_data_layer(records, transform: str, phase: int, seed: int, batch: int, n_batches: int):
    """The batches of the per-image Data layer (records in key order through DataTransformer.transform)."""
    from fer_caffe_compat.data.transform import DataTransformer

    tp = parse_prototxt(transform, caffe_pb2.TransformationParameter())
    t = DataTransformer(tp, phase, "layer data", np.random.default_rng(seed))
    flat = [t.transform(records[i % len(records)]) for i in range(batch * n_batches)]
    return [np.stack(flat[b * batch:(b + 1) * batch]) for b in range(n_batches)]


def _layer_seed(torch_seed: int) -> int:
    torch.manual_seed(torch_seed)
    return int(torch.randint(0, 2**62, (1,)).item())


@pytest.mark.parametrize("extra", ["", "cache_mb: 0", "prefetch: 0", "cache_mb: 0 prefetch: 1"])
def test_data_layer_batches_are_the_per_image_transformers(extra):
    """In memory or read per batch, prefetched or not: the records, crops and flips of the per-image path."""
    data, _ = gray_records()
    transform = (f'transform_param {{ mean_file: "{IMAGESET / "mean_gray.binaryproto"}" crop_size: 40 '
                 'mirror: true scale: 0.5 }')
    want = _old_data_layer(data, transform.split("{", 1)[1].rsplit("}", 1)[0], caffe_pb2.TRAIN,
                           _layer_seed(11), 30, 4)
    torch.manual_seed(11)
    net = data_net(30, transform, caffe_pb2.TRAIN, extra=extra)
    for b in range(4):
        np.testing.assert_array_equal(net.forward()["data"].numpy(), want[b], err_msg=f"batch {b}")


def test_a_cursor_moved_after_prefetching_reads_what_an_unprefetched_layer_reads():
    """Solver.skip_data_to_iteration moves records by take(n): read-ahead batches are given back."""
    torch.manual_seed(2)
    ahead = data_net(10, "transform_param { crop_size: 44 mirror: true }", caffe_pb2.TRAIN)
    torch.manual_seed(2)
    sync = data_net(10, "transform_param { crop_size: 44 mirror: true }", caffe_pb2.TRAIN, extra="prefetch: 0")
    for net in (ahead, sync):
        net.forward()
        net.forward()
        net.layer_by_name("data").records.take(25)
    for _ in range(6):
        np.testing.assert_array_equal(ahead.forward()["data"].numpy(), sync.forward()["data"].numpy())


def test_sharded_records_are_every_world_th_from_the_rank():
    data, labels = gray_records()
    net = data_net(4)
    net.layer_by_name("data").records.shard(1, 3)
    for b in range(3):
        idx = [(1 + 3 * (4 * b + i)) % 70 for i in range(4)]
        out = net.forward()
        np.testing.assert_array_equal(out["data"].numpy(), data[idx].astype(np.float32))
        np.testing.assert_array_equal(out["label"].numpy(), labels[idx])


def _write_db(path, values):
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for i, v in enumerate(values):
            txn.put(f"{i:08d}".encode(), v)
    env.close()


def _raw(h: int, w: int, fill: int, label: int = 0) -> bytes:
    return caffe_pb2.Datum(channels=1, height=h, width=w, data=bytes([fill]) * (h * w),
                           label=label).SerializeToString()


@pytest.mark.parametrize("extra", ["", "prefetch: 0"])
@pytest.mark.parametrize("bad,message", [
    (b"\xff\xff\xff", r"db: record 00000003: not a serialized Datum$"),
    (_raw(5, 5, 9), r"db: record 00000003: image is 1x5x5, the batch is 1x4x4$"),
])
def test_a_bad_record_fails_in_the_forward_that_reaches_it_with_one_line(tmp_path, extra, bad, message):
    _write_db(tmp_path / "db", [_raw(4, 4, i) for i in range(3)] + [bad] + [_raw(4, 4, 7)])
    net = net_from_text(f'layer {{ name: "d" type: "Data" top: "data" data_param {{ source: "{tmp_path / "db"}" '
                        f'batch_size: 2 backend: LMDB {extra} }} }}')
    assert net.forward()["data"][:, 0, 0, 0].tolist() == [0, 1]
    for _ in range(2):  # and again: the cursor stays before the failing batch
        with pytest.raises(CaffeError, match=message):
            net.forward()


def test_different_sized_images_with_a_crop_are_transformed_one_by_one(tmp_path):
    values = [_raw(6 + i % 2, 6 + i % 3, 10 * i) for i in range(7)]
    _write_db(tmp_path / "db", values)
    records = [np.frombuffer(parse_datum(v).data, np.uint8).reshape(1, parse_datum(v).height, parse_datum(v).width)
               for v in values]
    want = _old_data_layer(records, "crop_size: 5 mirror: true", caffe_pb2.TRAIN, _layer_seed(4), 3, 3)
    torch.manual_seed(4)
    net = net_from_text(f'layer {{ name: "d" type: "Data" top: "data" transform_param {{ crop_size: 5 mirror: true }} '
                        f'data_param {{ source: "{tmp_path / "db"}" batch_size: 3 backend: LMDB }} }}', caffe_pb2.TRAIN)
    for b in range(3):
        np.testing.assert_array_equal(net.forward()["data"].numpy(), want[b])


@pytest.mark.parametrize("extra", ["", "data_param { cache_mb: 0 prefetch: 0 }"])
def test_image_data_shuffled_batches_are_the_per_image_layers(extra):
    """Shuffles at each wrap, between the crops of one batch, from the same generator, in the same order."""
    from fer_caffe_compat.data.image import hwc_to_chw, read_image
    from fer_caffe_compat.data.transform import DataTransformer

    lines = [ln.rsplit(" ", 1) for ln in (IMAGESET / "train.txt").read_text().splitlines()]
    rng = np.random.default_rng(_layer_seed(5))
    lines = [lines[i] for i in rng.permutation(len(lines))]
    t = DataTransformer(caffe_pb2.TransformationParameter(crop_size=42, mirror=True), caffe_pb2.TRAIN, "t", rng)
    want, pos = [], 0
    for _ in range(3 * 30):
        want.append(t.transform(hwc_to_chw(read_image(f"{IMAGESET}/{lines[pos][0]}", False))))
        want[-1] = np.append(want[-1].reshape(-1), float(lines[pos][1]))
        pos += 1
        if pos == len(lines):
            pos = 0
            lines = [lines[i] for i in rng.permutation(len(lines))]
    torch.manual_seed(5)
    net = net_from_text(f'layer {{ name: "img" type: "ImageData" top: "img" top: "label" {extra} '
                        'transform_param { crop_size: 42 mirror: true } image_data_param { '
                        f'source: "{IMAGESET / "train.txt"}" root_folder: "{IMAGESET}/" batch_size: 30 shuffle: true '
                        'is_color: false } }', caffe_pb2.TRAIN)
    for b in range(3):
        out = net.forward()
        got = np.concatenate([out["img"].numpy().reshape(30, -1), out["label"].numpy()[:, None]], axis=1)
        np.testing.assert_array_equal(got, np.stack(want[30 * b:30 * b + 30]), err_msg=f"batch {b}")


def test_the_augmenter_runs_after_the_transform_in_train_only(monkeypatch):
    """Issue 10's hook: build_augmenter(transform_param, phase, where=, seed=) -> None or aug(batch, labels),
    whose ``mixes`` says whether the labels come back as rows of class weights."""
    import fer_caffe_compat.data.augment as augment

    calls = []

    class Plus1000:
        mixes = False

        def __call__(self, x, y):
            return x + 1000, y

    def fake(tp, phase, where, seed):
        calls.append((phase, where, type(seed)))
        if phase != caffe_pb2.TRAIN:
            return None
        return Plus1000()

    monkeypatch.setattr(augment, "build_augmenter", fake)
    data, _ = gray_records()
    for phase in (caffe_pb2.TRAIN, caffe_pb2.TEST):
        out = data_net(5, "transform_param { augment { brightness: 0.1 } }", phase).forward()["data"].numpy()
        np.testing.assert_array_equal(out, data[:5].astype(np.float32) + (1000 if phase == caffe_pb2.TRAIN else 0))
    assert calls == [(caffe_pb2.TRAIN, "layer data", int), (caffe_pb2.TEST, "layer data", int)]


MIX = "transform_param { augment { mixup_alpha: 0.4 num_classes: 7 } }"


def test_a_mixing_data_layer_gives_rows_of_class_weights_that_softmax_loss_takes():
    """augment { mixup_alpha } (extension): in TRAIN the label top is (N, 7) rows summing to 1 on the
    batch's own classes, and a SoftmaxWithLoss set up on it trains; in TEST labels stay Caffe's."""
    _, labels = gray_records()
    net = net_from_text(f'layer {{ name: "data" type: "Data" top: "data" top: "label" {MIX} '
                        f'data_param {{ source: "{IMAGESET / "gray_lmdb"}" batch_size: 10 backend: LMDB }} }} '
                        'layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" '
                        '  inner_product_param { num_output: 7 weight_filler { type: "xavier" } } } '
                        'layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }',
                        caffe_pb2.TRAIN)
    out = net.forward()
    rows = out["label"]
    assert rows.shape == (10, 7) and torch.allclose(rows.sum(1), torch.ones(10))
    assert set(torch.nonzero(rows)[:, 1].tolist()) <= set(labels[:10].astype(int).tolist())
    assert torch.isfinite(out["loss"]) and float(out["loss"].detach()) > 0
    assert data_net(10, MIX, caffe_pb2.TEST).forward()["label"].shape == (10,)


def test_a_mixing_data_layer_needs_a_label_top():
    with pytest.raises(CaffeError, match=r"^layer data \(Data\): transform_param.augment mixup_alpha / "
                                         r"cutmix_alpha mix the labels: the layer needs a label top$"):
        net_from_text(f'layer {{ name: "data" type: "Data" top: "data" {MIX} data_param {{ '
                      f'source: "{IMAGESET / "gray_lmdb"}" batch_size: 10 backend: LMDB }} }}', caffe_pb2.TRAIN)


@pytest.mark.parametrize("extra", ["", "cache_mb: 0", "prefetch: 0"])
def test_data_shuffle_extension_visits_every_record_once_per_pass_in_a_seeded_order(extra):
    """data_param shuffle (not in Caffe 1.0): each pass of the 70 records is a new permutation, the same
    for the same seed, in memory or read record by record."""
    data, _ = gray_records()
    keys = {data[i].tobytes(): i for i in range(70)}

    def passes(seed):
        torch.manual_seed(seed)
        net = data_net(35, "", caffe_pb2.TRAIN, extra=f"shuffle: true {extra}")
        seen = [keys[img.astype(np.uint8).tobytes()] for _ in range(4) for img in net.forward()["data"].numpy()]
        return seen[:70], seen[70:]
    first, second = passes(3)
    assert sorted(first) == sorted(second) == list(range(70))
    assert first != list(range(70)) and first != second
    assert passes(3) == (first, second)


def test_a_dropped_net_stops_its_prefetch_threads():
    import threading

    for text in (f'layer {{ name: "gone1" type: "Data" top: "data" data_param {{ source: "{IMAGESET / "gray_lmdb"}" '
                 'batch_size: 5 backend: LMDB shuffle: true cache_mb: 0 } }',
                 f'layer {{ name: "gone2" type: "ImageData" top: "img" top: "label" image_data_param {{ '
                 f'source: "{IMAGESET / "train.txt"}" root_folder: "{IMAGESET}/" batch_size: 5 shuffle: true }} }}'):
        net = net_from_text(text, caffe_pb2.TRAIN)
        net.forward()
        del net
    assert not [t.name for t in threading.enumerate() if t.name in ("prefetch gone1", "prefetch gone2")]
