"""``caffe.Classifier``: a TEST-phase Net that classifies H x W x K images (resize, crop or ten-crop, forward).

BVLC's python/caffe/classifier.py is the specification; the numbers come from caffe.io and the Net.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import io as caffe_io
from .net import Net
from .proto import caffe_pb2


def input_transformer(net: Net, mean, input_scale, raw_scale, channel_swap) -> caffe_io.Transformer:
    """The Transformer of ``net``'s first input as Classifier and Detector set it up (HxWxC images in)."""
    in_ = net.inputs[0]
    t = caffe_io.Transformer({in_: net.blobs[in_].data.shape})
    t.set_transpose(in_, (2, 0, 1))
    for setter, value in ((t.set_mean, mean), (t.set_input_scale, input_scale), (t.set_raw_scale, raw_scale),
                          (t.set_channel_swap, channel_swap)):
        if value is not None:
            setter(in_, value)
    return t


class Classifier(Net):
    """Net(model_file, TEST, weights=pretrained_file) with a Transformer for its first input.

    ``image_dims`` (height, width) is the size images are scaled to before cropping to the net's input
    size (default: the input size, i.e. the whole image); ``mean``, ``input_scale``, ``raw_scale`` and
    ``channel_swap`` configure the Transformer (transpose is always (2, 0, 1)).
    """

    def __init__(self, model_file: str, pretrained_file: str, image_dims: Sequence[int] | None = None,
                 mean: np.ndarray | None = None, input_scale: float | None = None,
                 raw_scale: float | None = None, channel_swap: Sequence[int] | None = None):
        Net.__init__(self, model_file, caffe_pb2.TEST, weights=pretrained_file)
        in_ = self.inputs[0]
        self.transformer = input_transformer(self, mean, input_scale, raw_scale, channel_swap)
        self.crop_dims = np.array(self.blobs[in_].data.shape[2:])
        if image_dims is None or len(image_dims) == 0:  # pycaffe's `not image_dims` failed on an array
            image_dims = self.crop_dims
        self.image_dims = image_dims

    def predict(self, inputs: Sequence[np.ndarray], oversample: bool = True) -> np.ndarray:
        """Class scores (N x C) of the net's first output for N images.

        Each image is resized to image_dims; with ``oversample`` the scores of the ten crops (corners,
        centre, mirrored) are averaged, otherwise the centre crop (offsets truncated) is scored. The crops
        go through forward_all, in batches of the net's batch size.
        """
        in_ = self.inputs[0]
        images = np.zeros((len(inputs), self.image_dims[0], self.image_dims[1], inputs[0].shape[2]),
                          dtype=np.float32)
        for ix, im in enumerate(inputs):
            images[ix] = caffe_io.resize_image(im, self.image_dims)
        if oversample:
            crops = caffe_io.oversample(images, self.crop_dims)
        else:
            centre = np.array(self.image_dims) / 2.0
            box = (np.tile(centre, 2) + np.concatenate([-self.crop_dims / 2.0, self.crop_dims / 2.0])).astype(int)
            crops = images[:, box[0]:box[2], box[1]:box[3], :]
        caffe_in = np.zeros(np.array(crops.shape)[[0, 3, 1, 2]], dtype=np.float32)
        for ix, crop in enumerate(crops):
            caffe_in[ix] = self.transformer.preprocess(in_, crop)
        predictions = self.forward_all(**{in_: caffe_in})[self.outputs[0]]
        if oversample:
            predictions = predictions.reshape((len(predictions) // 10, 10, -1)).mean(1)
        return predictions
