"""BlobProto <-> numpy, honouring both the ``shape`` field and the legacy num/channels/height/width."""
from __future__ import annotations

import os

import numpy as np

from ..errors import CaffeError
from ..proto import caffe_pb2, read_binary, write_binary


def blob_shape(blob: caffe_pb2.BlobProto) -> tuple[int, ...]:
    """The blob's shape: ``shape.dim`` when set, else the legacy 4-D fields (as Blob::FromProto)."""
    if blob.HasField("shape"):
        return tuple(int(d) for d in blob.shape.dim)
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return (blob.num, blob.channels, blob.height, blob.width)
    n = len(blob.data) or len(blob.double_data)
    return (n,) if n else (0,)


def blob_to_array(blob: caffe_pb2.BlobProto, source: str = "blob") -> np.ndarray:
    """The blob's data as a float32 array of its shape (double_data is cast)."""
    shape = blob_shape(blob)
    data = np.asarray(blob.data if len(blob.data) else blob.double_data, dtype=np.float32)
    expected = int(np.prod(shape)) if shape else 1
    if data.size != expected:
        raise CaffeError(f"{source}: blob has {data.size} values but shape {list(shape)} needs {expected}")
    return data.reshape(shape)


def legacy_shape(shape) -> tuple[int, int, int, int]:
    """Blob::num(), channels(), height(), width(): the axes a blob lacks count as 1; a blob of more than 4
    axes has none (ValueError; Caffe aborts)."""
    shape = tuple(int(d) for d in shape)
    if len(shape) > 4:
        raise ValueError(f"cannot use legacy accessors (num/channels/height/width) on a blob with "
                         f"{len(shape)} axes (shape {list(shape)}); use .shape")
    n, c, h, w = shape + (1,) * (4 - len(shape))
    return n, c, h, w


def array_to_blob(arr: np.ndarray, legacy_4d: bool = False, diff: np.ndarray | None = None
                  ) -> caffe_pb2.BlobProto:
    """A BlobProto holding ``arr`` as float32; ``legacy_4d`` writes num/channels/height/width
    (as compute_image_mean does) instead of ``shape``."""
    arr = np.asarray(arr, dtype=np.float32)
    b = caffe_pb2.BlobProto()
    if legacy_4d:
        s = (1,) * (4 - arr.ndim) + tuple(arr.shape) if arr.ndim <= 4 else None
        if s is None:
            raise ValueError("legacy 4-D blob needs at most 4 axes")
        b.num, b.channels, b.height, b.width = s
    else:
        b.shape.dim.extend(int(d) for d in arr.shape)
    b.data.extend(arr.ravel().tolist())
    if diff is not None:
        b.diff.extend(np.asarray(diff, dtype=np.float32).ravel().tolist())
    return b


def read_blob_file(path: str | os.PathLike) -> np.ndarray:
    """Read a .binaryproto (mean file, infogain matrix) as a float32 array of its shape."""
    return blob_to_array(read_binary(path, caffe_pb2.BlobProto()), str(path))


def write_blob_file(path: str | os.PathLike, arr: np.ndarray, legacy_4d: bool = True) -> None:
    write_binary(path, array_to_blob(arr, legacy_4d=legacy_4d))
