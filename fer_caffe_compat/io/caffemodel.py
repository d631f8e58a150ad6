""".caffemodel files: a NetParameter whose layers carry their learned blobs.

Caffe reads them with ReadNetParamsFromBinaryFileOrDie (binary protobuf, then UpgradeNetAsNeeded); a
prototxt that holds blobs is accepted too (text form, as ReadProtoFromTextFile would read it).
Large blobs are encoded through the wire format directly: protobuf's element-wise ``extend`` takes
~0.2 us per float, i.e. half a minute for VGG-16's 138 M weights.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import CaffeError
from ..proto import caffe_pb2, parse_prototxt, read_binary, write_binary

__all__ = ["read_caffemodel", "write_caffemodel", "blob_from_array", "blob_data", "proto_shape",
           "legacy_shape_equals", "shape_string"]


def read_caffemodel(path: str | os.PathLike) -> caffe_pb2.NetParameter:
    """A .caffemodel as a NetParameter (V1 ``layers`` upgraded): binary first, then text."""
    from ..net_upgrade import upgrade_net_param

    try:
        param = read_binary(path, caffe_pb2.NetParameter())
    except CaffeError as binary_error:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            raise binary_error from None
        param = parse_prototxt(text, caffe_pb2.NetParameter(), str(path))
    return upgrade_net_param(param, str(path))


def write_caffemodel(path: str | os.PathLike, param: caffe_pb2.NetParameter) -> None:
    """Write ``param`` as a binary .caffemodel, atomically."""
    write_binary(path, param)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _packed(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def blob_from_array(data: np.ndarray, diff: np.ndarray | None = None) -> caffe_pb2.BlobProto:
    """A BlobProto as Caffe's Blob::ToProto writes it: ``shape``, float ``data`` (and ``diff``)."""
    data = np.asarray(data, dtype="<f4")  # not ascontiguousarray: it turns a 0-axis blob into 1 axis
    dims = b"".join(_varint(int(d)) for d in data.shape)
    wire = _packed(7, _packed(1, dims)) if dims else b""  # a 0-axis blob has no shape field (as Caffe)
    wire += _packed(5, data.tobytes())
    if diff is not None:
        wire += _packed(6, np.asarray(diff, dtype="<f4").tobytes())
    return caffe_pb2.BlobProto.FromString(wire)


def _has_legacy(blob: caffe_pb2.BlobProto) -> bool:
    return any(blob.HasField(f) for f in ("num", "channels", "height", "width"))


def proto_shape(blob: caffe_pb2.BlobProto) -> tuple[int, ...]:
    """The shape Blob::FromProto gives: the legacy 4-D fields when set, else ``shape.dim`` (no shape
    field at all is a 0-axis blob, which is how Caffe writes a channel-shared PReLU slope)."""
    if _has_legacy(blob):
        return (blob.num, blob.channels, blob.height, blob.width)
    return tuple(int(d) for d in blob.shape.dim)


def legacy_shape_equals(shape: tuple[int, ...], blob: caffe_pb2.BlobProto) -> bool:
    """Caffe's Blob::ShapeEquals: a legacy num/channels/height/width blob matches when our shape,
    padded with leading 1s to 4 axes, equals it."""
    if not _has_legacy(blob):
        return tuple(shape) == proto_shape(blob)
    if len(shape) > 4:
        return False
    padded = (1,) * (4 - len(shape)) + tuple(shape)
    return padded == (blob.num, blob.channels, blob.height, blob.width)


def blob_data(blob: caffe_pb2.BlobProto, shape: tuple[int, ...], where: str) -> np.ndarray:
    """The blob's values (float ``data``, else ``double_data``) as float32 of ``shape``."""
    data = np.asarray(blob.data if len(blob.data) else blob.double_data, dtype=np.float32)
    n = 1
    for d in shape:
        n *= int(d)
    if data.size != n:
        raise CaffeError(f"{where}: blob holds {data.size} values, its shape {list(shape)} needs {n}")
    return data.reshape(shape)


def shape_string(shape: tuple[int, ...]) -> str:
    """Caffe's Blob::shape_string: ``20 1 5 5 (500)``."""
    n = 1
    for d in shape:
        n *= int(d)
    return "".join(f"{int(d)} " for d in shape) + f"({n})"

