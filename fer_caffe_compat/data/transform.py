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

import numpy as np

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
