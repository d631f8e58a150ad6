"""Class probabilities of a trained net over a dataset or over single images.

A deploy prototxt is used as is. A train_val prototxt becomes its deploy form: the TEST-phase net, its data
layer replaced by an Input layer, and every layer that needs the label (loss, accuracy) dropped; the data
layer's ``transform_param`` (scale, mean, crop_size) is kept as the preprocessing.

Preprocessing is Caffe's Data layer at TEST: ``(x - mean) * scale`` with the mean image taken at the crop
position, then the centred crop. ``oversample`` is instead Caffe's Python classifier: the four corner crops
and the centre crop plus their mirrors, ten in all, whose outputs are averaged.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from ..data.image import hwc_to_chw, read_image
from ..errors import CaffeError
from ..io import db as lmdb_io
from ..io.blob import read_blob_file
from ..net import Net, filter_net, load_net_param
from ..net_weights import load_weights
from ..proto import caffe_pb2
from .faces import to_input_image
from .tta import VIEWS, mode_of, views

DATA_LAYERS = ("Data", "ImageData", "MemoryData", "DummyData", "HDF5Data", "WindowData", "Input")
BATCH = 64


@dataclass
class DeployNet:
    """A NetParameter with one Input layer, ready to build, and the preprocessing its data layer held."""
    param: caffe_pb2.NetParameter
    input_blob: str
    input_shape: tuple[int, int, int] | None  # (C, H, W); None: taken from the first sample
    transform: caffe_pb2.TransformationParameter


def deploy_form(net: caffe_pb2.NetParameter, source: str) -> DeployNet:
    """The deploy form of a deploy or train_val NetParameter (see the module docstring)."""
    test = caffe_pb2.NetParameter()
    test.CopyFrom(net)
    test.state.phase = caffe_pb2.TEST
    layers = list(filter_net(test).layer)
    data = [l for l in layers if l.type in DATA_LAYERS]
    if len(data) != 1 or not data[0].top:
        raise CaffeError(f"{source}: expected one Input or data layer for the TEST phase, found "
                         f"{len(data)}" + (f" ({', '.join(l.name for l in data)})" if data else ""))
    d = data[0]
    if d.type == "Input":
        if len(d.top) != 1:
            raise CaffeError(f"{source}: layer {d.name}: expected one input blob, found {len(d.top)}")
        shape = d.input_param.shape[0].dim if d.input_param.shape else []
        if len(shape) != 4:
            raise CaffeError(f"{source}: layer {d.name}: expected a 4-D input shape (N, C, H, W)")
        chw = tuple(int(v) for v in shape[1:])
        transform = caffe_pb2.TransformationParameter()
    else:
        chw = None
        transform = d.transform_param
    dead = set(d.top[1:])  # the label and what is computed from it
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    del out.layer[:]
    for l in layers:
        if l is d:
            inp = out.layer.add(name=d.name, type="Input", top=[d.top[0]])
            inp.input_param.shape.add(dim=[1, *(chw or (1, 1, 1))])
        elif dead.intersection(l.bottom):
            dead.update(l.top)
        else:
            out.layer.add().CopyFrom(l)
            del out.layer[-1].include[:]
            del out.layer[-1].exclude[:]
    return DeployNet(out, d.top[0], chw, transform)


def _softmax_needed(param: caffe_pb2.NetParameter, blob: str) -> bool:
    producer = [l for l in param.layer if blob in l.top]
    return not producer or producer[-1].type != "Softmax"


class Predictor:
    """A net that maps images (CHW uint8) to class probabilities."""

    def __init__(self, model: str | os.PathLike, weights: str | os.PathLike, mean: str | os.PathLike | None = None,
                 scale: float | None = None, sample_shape: tuple[int, int, int] | None = None,
                 output: str | None = None, batch_size: int = BATCH, device: str = "cpu",
                 allow_missing_weights: bool = False):
        dep = deploy_form(load_net_param(model), str(model))
        t = dep.transform  # its mirror is ignored: Caffe would flip at random even in TEST; we stay deterministic
        self.scale = float(t.scale) if scale is None else float(scale)
        self.mean_path = mean if mean is not None else (t.mean_file if t.HasField("mean_file") else None)
        self.mean: np.ndarray | None = None
        if self.mean_path is not None:
            if not os.path.exists(self.mean_path):
                raise CaffeError(f"{self.mean_path}: mean file not found"
                                 + ("" if mean is not None else f" (mean_file of {model}; give --mean)"))
            m = read_blob_file(self.mean_path)
            self.mean = m.reshape(m.shape[-3:]).astype(np.float32)
        self.mean_values = np.asarray(t.mean_value, dtype=np.float32) if self.mean is None else np.zeros(0)
        self.crop = int(t.crop_size)
        if dep.input_shape is not None:
            chw = dep.input_shape
        else:
            base = sample_shape or (self.mean.shape if self.mean is not None else None)
            if base is None:
                raise CaffeError(f"{model}: cannot tell the input size of a train_val net without "
                                 "data or a --mean file")
            c, h, w = base
            chw = (c, self.crop, self.crop) if self.crop else (c, h, w)
        self.input_shape: tuple[int, int, int] = tuple(int(v) for v in chw)
        self.batch_size = batch_size
        inp = next(l for l in dep.param.layer if l.type == "Input" and l.top[0] == dep.input_blob)
        inp.input_param.shape[0].dim[:] = [batch_size, *self.input_shape]
        self.input_blob = dep.input_blob
        self.param = dep.param
        self.net = Net(dep.param, phase=caffe_pb2.TEST)
        load_weights(self.net, str(weights), allow_missing_weights)
        self.device = torch.device(device)
        self.net.to(self.device)
        outs = [o for o in self.net.output_names if o != self.input_blob]
        if output is not None:
            if output not in self.net.blob_shapes:
                raise CaffeError(f"{model}: no blob named {output!r}")
            outs = [output]
        if not outs:
            raise CaffeError(f"{model}: the net has no output blob")
        order = {t: i for i, tops in enumerate(self.net.top_names) for t in tops}
        self.output_blob = max(outs, key=lambda b: order.get(b, -1))  # the last one computed
        self.softmax = _softmax_needed(self.param, self.output_blob)
        self.num_classes = int(np.prod(self.net.blob_shapes[self.output_blob][1:]))

    # -- preprocessing ------------------------------------------------------------------------
    @property
    def full_size(self) -> tuple[int, int]:
        """The size images are brought to before cropping: the mean file's (the training images'), else
        the net's input."""
        if self.mean is not None:
            return self.mean.shape[1], self.mean.shape[2]
        return self.input_shape[1], self.input_shape[2]

    def fit_image(self, img: np.ndarray) -> np.ndarray:
        """A decoded OpenCV image (HW or HWC) with the net's channels, resized to the training size
        (the mean file's size, or the net's input) unless it is already cropped-to-fit; returns CHW."""
        c, ih, iw = self.input_shape
        h, w = img.shape[:2]
        if self.mean is None and self.crop and h >= ih and w >= iw:
            return hwc_to_chw(to_input_image(img, h, w, c))  # the net crops it, as its Data layer did
        return hwc_to_chw(to_input_image(img, *self.full_size, c))

    def normalized(self, img: np.ndarray, where: str) -> np.ndarray:
        """(x - mean) * scale over the whole CHW image (the mean applies at every crop position)."""
        c, h, w = img.shape
        ic, ih, iw = self.input_shape
        if c != ic:
            raise CaffeError(f"{where}: image has {c} channels, the net's input has {ic}")
        if h < ih or w < iw:
            raise CaffeError(f"{where}: image is {h}x{w}, smaller than the net's input {ih}x{iw}")
        x = img.astype(np.float32)
        if self.mean is not None:
            if self.mean.shape != img.shape:
                raise CaffeError(f"{where}: mean file {self.mean_path} is {'x'.join(map(str, self.mean.shape))} "
                                 f"but the image is {c}x{h}x{w}")
            x -= self.mean
        elif self.mean_values.size:
            x -= self.mean_values.reshape(-1, 1, 1) if self.mean_values.size == c else self.mean_values[0]
        if self.scale != 1.0:
            x *= np.float32(self.scale)
        return x

    def crops(self, x: np.ndarray, tta: bool | str) -> np.ndarray:
        """The views of one normalised CHW image for test-time augmentation ``tta`` (eval/tta.py: none,
        flip, tencrop, shift; True is Caffe's oversample, tencrop): (V, C, h, w)."""
        v = views(torch.from_numpy(np.ascontiguousarray(x))[None], self.input_shape[1:], mode_of(tta))
        return v[:, 0].numpy()

    # -- running ------------------------------------------------------------------------------
    @torch.no_grad()
    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = batch.shape[0]
        if n < self.batch_size:  # the Input layer's batch is fixed, as in Caffe
            batch = np.concatenate([batch, np.zeros((self.batch_size - n, *batch.shape[1:]), batch.dtype)])
        out = self.net.forward({self.input_blob: torch.from_numpy(np.ascontiguousarray(batch)).to(self.device)})
        y = out[self.output_blob].reshape(self.batch_size, -1).double()
        if self.softmax:
            y = torch.softmax(y, dim=1)
        return y[:n].cpu().numpy()

    def predict(self, images: Iterable[tuple[np.ndarray, str]], oversample: bool | str = False) -> np.ndarray:
        """Probabilities (N, K) for (CHW image, where) pairs, in order; ``oversample`` is a TTA mode
        (True: Caffe's ten crops)."""
        mode = mode_of(oversample)
        per = VIEWS[mode]
        if per > self.batch_size:
            raise CaffeError(f"--tta {mode} needs a batch of at least {per} views, the batch is {self.batch_size}")
        pending: list[np.ndarray] = []
        results: list[np.ndarray] = []

        def flush() -> None:
            probs = self._run(np.concatenate(pending))
            results.append(probs.reshape(-1, per, probs.shape[1]).mean(1))
            pending.clear()

        for img, where in images:
            pending.append(self.crops(self.normalized(img, where), mode))
            if len(pending) * per + per > self.batch_size:
                flush()
        if pending:
            flush()
        return np.concatenate(results) if results else np.zeros((0, self.num_classes))

    @torch.no_grad()
    def blobs(self, img: np.ndarray, where: str = "image") -> dict[str, torch.Tensor]:
        """Every blob of the net for one CHW image (batch item 0)."""
        x = self.crops(self.normalized(img, where), False)
        batch = np.concatenate([x, np.zeros((self.batch_size - 1, *x.shape[1:]), x.dtype)])
        out = self.net.forward({self.input_blob: torch.from_numpy(batch).to(self.device)})
        return {k: v[:1].detach().cpu() for k, v in out.items()}


# -- datasets: (CHW uint8 image, label, where) ----------------------------------------------------
Sample = tuple[np.ndarray, int, str]


def lmdb_samples(path: str | os.PathLike) -> tuple[int, Iterator[Sample]]:
    """Caffe's Data layer order (keys in byte order); encoded records are decoded natively."""
    n = lmdb_io.count_records(path)

    def gen() -> Iterator[Sample]:
        for key, value in lmdb_io.iter_records(path):
            where = f"{path}: record {key.decode('utf-8', 'replace')}"
            d = lmdb_io.parse_datum(value, where)
            yield lmdb_io.datum_to_array(d, where), int(d.label), where
    return n, gen()


def list_samples(list_file: str | os.PathLike, root: str | os.PathLike, channels: int,
                 fit) -> tuple[int, Iterator[Sample]]:
    """ImageData's list format: ``relative/path label`` per line, images under ``root``."""
    try:
        lines = Path(list_file).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise CaffeError(f"{list_file}: cannot read: {e.strerror}") from None
    items = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name, _, label = line.strip().rpartition(" ")
        if not name or not label.lstrip("-").isdigit():
            raise CaffeError(f"{list_file}:{i}: expected 'path label'")
        items.append((name, int(label), i))

    def gen() -> Iterator[Sample]:
        for name, label, i in items:
            img = read_image(os.path.join(root, name), is_color=channels == 3)
            yield fit(img), label, f"{list_file}:{i}"
    return len(items), gen()


def csv_samples(csv: str | os.PathLike, usage: str, fit) -> tuple[int, Iterator[Sample]]:
    """The rows of a FER CSV whose Usage is ``usage`` (Training, PublicTest, PrivateTest), in CSV order."""
    from ..data.fer_csv import USAGES, read_fer_csv
    if usage not in USAGES:
        raise CaffeError(f"--usage {usage!r}: expected one of {', '.join(USAGES)}")
    data = read_fer_csv(csv)
    rows = np.flatnonzero(data.usage == USAGES.index(usage))
    if not rows.size:
        raise CaffeError(f"{csv}: no rows with Usage {usage}")

    def gen() -> Iterator[Sample]:
        for r in rows:
            yield fit(data.images[r]), int(data.labels[r]), f"{csv}:{r + 2}"
    return int(rows.size), gen()
