"""``caffe.Detector``: a TEST-phase Net that scores windows of images (R-CNN style), warped to the net's input.

BVLC's python/caffe/detector.py is the specification. Where it failed by accident on Python 3 / numpy 2
(a zip of images and windows iterated twice, float slice indices, ``window.copy()`` on a tuple, an assert on
a window outside the image) this does what it meant; see each docstring.
"""
from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np

from . import io as caffe_io
from .classifier import input_transformer
from .net import Net
from .proto import caffe_pb2

Window = Sequence[int]  # (ymin, xmin, ymax, xmax), ymax/xmax exclusive as Python slices


class Detector(Net):
    """Net(model_file, TEST, weights=pretrained_file) with a Transformer for its first input.

    ``mean``, ``input_scale``, ``raw_scale`` and ``channel_swap`` configure the Transformer (transpose is
    always (2, 0, 1)); ``context_pad`` pixels of the net input around each window are image context, padded
    with the mean where the context leaves the image (R-CNN's crop).
    """

    def __init__(self, model_file: str, pretrained_file: str, mean: np.ndarray | None = None,
                 input_scale: float | None = None, raw_scale: float | None = None,
                 channel_swap: Sequence[int] | None = None, context_pad: int | None = None):
        Net.__init__(self, model_file, caffe_pb2.TEST, weights=pretrained_file)
        self.transformer = input_transformer(self, mean, input_scale, raw_scale, channel_swap)
        self.configure_crop(context_pad)

    def detect_windows(self, images_windows: Iterable[tuple[str, Sequence[Window]]]) -> list[dict]:
        """Score every window of every image: a list of {'window', 'prediction', 'filename'} dicts, in order.

        Each window is cropped (crop()), warped to the net's input size by the Transformer and scored by
        forward_all; 'prediction' is that window's row of the net's first output. The pairs are read once
        (pycaffe iterated them twice, so a zip or generator gave no detections on Python 3).
        """
        images_windows = [(fname, list(windows)) for fname, windows in images_windows]
        window_inputs = []
        for image_fname, windows in images_windows:
            image = caffe_io.load_image(image_fname).astype(np.float32)
            window_inputs.extend(self.crop(image, window) for window in windows)
        if not window_inputs:
            return []
        in_ = self.inputs[0]
        caffe_in = np.zeros((len(window_inputs), window_inputs[0].shape[2]) + tuple(self.blobs[in_].data.shape[2:]),
                            dtype=np.float32)
        for ix, window_in in enumerate(window_inputs):
            caffe_in[ix] = self.transformer.preprocess(in_, window_in)
        predictions = self.forward_all(**{in_: caffe_in})[self.outputs[0]]
        detections, ix = [], 0
        for image_fname, windows in images_windows:
            for window in windows:
                detections.append({"window": window, "prediction": predictions[ix], "filename": image_fname})
                ix += 1
        return detections

    def detect_selective_search(self, image_fnames: Sequence[str]) -> list[dict]:
        """detect_windows over Selective Search proposals, from the external
        ``selective_search_ijcv_with_python`` module (https://github.com/sergeyk/selective_search_ijcv_with_python,
        which runs MATLAB); without it, an ImportError saying so."""
        try:
            import selective_search_ijcv_with_python as selective_search
        except ImportError as e:
            raise ImportError(
                "Detector.detect_selective_search needs the selective_search_ijcv_with_python module "
                "(https://github.com/sergeyk/selective_search_ijcv_with_python) on the Python path; "
                f"it could not be imported ({e}). Use detect_windows with your own windows instead.",
                name="selective_search_ijcv_with_python") from None
        image_fnames = [os.path.abspath(f) for f in image_fnames]  # absolute, for MATLAB
        windows_list = selective_search.get_windows(image_fnames, cmd="selective_search_rcnn")
        return self.detect_windows(zip(image_fnames, windows_list))

    def crop(self, im: np.ndarray, window: Window) -> np.ndarray:
        """The window of an H x W x K image; with context_pad, the window grown so that context_pad pixels
        of the (square) net input are context, clipped to the image, resized, and placed on a crop_dims
        canvas of crop_mean (the mean in image space). Python 3 rounding (half to even), as pycaffe ran."""
        window = [int(v) for v in window]
        crop = im[window[0]:window[2], window[1]:window[3]]
        if not self.context_pad:
            return crop
        box = np.array(window, dtype=np.float64)
        crop_size = self.blobs[self.inputs[0]].data.shape[3]  # Caffe's blob width: assumes square
        scale = crop_size / (1.0 * crop_size - self.context_pad * 2)
        half_h = (box[2] - box[0] + 1) / 2.0
        half_w = (box[3] - box[1] + 1) / 2.0
        center = (box[0] + half_h, box[1] + half_w)
        box = np.round(np.tile(center, 2) + scale * np.array((-half_h, -half_w, half_h, half_w)))
        scale_h = crop_size / (box[2] - box[0] + 1)
        scale_w = crop_size / (box[3] - box[1] + 1)
        pad_y = round(float(max(0.0, -box[0]) * scale_h))  # context out of the image, in net-input pixels
        pad_x = round(float(max(0.0, -box[1]) * scale_w))
        im_h, im_w = im.shape[:2]
        box = np.clip(box, 0.0, [im_h, im_w, im_h, im_w])
        clip_h = box[2] - box[0] + 1
        clip_w = box[3] - box[1] + 1
        if not (box[2] > box[0] and box[3] > box[1]):  # Caffe's assert(clip_h > 0 ...) let empty boxes by
            raise ValueError(f"Detector.crop: window {window} lies outside the {im_h}x{im_w} image")
        crop_h = min(round(float(clip_h * scale_h)), crop_size - pad_y)
        crop_w = min(round(float(clip_w * scale_w)), crop_size - pad_x)
        b = box.astype(int)
        context_crop = caffe_io.resize_image(im[b[0]:b[2], b[1]:b[3]], (crop_h, crop_w))
        crop = np.ones(self.crop_dims, dtype=np.float32) * self.crop_mean
        crop[pad_y:pad_y + crop_h, pad_x:pad_x + crop_w] = context_crop
        return crop

    def configure_crop(self, context_pad: int | None) -> None:
        """crop_dims (the net input as H x W x K) and, with context, crop_mean: the Transformer's mean
        brought back to image space (un-transposed, un-swapped, divided by raw_scale), else zeros."""
        in_ = self.inputs[0]
        tpose = self.transformer.transpose[in_]
        inv_tpose = list(np.argsort(tpose))
        self.crop_dims = np.array(self.blobs[in_].data.shape[1:])[inv_tpose]
        self.context_pad = context_pad
        if not self.context_pad:
            return
        channel_order = self.transformer.channel_swap.get(in_)
        raw_scale = self.transformer.raw_scale.get(in_)
        mean = self.transformer.mean.get(in_)
        if mean is None:
            self.crop_mean = np.zeros(self.crop_dims, dtype=np.float32)
            return
        crop_mean = np.array(mean, dtype=np.float64).transpose(inv_tpose)
        if channel_order is not None:
            order = list(channel_order)
            crop_mean = crop_mean[:, :, [order.index(i) for i in range(crop_mean.shape[2])]]
        if raw_scale is not None:
            crop_mean /= raw_scale
        self.crop_mean = crop_mean
