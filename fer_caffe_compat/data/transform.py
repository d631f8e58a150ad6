"""Caffe's DataTransformer: crop, mirror, mean subtraction and scale of one image.

For every output element: ``out[c, h, w] = (in[c, h_off + h, w_off + w'] - mean) * scale`` where ``w'``
is ``w`` or ``W_crop - 1 - w`` when mirrored and ``mean`` is ``mean_file[c, h_off + h, w_off + w']``
(the mean is taken at the cropped position, not cropped separately) or ``mean_value[c]``.
Crop offsets are random in TRAIN and centred in TEST (``(H - crop) // 2``). As in Caffe, ``mirror: true``
flips at random in both phases (data_transformer.cpp draws ``Rand(2)`` whatever the phase).

Random draws come from a numpy generator the owning layer seeds (from the net's seed); Caffe's own
RNG (boost::mt19937 behind caffe_rng_rand) cannot be reproduced draw for draw, so random crops and
mirrors follow Caffe's distribution, not its exact sequence.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import log
from ..errors import CaffeError
from ..io.blob import read_blob_file
from ..proto import caffe_pb2
from .image import decode_datum


class DataTransformer:
    def __init__(self, param: caffe_pb2.TransformationParameter, phase: int, where: str,
                 rng: np.random.Generator | None = None):
        self.param = param
        self.phase = phase
        self.where = where
        self.rng = rng if rng is not None else np.random.default_rng()
        self.scale = float(param.scale)
        self.crop = int(param.crop_size)
        self.mean_file: np.ndarray | None = None
        self.mean_values = np.asarray(param.mean_value, dtype=np.float32)
        if param.force_color and param.force_gray:
            raise CaffeError(f"{where}: cannot set both force_color and force_gray")
        if param.HasField("mean_file"):
            if len(param.mean_value):
                raise CaffeError(f"{where}: cannot specify mean_file and mean_value at the same time")
            log.info("data_transformer.cpp:25", f"Loading mean file from: {param.mean_file}")
            m = read_blob_file(param.mean_file)
            self.mean_file = m.reshape(m.shape[-3:]) if m.ndim >= 3 else m.reshape((1,) * (3 - m.ndim) + m.shape)

    # -- shapes -----------------------------------------------------------------------------
    def infer_shape(self, chw: tuple[int, int, int]) -> tuple[int, int, int]:
        """InferBlobShape: the (C, H, W) one item becomes."""
        c, h, w = chw
        if self.crop:
            if self.crop > h or self.crop > w:
                raise CaffeError(f"{self.where}: crop_size {self.crop} is larger than the image ({h}x{w})")
            return c, self.crop, self.crop
        return c, h, w

    def datum_image(self, datum: caffe_pb2.Datum, where: str) -> np.ndarray:
        """A Datum as a CHW array (uint8 or float32), decoding encoded ones with force_color/force_gray."""
        if datum.encoded:
            is_color = True if self.param.force_color else False if self.param.force_gray else None
            return decode_datum(datum, where, is_color)
        if self.param.force_color or self.param.force_gray:
            log.error("data_transformer.cpp:105", "force_color and force_gray only for encoded datum")
        shape = (datum.channels, datum.height, datum.width)
        if datum.data:
            a = np.frombuffer(datum.data, dtype=np.uint8)
        else:
            a = np.asarray(datum.float_data, dtype=np.float32)
        if a.size != shape[0] * shape[1] * shape[2]:
            raise CaffeError(f"{where}: Datum holds {a.size} values, but {shape} needs "
                             f"{shape[0] * shape[1] * shape[2]}")
        return a.reshape(shape)

    # -- the transform ------------------------------------------------------------------------
    def transform(self, img: np.ndarray, where: str | None = None) -> np.ndarray:
        """Transform one CHW image (uint8 or float) into a float32 CHW array."""
        where = where or self.where
        c, h, w = img.shape
        oc, oh, ow = self.infer_shape((c, h, w))
        h_off = w_off = 0
        if self.crop:
            if self.phase == caffe_pb2.TRAIN:
                h_off = int(self.rng.integers(h - self.crop + 1))
                w_off = int(self.rng.integers(w - self.crop + 1))
            else:
                h_off, w_off = (h - self.crop) // 2, (w - self.crop) // 2
        mirror = bool(self.param.mirror) and bool(self.rng.integers(2))
        x = img[:, h_off:h_off + oh, w_off:w_off + ow].astype(np.float32)
        if self.mean_file is not None:
            if self.mean_file.shape != (c, h, w):
                raise CaffeError(f"{where}: mean_file {self.param.mean_file} is "
                                 f"{'x'.join(map(str, self.mean_file.shape))} but the image is {c}x{h}x{w}")
            x -= self.mean_file[:, h_off:h_off + oh, w_off:w_off + ow]
        elif self.mean_values.size:
            if self.mean_values.size not in (1, c):
                raise CaffeError(f"{where}: specify either 1 mean_value or as many as channels ({c}), "
                                 f"found {self.mean_values.size}")
            x -= self.mean_values.reshape(-1, 1, 1) if self.mean_values.size == c else self.mean_values[0]
        if self.scale != 1.0:
            x *= np.float32(self.scale)
        if mirror:
            x = x[:, :, ::-1]
        return np.ascontiguousarray(x)


@dataclass
class Draws:
    """One batch's random choices, per image: crop offsets and mirror flags."""
    h_off: np.ndarray  # int64 (N,)
    w_off: np.ndarray  # int64 (N,)
    mirror: np.ndarray  # bool (N,)

    def __getitem__(self, s: slice) -> "Draws":
        return Draws(self.h_off[s], self.w_off[s], self.mirror[s])

    @staticmethod
    def concat(parts: list["Draws"]) -> "Draws":
        return Draws(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("h_off", "w_off", "mirror")))


class BatchTransformer:
    """DataTransformer.transform for a whole batch of same-sized images, as tensor operations on any device.

    The per-image DataTransformer stays the specification: ``draw`` takes from its generator, in its order
    (per image: h_off and w_off when cropping in TRAIN, then mirror), so records, crops and flips are the
    ones it would give; ``apply`` computes the same float32 values, ``(x - mean) * scale`` at the crop
    position, then the flip (tests/data/test_transform.py holds the two equal for the same draws).
    """

    def __init__(self, spec: DataTransformer):
        self.spec = spec
        self._means: dict[torch.device, torch.Tensor] = {}

    def check(self, chw: tuple[int, int, int], where: str) -> None:
        """The errors DataTransformer.transform raises for an image of this shape, with the same words."""
        s, (c, h, w) = self.spec, chw
        s.infer_shape(chw)
        if s.mean_file is not None and s.mean_file.shape != (c, h, w):
            raise CaffeError(f"{where}: mean_file {s.param.mean_file} is "
                             f"{'x'.join(map(str, s.mean_file.shape))} but the image is {c}x{h}x{w}")
        if s.mean_file is None and s.mean_values.size not in (0, 1, c):
            raise CaffeError(f"{where}: specify either 1 mean_value or as many as channels ({c}), "
                             f"found {s.mean_values.size}")

    def draw(self, n: int, h: int, w: int) -> Draws:
        """The draws of ``n`` images of height h and width w, in one call on the generator.

        numpy's bounded integers take the same bits per value whether drawn one by one or as an array of
        bounds, so one call with the bounds interleaved per image (h range, w range, 2) equals the
        per-image sequence of DataTransformer.transform, and leaves the generator in the same state."""
        s = self.spec
        random_crop = bool(s.crop) and s.phase == caffe_pb2.TRAIN
        bounds = ([h - s.crop + 1, w - s.crop + 1] if random_crop else []) + ([2] if s.param.mirror else [])
        if s.crop and not random_crop:
            h_off = np.full(n, (h - s.crop) // 2, np.int64)
            w_off = np.full(n, (w - s.crop) // 2, np.int64)
        else:
            h_off = w_off = np.zeros(n, np.int64)
        mirror = np.zeros(n, bool)
        if bounds and n:
            v = s.rng.integers(np.tile(np.asarray(bounds, np.int64), n)).reshape(n, len(bounds))
            if random_crop:
                h_off, w_off = v[:, 0].copy(), v[:, 1].copy()
            if s.param.mirror:
                mirror = v[:, -1].astype(bool)
        return Draws(h_off, w_off, mirror)

    def _mean(self, device: torch.device) -> torch.Tensor | None:
        if device not in self._means:
            s = self.spec
            if s.mean_file is not None:
                m = torch.from_numpy(np.ascontiguousarray(s.mean_file, dtype=np.float32))
            elif s.mean_values.size:
                m = torch.from_numpy(s.mean_values.astype(np.float32)).reshape(-1, 1, 1)
            else:
                m = None
            self._means[device] = m.to(device) if m is not None else None
        return self._means[device]

    def apply(self, x: torch.Tensor, d: Draws) -> torch.Tensor:
        """Transform ``x`` (N, C, H, W), uint8 or float, on its device, into float32 (N, C, oh, ow)."""
        n, c, h, w = x.shape
        _, oh, ow = self.spec.infer_shape((c, h, w))
        y = x.to(torch.float32, copy=True)
        mean = self._mean(x.device)
        if mean is not None:
            y.sub_(mean)
        if self.spec.scale != 1.0:
            y.mul_(float(np.float32(self.spec.scale)))  # Caffe multiplies by the float32 scale
        same_offsets = n == 0 or (d.h_off.min() == d.h_off.max() and d.w_off.min() == d.w_off.max())
        if same_offsets and not d.mirror.any():
            h0, w0 = (int(d.h_off[0]), int(d.w_off[0])) if n else (0, 0)
            return y[:, :, h0:h0 + oh, w0:w0 + ow].contiguous()
        dev = x.device
        if oh != h:  # whole rows: row (n, c, h_off[n] + i) of the (N*C*H, W) view
            rows = ((np.arange(n) * c)[:, None, None] + np.arange(c)[:, None]) * h + d.h_off[:, None, None]
            rows = torch.from_numpy((rows + np.arange(oh)).reshape(-1)).to(dev, non_blocking=True)
            y = y.view(n * c * h, w).index_select(0, rows).view(n, c, oh, w)
        cols = d.w_off[:, None] + np.arange(ow)
        cols = torch.from_numpy(np.where(d.mirror[:, None], cols[:, ::-1], cols)).to(dev, non_blocking=True)
        return y.gather(3, cols.view(n, 1, 1, ow).expand(n, c, oh, ow))
