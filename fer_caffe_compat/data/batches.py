"""The batches of the Data and ImageData layers, as their prefetch thread makes them.

A reader takes the next ``batch`` records from its cursor (records.py), decodes them (or indexes the
decoded copy) and takes the batch's random draws from the layer's generator, in DataTransformer's order.
It hands over the raw pixels (uint8 as stored, pinned when the net is on a GPU) with the draws; the layer
transforms the whole batch on the net's device (BatchTransformer). Images of different sizes in one batch
(possible with crop_size) are transformed one by one here, by the same code with the same draws.
Errors are DataLayer's and ImageDataLayer's, word for word.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..errors import CaffeError
from ..io.db import parse_datum
from .records import ImageList, LmdbRecords
from .transform import BatchTransformer, DataTransformer, Draws


@dataclass
class RawBatch:
    data: torch.Tensor          # (N, C, H, W) as stored; already transformed (float32) when draws is None
    labels: torch.Tensor        # (N,) float32
    draws: Draws | None
    wraps: int = 0              # times the cursor passed the last record (Caffe logs each)


def _shape(chw) -> str:
    return "x".join(map(str, chw))


class _Reader:
    def __init__(self, transformer: DataTransformer, batch: int, item_shape: tuple[int, int, int]):
        self.transformer = transformer
        self.batcher = BatchTransformer(transformer)
        self.batch = batch
        self.item_shape = item_shape
        self.pin = False  # set by the layer: the net is on a GPU

    def cursor(self):
        """The reader's position in its source (records or list lines): ``state()`` / ``set_state()``."""
        raise NotImplementedError

    def state(self):
        return self.cursor().state(), self.transformer.rng.bit_generator.state

    def restore(self, state) -> None:
        self.cursor().set_state(state[0])
        self.transformer.rng.bit_generator.state = state[1]

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(a))
        return t.pin_memory() if self.pin else t

    def _draw(self, images: list[np.ndarray]) -> Draws:
        """The draws of these images in order: one call per run of same-sized images."""
        parts, start = [], 0
        for i in range(1, len(images) + 1):
            if i == len(images) or images[i].shape != images[start].shape:
                parts.append(self.batcher.draw(i - start, *images[start].shape[1:]))
                start = i
        return Draws.concat(parts)

    def _finish(self, images: list[np.ndarray] | np.ndarray, wheres: list[str], labels: np.ndarray,
                draws: Draws, wraps: int) -> RawBatch:
        """Same-sized images go over raw; different-sized ones are transformed one by one here."""
        if isinstance(images, np.ndarray) or len({img.shape for img in images}) == 1:
            self.batcher.check(images[0].shape, wheres[0])
            return RawBatch(self._tensor(np.stack(images) if isinstance(images, list) else images),
                            self._tensor(labels), draws, wraps)
        out = []
        for i, (img, where) in enumerate(zip(images, wheres)):
            self.batcher.check(img.shape, where)
            out.append(self.batcher.apply(torch.from_numpy(np.array(img))[None], draws[i:i + 1]))
        return RawBatch(self._tensor(torch.cat(out).numpy()), self._tensor(labels), None, wraps)


class LmdbReader(_Reader):
    """DataLayer's records: Datum values from the LMDB, or rows of the decoded copy."""

    def __init__(self, records: LmdbRecords, transformer: DataTransformer, batch: int,
                 item_shape: tuple[int, int, int]):
        super().__init__(transformer, batch, item_shape)
        self.records = records

    def cursor(self):
        return self.records

    def decode(self, value: bytes, where: str) -> tuple[np.ndarray, float]:
        datum = parse_datum(value, where)
        return self.transformer.datum_image(datum, where), float(datum.label)

    def produce(self) -> RawBatch:
        got, wraps = self.records.read(self.batch)
        dec = self.records.decoded
        if dec is not None:
            images = dec.images[got]
            n, _, h, w = images.shape
            return self._finish(images, [dec.wheres[got[0]]], dec.labels[got], self.batcher.draw(n, h, w), wraps)
        images, wheres = [], []
        labels = np.empty(self.batch, np.float32)
        for i, (key, value) in enumerate(got):
            where = self.records.record_where(key)
            img, labels[i] = self.decode(value, where)
            if self.transformer.infer_shape(img.shape) != self.item_shape:
                raise CaffeError(f"{where}: image is {_shape(img.shape)}, the batch is {_shape(self.item_shape)}")
            images.append(img)
            wheres.append(where)
        return self._finish(images, wheres, labels, self._draw(images), wraps)


class ListReader(_Reader):
    """ImageDataLayer's images: files named in the list, or rows of the decoded copy."""

    def __init__(self, items: ImageList, read: Callable[[str], np.ndarray], root: str,
                 transformer: DataTransformer, batch: int, item_shape: tuple[int, int, int]):
        super().__init__(transformer, batch, item_shape)
        self.items, self.read, self.root = items, read, root

    def cursor(self):
        return self.items

    def load(self, i: int) -> tuple[np.ndarray, float]:
        path, label = self.items.lines[i]
        return self.read(path), float(label)

    def where(self, i: int) -> str:
        return self.root + self.items.lines[i][0]

    def produce(self) -> RawBatch:
        dec = self.items.decoded
        images, wheres, parts = [], [], []
        labels = np.empty(self.batch, np.float32)
        for seg in self.items.segments(self.batch):
            # a stretch's draws come before the reshuffle at the wrap, as in ImageDataLayer
            first = len(images)
            for i in map(int, seg):
                if dec is not None:
                    img, labels[len(images)] = dec.images[i], dec.labels[i]
                else:
                    img, labels[len(images)] = self.load(i)
                    if self.transformer.infer_shape(img.shape) != self.item_shape:
                        raise CaffeError(f"{self.where(i)}: image is {_shape(img.shape)}, the batch is "
                                         f"{_shape(self.item_shape)} (set new_height/new_width)")
                images.append(img)
                wheres.append(self.where(i))
            parts.append(self._draw(images[first:]))
        return self._finish(images, wheres, labels, Draws.concat(parts), 0)
