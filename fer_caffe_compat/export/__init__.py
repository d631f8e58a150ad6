"""Shipping a deploy net: an ONNX file for onnxruntime, TensorRT or OpenCV's dnn module, and a
``torch.export`` program (.pt2), both made by torch's own exporters from the net ``net.py`` builds.

The exported graphs keep Caffe's semantics: ceil-mode pooling (with the window that would start in the
padding dropped), the AVE divisor clipped to the padded input, LRN across and within channels, BatchNorm's
scale-factor blob, Eltwise, Concat, Crop, Dropout (off at test) and Softmax. A layer that cannot be
exported is named in one CaffeError line; nothing is approximated.
"""
from __future__ import annotations

from .module import DeployModule, check_exportable
from .onnx_file import export_onnx
from .preprocess import Preprocess
from .program import export_pt2, load_pt2
from .verify import max_relative_error

__all__ = ["DeployModule", "Preprocess", "check_exportable", "export_onnx", "export_pt2", "load_pt2",
           "max_relative_error"]
