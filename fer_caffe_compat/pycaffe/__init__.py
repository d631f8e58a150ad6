"""pycaffe's interface (``import caffe``) over this project's Net and Solver.

Installed under the import name ``caffe`` (pyproject's package-dir mapping). A front only: the numerics
live in ``fer_caffe_compat.net``, ``solver/``, ``io/`` and ``eval/``.
"""
from . import io  # noqa: E402  caffe.io (Transformer, load_image, Datum/BlobProto helpers)
