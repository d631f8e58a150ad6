"""``caffe.io.Transformer``: pycaffe's H x W x K image -> net input preprocessing, and its inverse.

The order of operations is Caffe's (resize, transpose, channel swap, raw_scale, mean, input_scale), and so is
one of its side effects: a float32 input already at the net's size with no channel swap is scaled and
mean-subtracted IN PLACE, the caller's array included (the returned array is a view of it).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


class Transformer:
    """Preprocessing settings per net input; ``inputs`` maps an input name to its blob shape (N, K, H, W).

    The settings live in the public dicts ``transpose``, ``channel_swap``, ``raw_scale``, ``mean`` and
    ``input_scale``, keyed by input name, as in pycaffe (Classifier and Detector read them).
    """

    def __init__(self, inputs: Mapping[str, Sequence[int]]):
        self.inputs = inputs
        self.transpose: dict = {}
        self.channel_swap: dict = {}
        self.raw_scale: dict = {}
        self.mean: dict = {}
        self.input_scale: dict = {}

    def _check_input(self, in_: str) -> None:
        if in_ not in self.inputs:
            raise Exception("{} is not one of the net inputs: {}".format(in_, self.inputs))

    def preprocess(self, in_: str, data: np.ndarray) -> np.ndarray:
        """An H' x W' x K array as the K x H x W net input (float32).

        The size test compares ``data.shape[:2]`` with ``inputs[in_][2:]`` as given, as pycaffe does: an
        inputs dict holding a list shape therefore always resizes (a near no-op at the same size).
        """
        from .io import resize_image

        self._check_input(in_)
        caffe_in = data.astype(np.float32, copy=False)
        transpose = self.transpose.get(in_)
        channel_swap = self.channel_swap.get(in_)
        raw_scale = self.raw_scale.get(in_)
        mean = self.mean.get(in_)
        input_scale = self.input_scale.get(in_)
        in_dims = self.inputs[in_][2:]
        if caffe_in.shape[:2] != in_dims:
            caffe_in = resize_image(caffe_in, in_dims)
        if transpose is not None:
            caffe_in = caffe_in.transpose(transpose)
        if channel_swap is not None:
            caffe_in = caffe_in[channel_swap, :, :]
        if raw_scale is not None:
            caffe_in *= raw_scale
        if mean is not None:
            caffe_in -= mean
        if input_scale is not None:
            caffe_in *= input_scale
        return caffe_in

    def deprocess(self, in_: str, data: np.ndarray) -> np.ndarray:
        """Invert preprocess() (except the resize) on a copy; size-1 axes are squeezed away, as in pycaffe.

        pycaffe's squeeze also dropped the channel axis of 1-channel data, after which a mean or transpose
        failed (a numpy ValueError); here that axis is kept when a mean, channel swap or transpose needs it,
        so a grey input comes back H x W x 1.
        """
        self._check_input(in_)
        transpose = self.transpose.get(in_)
        channel_swap = self.channel_swap.get(in_)
        raw_scale = self.raw_scale.get(in_)
        mean = self.mean.get(in_)
        input_scale = self.input_scale.get(in_)
        decaf_in = data.copy().squeeze()
        rank = len(self.inputs[in_]) - 1  # one image: the blob's axes after N
        needs_axes = mean is not None or channel_swap is not None or transpose is not None
        if needs_axes and decaf_in.ndim < rank <= data.ndim:
            decaf_in = data.copy().reshape(data.shape[data.ndim - rank:])
        if input_scale is not None:
            decaf_in /= input_scale
        if mean is not None:
            decaf_in += mean
        if raw_scale is not None:
            decaf_in /= raw_scale
        if channel_swap is not None:
            decaf_in = decaf_in[np.argsort(channel_swap), :, :]
        if transpose is not None:
            decaf_in = decaf_in.transpose(np.argsort(transpose))
        return decaf_in

    def set_transpose(self, in_: str, order: Sequence[int]) -> None:
        """The axis order taking an H x W x K image to the blob's K x H x W, usually (2, 0, 1)."""
        self._check_input(in_)
        if len(order) != len(self.inputs[in_]) - 1:
            raise Exception("Transpose order needs to have the same number of dimensions as the input.")
        self.transpose[in_] = order

    def set_channel_swap(self, in_: str, order: Sequence[int]) -> None:
        """The channel order after transpose, e.g. (2, 1, 0) for RGB -> BGR (Caffe's reference models)."""
        self._check_input(in_)
        if len(order) != self.inputs[in_][1]:
            raise Exception("Channel swap needs to have the same number of dimensions as the input channels.")
        self.channel_swap[in_] = order

    def set_raw_scale(self, in_: str, scale: float) -> None:
        """The factor applied before the mean: 255 for models trained on [0, 255] pixels."""
        self._check_input(in_)
        self.raw_scale[in_] = scale

    def set_mean(self, in_: str, mean: np.ndarray) -> None:
        """The mean subtracted after raw_scale: per channel (K,) or per pixel (K x H x W, or H x W).

        A per-pixel mean of another size is resized to the input's H x W (through [0, 1], as pycaffe).
        pycaffe failed there for a 2-D mean (transpose of 2 axes) and produced NaN for a constant mean
        (division by its zero range); here both work.
        """
        self._check_input(in_)
        ms = mean.shape
        if mean.ndim == 1:
            if ms[0] != self.inputs[in_][1]:
                raise ValueError("Mean channels incompatible with input.")
            mean = mean[:, np.newaxis, np.newaxis]
        else:
            if len(ms) == 2:
                ms = (1,) + ms
            if len(ms) != 3:
                raise ValueError("Mean shape invalid")
            if ms != tuple(self.inputs[in_][1:]):
                mean = self._resized_mean(mean.reshape(ms), tuple(self.inputs[in_][2:]))
        self.mean[in_] = mean

    @staticmethod
    def _resized_mean(mean: np.ndarray, dims: tuple[int, int]) -> np.ndarray:
        from .io import resize_image

        m_min, m_max = mean.min(), mean.max()
        span = m_max - m_min
        normal = (mean - m_min) / span if span else mean - m_min
        resized = resize_image(normal.transpose((1, 2, 0)), dims).transpose((2, 0, 1))
        return resized * span + m_min if span else resized + m_min

    def set_input_scale(self, in_: str, scale: float) -> None:
        """The factor applied last, after the mean (e.g. 0.017 for std-normalised models)."""
        self._check_input(in_)
        self.input_scale[in_] = scale
