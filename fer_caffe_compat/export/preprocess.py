"""The deploy preprocessing (Caffe's DataTransformer at TEST): ``(x - mean) * scale``, then the centred
crop. Written into an exported file as metadata, or as a block of the graph (``--with-preprocess``), so
that the file alone is enough to use the model."""
from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn


class Preprocess(nn.Module):
    """``mean``: a (C, H, W) mean image, (C,) or (1,) mean values, or None; ``scale``; ``input_chw``: the
    net's input (the crop, when smaller than the mean image)."""

    def __init__(self, mean: np.ndarray | None, scale: float, input_chw: tuple[int, int, int]):
        super().__init__()
        self.scale = float(scale)
        self.input_chw = tuple(int(v) for v in input_chw)
        self.has_mean = mean is not None and np.asarray(mean).size > 0
        c = self.input_chw[0]
        m = np.zeros((c, 1, 1), np.float32)
        if self.has_mean:
            m = np.asarray(mean, np.float32)
            if m.ndim != 3:
                m = m.reshape(-1, 1, 1) if m.size == c else np.full((c, 1, 1), m.reshape(-1)[0], np.float32)
        self.register_buffer("mean", torch.from_numpy(np.ascontiguousarray(m)), persistent=False)

    @classmethod
    def from_predictor(cls, pred) -> "Preprocess":
        """What eval.predict.Predictor applies: its mean image or mean values, its scale, its input."""
        mean = pred.mean if pred.mean is not None else pred.mean_values
        return cls(mean, pred.scale, pred.input_shape)

    @property
    def raw_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the raw pixels the block takes: the mean image's size, else the net's input."""
        _, h, w = self.mean.shape
        return (self.input_chw[0], h, w) if h > 1 or w > 1 else self.input_chw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x - self.mean.to(x.dtype)
        if self.scale != 1.0:
            x = x * self.scale
        h, w = x.shape[-2:]
        ch, cw = self.input_chw[1:]
        cy, cx = (h - ch) // 2, (w - cw) // 2  # Caffe's TEST-phase centre
        return x[..., cy:cy + ch, cx:cx + cw]

    def metadata(self) -> dict[str, str]:
        """ONNX metadata_props: how to turn pixels into the net's input, with the numbers to do it."""
        meta = {"caffe.scale": repr(self.scale), "caffe.input_chw": json.dumps(list(self.input_chw)),
                "caffe.preprocess": "input = centre_crop((pixels - mean) * scale) to input_chw; pixels are "
                                    "0..255 in OpenCV's channel order (gray or BGR), resized to the mean's "
                                    "H x W (else to input_chw)"}
        if self.has_mean:
            meta["caffe.mean_shape"] = json.dumps(list(self.mean.shape))
            meta["caffe.mean"] = json.dumps([float(v) for v in self.mean.reshape(-1).tolist()])
        return meta
