"""Data layers: Input, DummyData, MemoryData, Data (LMDB) and ImageData (list file of images).

Each reads its next batch on every forward and keeps its own cursor, as Caffe's do: a TRAIN and a TEST
net reading the same source move independently, and a new net starts at the first record. Data and
ImageData read ahead on a thread (``data_param.prefetch`` batches, as Caffe) and transform the batch on
the net's device (``next_batch(device)``); the other layers give float32 CPU tensors that the net moves.
"""
from __future__ import annotations

import contextlib
import functools
import os
import weakref

import numpy as np
import torch

from .. import log
from ..data.batches import ListReader, LmdbReader, _Reader
from ..data.prefetch import Prefetcher
from ..data.records import ImageList, LmdbRecords
from ..data.transform import DataTransformer
from ..errors import CaffeError
from ..io.db import parse_datum
from ..proto import caffe_pb2
from .base import Layer
from .registry import register


def _seed_from_torch() -> int:
    """A seed for a layer's own generator, drawn from torch's global one (seeded from the solver's
    random_seed), so every net built after torch.manual_seed(s) draws the same crops and mirrors."""
    return int(torch.randint(0, 2**62, (1,)).item())


def _shapes_from(param_shapes, n_tops: int, layer: Layer, what: str) -> list[tuple[int, ...]]:
    shapes = [tuple(int(d) for d in s.dim) for s in param_shapes]
    if len(shapes) == 1:
        return shapes * n_tops
    layer.check(len(shapes) == n_tops, f"{what}: give 1 shape or one per top ({n_tops}), found {len(shapes)}")
    return shapes


class _DataLayer(Layer):
    is_data = True
    max_bottoms = 0

    def rng(self) -> np.random.Generator:
        if not hasattr(self, "_rng"):
            self._rng = np.random.default_rng(_seed_from_torch())
        return self._rng


@register("Input")
class InputLayer(_DataLayer):
    """Caffe's Input: allocates tops of the given shapes; the caller feeds them (Net.forward(inputs=))."""
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.top_shapes = _shapes_from(param.input_param.shape, len(param.top), self, "input_param")
        for s in self.top_shapes:
            self.check(all(d >= 0 for d in s), f"input_param shape {list(s)} has a negative dimension")

    def forward(self) -> list[torch.Tensor]:
        return [torch.zeros(s) for s in self.top_shapes]


@register("DummyData")
class DummyDataLayer(_DataLayer):
    """Tops filled by fillers: constant fillers once, the others again on every forward (as Caffe)."""
    min_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        p = param.dummy_data_param
        n = len(param.top)
        legacy = (p.num, p.channels, p.height, p.width)
        if len(p.shape):
            self.check(not any(len(f) for f in legacy), "give shape or num/channels/height/width, not both")
            self.top_shapes = _shapes_from(p.shape, n, self, "dummy_data_param")
        else:
            for f in legacy:
                self.check(len(f) in (1, n), f"num/channels/height/width: give 1 value or one per top ({n})")
            pick = [lambda f, i=i: int(f[0] if len(f) == 1 else f[i]) for i in range(n)]
            self.top_shapes = [tuple(pick[i](f) for f in legacy) for i in range(n)]
        nf = len(p.data_filler)
        self.check(nf in (0, 1, n), f"data_filler: give 0, 1 or one per top ({n}), found {nf}")
        default = caffe_pb2.FillerParameter(type="constant", value=0)
        self.fillers = [p.data_filler[0] if nf == 1 else p.data_filler[i] if nf else default for i in range(n)]
        from .fillers import fill

        self._fill = fill
        self._fixed: list[torch.Tensor | None] = []
        for s, f in zip(self.top_shapes, self.fillers):
            self._fixed.append(self._filled(s, f) if f.type == "constant" else None)

    def _filled(self, shape, filler) -> torch.Tensor:
        t = torch.zeros(shape, device="cpu")
        try:
            self._fill(t, filler)
        except CaffeError as e:
            raise self.fail(str(e)) from None
        return t

    def forward(self) -> list[torch.Tensor]:
        return [fixed.clone() if fixed is not None else self._filled(s, f)
                for fixed, s, f in zip(self._fixed, self.top_shapes, self.fillers)]


@register("MemoryData")
class MemoryDataLayer(_DataLayer):
    """Batches from arrays given with ``set_input_arrays(data, labels)``; cycles through them."""
    min_tops = 2
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        p = param.memory_data_param
        self.batch = int(p.batch_size)
        self.check(self.batch > 0 and p.channels > 0 and p.height > 0 and p.width > 0,
                   "batch_size, channels, height and width must be specified and positive")
        self.item_shape = (int(p.channels), int(p.height), int(p.width))
        self.top_shapes = [(self.batch, *self.item_shape), (self.batch,)]
        self._data: np.ndarray | None = None
        self._labels: np.ndarray | None = None
        self._pos = 0

    def set_input_arrays(self, data, labels) -> None:
        """Caffe's MemoryDataLayer::Reset: N items (N a multiple of batch_size) of shape (C, H, W)."""
        d = np.ascontiguousarray(data, dtype=np.float32)
        lab = np.ascontiguousarray(labels, dtype=np.float32).reshape(-1)
        self.check(d.ndim == 4 and tuple(d.shape[1:]) == self.item_shape,
                   f"data must be N x {' x '.join(map(str, self.item_shape))}, got {list(d.shape)}")
        self.check(len(lab) == len(d), f"{len(d)} data items but {len(lab)} labels")
        self.check(len(d) > 0 and len(d) % self.batch == 0,
                   f"the number of items ({len(d)}) must be a positive multiple of batch_size ({self.batch})")
        self._data, self._labels, self._pos = d, lab, 0

    def forward(self) -> list[torch.Tensor]:
        if self._data is None:
            raise self.fail("no data: call set_input_arrays(data, labels) before forward")
        s = slice(self._pos, self._pos + self.batch)
        out = [torch.from_numpy(self._data[s].copy()), torch.from_numpy(self._labels[s].copy())]
        self._pos = (self._pos + self.batch) % len(self._data)
        return out


def _batch_shape_log(src: str, shape) -> None:
    log.info(src, "output data size: " + ",".join(str(int(d)) for d in shape))


@contextlib.contextmanager
def _one_cpu_thread(device: torch.device):
    """On a CPU the batch's few cheap ops run best on one thread: torch's intra-op threads cost more in
    their barriers than they save here, and far more when other processes share the cores (256 images
    with mean and scale: 0.5 ms on one thread, 21 ms on two, on the 2-core machine under load)."""
    n = torch.get_num_threads()
    if device.type != "cpu" or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class _PrefetchingLayer(_DataLayer):
    """Caffe's BasePrefetchingDataLayer: a reader makes batches ``data_param.prefetch`` ahead on a thread
    (data/prefetch.py), unless its source is decoded in memory; the forward transforms the whole batch on
    the net's device (BatchTransformer), then runs the augmenter in TRAIN when ``transform_param.augment``
    asks for one (an extension)."""

    def _start_pipeline(self, reader: _Reader, param) -> None:
        self.reader = reader
        self.transformer = reader.transformer
        # A source decoded into memory makes a batch by indexing: nothing to hide, and a thread would only
        # take a core from torch's threads (LeNet on 2 cores: 18% slower with it). It reads in the forward.
        depth = 0 if reader.cursor().decoded is not None else param.data_param.prefetch
        self._prefetch = Prefetcher(reader.produce, reader.state, reader.restore, depth,
                                    name=f"prefetch {self.name}")
        weakref.finalize(self, self._prefetch.close)
        self._augment = None
        if param.transform_param.HasField("augment"):
            from ..data.augment import build_augmenter
            seed = int(self.rng().integers(2**62)) if self.phase == caffe_pb2.TRAIN else 0
            self._augment = build_augmenter(param.transform_param, self.phase, where=f"layer {self.name}",
                                            seed=seed)
        if self._augment is not None and self._augment.mixes:  # mixup / cutmix: rows of class weights
            self.check(len(self.top_shapes) > 1, "transform_param.augment mixup_alpha / cutmix_alpha mix the "
                                                 "labels: the layer needs a label top")
            self.top_shapes[1] = (self.batch, int(param.transform_param.augment.num_classes))

    def next_batch(self, device: torch.device | str = "cpu") -> list[torch.Tensor]:
        """The next batch on ``device``: the transformed data (float32) and, with a second top, the labels."""
        device = torch.device(device)
        pin = device.type == "cuda"
        if pin != self.reader.pin:
            self._prefetch.rewind()
            self.reader.pin = pin
        b = self._prefetch.next()
        for _ in range(b.wraps):
            log.info("data_layer.cpp:73", "Restarting data prefetching from start.")
        data = b.data.to(device, non_blocking=True)
        if b.draws is not None:
            with _one_cpu_thread(device):
                data = self.reader.batcher.apply(data, b.draws)
        labels = b.labels.to(device, non_blocking=True)
        if self._augment is not None:
            data, labels = self._augment(data, labels)
        return [data, labels][:len(self.top_shapes)]

    def forward(self) -> list[torch.Tensor]:
        return self.next_batch("cpu")


@register("Data")
class DataLayer(_PrefetchingLayer):
    """Datum records from an LMDB in key order, through the DataTransformer."""
    min_tops = 1
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        p = param.data_param
        self.batch = int(p.batch_size)
        self.check(self.batch > 0, "data_param batch_size must be positive")
        self.check(p.HasField("source"), "data_param source is missing")
        if p.backend != caffe_pb2.DataParameter.LMDB:
            raise self.fail(f"backend {caffe_pb2.DataParameter.DB.Name(p.backend)} is not supported: "
                            "use backend: LMDB (convert_imageset -backend lmdb)")
        # shuffle (an extension): a new order at every pass, from the layer's generator
        # (what the reader thread holds never refers to the layer: the layer's finalizer stops the thread)
        self.records = LmdbRecords(p.source, f"layer {self.name}", self.rng().permutation if p.shuffle else None)
        transformer = DataTransformer(param.transform_param, phase, f"layer {self.name}", self.rng())
        where = f"{p.source}: first record"
        first = transformer.datum_image(parse_datum(self.records.first_value, where), where)
        item_shape = transformer.infer_shape(first.shape)
        reader = LmdbReader(self.records, transformer, self.batch, item_shape)
        tp = param.transform_param
        self.records.decode_all(reader.decode, int(p.cache_mb), (tp.force_color, tp.force_gray))
        if p.rand_skip:
            skip = int(self.rng().integers(p.rand_skip))
            log.info("data_reader.cpp:94", f"Skipping first {skip} data points.")
            self.records.take(skip)
        self.item_shape = item_shape
        self.top_shapes = [(self.batch, *item_shape)]
        if len(param.top) > 1:
            self.top_shapes.append((self.batch,))
        _batch_shape_log("data_layer.cpp:45", self.top_shapes[0])
        self._start_pipeline(reader, param)
        self.records.before_move = self._prefetch.rewind


@register("ImageData")
class ImageDataLayer(_PrefetchingLayer):
    """Images named in a list file ("path label" per line) under root_folder, through the transformer."""
    min_tops = 2
    max_tops = 2

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        p = param.image_data_param
        self.batch = int(p.batch_size)
        self.check(self.batch > 0, "image_data_param batch_size must be positive")
        self.new_h, self.new_w = int(p.new_height), int(p.new_width)
        self.check((self.new_h == 0) == (self.new_w == 0),
                   "new_height and new_width must be set at the same time")
        self.is_color = bool(p.is_color)
        self.root = p.root_folder
        log.info("image_data_layer.cpp:38", f"Opening file {p.source}")
        items = ImageList(self._read_list(p.source), self.rng().permutation if p.shuffle else None)
        if p.shuffle:
            log.info("image_data_layer.cpp:47", "Shuffling data")
            items.reshuffle()
        log.info("image_data_layer.cpp:63", f"A total of {len(items.lines)} images.")
        if p.rand_skip:
            skip = int(self.rng().integers(p.rand_skip))
            log.info("image_data_layer.cpp:69", f"Skipping first {skip} data points.")
            self.check(len(items.lines) > skip, "not enough points to skip")
            items.pos = skip
        transformer = DataTransformer(param.transform_param, phase, f"layer {self.name}", self.rng())
        first = self._read(items.lines[items.order[items.pos]][0])
        self.item_shape = transformer.infer_shape(first.shape)
        self.top_shapes = [(self.batch, *self.item_shape), (self.batch,)]
        _batch_shape_log("image_data_layer.cpp:90", self.top_shapes[0])
        read = functools.partial(_read_image, self.root, self.is_color, self.new_h, self.new_w)
        reader = ListReader(items, read, self.root, transformer, self.batch, self.item_shape)
        key = (os.path.realpath(p.source), os.path.realpath(self.root or "."), self.is_color, self.new_h, self.new_w,
               _mtime(p.source))
        items.decode_all(reader.load, reader.where, int(param.data_param.cache_mb), key)
        self._start_pipeline(reader, param)

    def _read_list(self, source: str) -> list[tuple[str, int]]:
        try:
            with open(source, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise self.fail(f"cannot open image list {source}: {e.strerror}") from None
        lines = []
        for no, line in enumerate(text.splitlines(), 1):
            line = line.rstrip("\r")
            if not line.strip():
                continue
            path, sep, label = line.rpartition(" ")  # Caffe splits at the last space
            try:
                lines.append((path, int(label)))
            except ValueError:
                raise CaffeError(f"{source}:{no}: expected 'path label', found {line!r}") from None
            if not sep:
                raise CaffeError(f"{source}:{no}: expected 'path label', found {line!r}")
        if not lines:
            raise self.fail(f"image list {source} is empty")
        return lines

    def _read(self, path: str) -> np.ndarray:
        return _read_image(self.root, self.is_color, self.new_h, self.new_w, path)


def _read_image(root: str, is_color: bool, new_h: int, new_w: int, path: str) -> np.ndarray:
    from ..data.image import hwc_to_chw, read_image

    return hwc_to_chw(read_image(root + path, is_color, new_h, new_w))


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


__all__ = ["InputLayer", "DummyDataLayer", "MemoryDataLayer", "DataLayer", "ImageDataLayer"]
