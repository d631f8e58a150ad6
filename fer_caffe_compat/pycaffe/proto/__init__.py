"""``caffe.proto.caffe_pb2``: the project's schema (Caffe 1.0's messages plus the marked extensions)."""
import sys

from fer_caffe_compat.proto import caffe_pb2

# `import caffe.proto.caffe_pb2` and `from caffe.proto import caffe_pb2` give the one generated module, so
# messages made either way are the same classes as the package's own.
sys.modules[__name__ + ".caffe_pb2"] = caffe_pb2

__all__ = ["caffe_pb2"]
