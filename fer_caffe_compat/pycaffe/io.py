"""``caffe.io``: pycaffe's image and proto helpers, with Caffe's numbers on numpy 2 / current scikit-image.

BVLC's python/caffe/io.py is the specification. Real pycaffe's copy no longer runs as shipped (np.fromstring,
ndarray.tostring, ``imread(as_grey=)``); these functions keep its results (byte for byte for the protos, the
same scikit-image/scipy calls for the images) and depart only where it failed by accident (see each docstring).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io import db
from fer_caffe_compat.io.blob import array_to_blob

from .proto import caffe_pb2  # as pycaffe's io.py: also makes caffe.proto an attribute of caffe
from .transformer import Transformer

__all__ = ["Transformer", "load_image", "resize_image", "oversample", "blobproto_to_array",
           "array_to_blobproto", "arraylist_to_blobprotovector_str", "blobprotovector_str_to_arraylist",
           "array_to_datum", "datum_to_array", "caffe_pb2"]


# -- proto / datum / ndarray conversion ------------------------------------------------------------
def blobproto_to_array(blob: caffe_pb2.BlobProto, return_diff: bool = False) -> np.ndarray:
    """The blob's data (or diff) as float32 in its shape.

    pycaffe's precedence, which differs from Blob::FromProto's: if any legacy num/channels/height/width field
    is present, the legacy 4-D shape wins (unset ones read 0, so a partly set legacy shape fails with numpy's
    reshape ValueError); otherwise ``shape.dim`` (no dims: a 0-d array, which needs exactly one value).
    """
    data = np.array(blob.diff if return_diff else blob.data, dtype=np.float32)
    if any(blob.HasField(f) for f in ("num", "channels", "height", "width")):
        return data.reshape(blob.num, blob.channels, blob.height, blob.width)
    return data.reshape(tuple(blob.shape.dim))


def array_to_blobproto(arr: np.ndarray, diff: np.ndarray | None = None) -> caffe_pb2.BlobProto:
    """An N-d array (and optional diff of the same shape, unchecked as in Caffe) as a BlobProto with
    ``shape.dim`` set (even for a 0-d array: the empty shape message is serialized) and float data."""
    return array_to_blob(np.asarray(arr), diff=None if diff is None else np.asarray(diff))


def arraylist_to_blobprotovector_str(arraylist: Sequence[np.ndarray]) -> bytes:
    """A list of arrays as a serialized BlobProtoVector."""
    vec = caffe_pb2.BlobProtoVector()
    vec.blobs.extend(array_to_blobproto(a) for a in arraylist)
    return vec.SerializeToString()


def blobprotovector_str_to_arraylist(s: bytes) -> list[np.ndarray]:
    """A serialized BlobProtoVector as a list of arrays (blobproto_to_array of each)."""
    vec = caffe_pb2.BlobProtoVector()
    vec.ParseFromString(s)
    return [blobproto_to_array(b) for b in vec.blobs]


def array_to_datum(arr: np.ndarray, label: int | None = None) -> caffe_pb2.Datum:
    """A C x H x W array as a Datum: uint8 arrays as the ``data`` bytes, anything else as ``float_data``.

    ``label=None`` leaves the label unset (not serialized); ``label=0`` is serialized. Unlike the project's
    LMDB writer (io/db.array_to_datum, as convert_imageset), ``encoded`` is not written, as in pycaffe.
    """
    if arr.ndim != 3:
        raise ValueError("Incorrect array shape.")
    datum = caffe_pb2.Datum()
    datum.channels, datum.height, datum.width = arr.shape
    if arr.dtype == np.uint8:
        datum.data = arr.tobytes()  # C order, as ndarray.tostring() gave
    else:
        datum.float_data.extend(arr.ravel().tolist())
    if label is not None:
        datum.label = label
    return datum


def datum_to_array(datum: caffe_pb2.Datum) -> np.ndarray:
    """A Datum's image as C x H x W: uint8 from ``data``, float64 from ``float_data`` (the label is not
    returned: read ``datum.label``).

    The uint8 result is a writeable copy, as np.fromstring gave in Caffe (the numpy-2 np.frombuffer patch
    made it read-only). An encoded Datum (image file bytes) is decoded as Caffe's DecodeDatumToCVMatNative
    does (BGR for colour), where pycaffe failed reshaping the file bytes.
    """
    try:
        arr = db.datum_to_array(datum, "datum_to_array")
    except CaffeError as e:  # the project's message, as the ValueError pycaffe's reshape raised
        raise ValueError(str(e)) from None
    return arr.copy() if arr.dtype == np.uint8 else arr.astype(np.float64)


# -- image IO ----------------------------------------------------------------------------------
def load_image(filename: str, color: bool = True) -> np.ndarray:
    """An image file as float32 in [0, 1]: H x W x 3 (RGB; grey is tiled, alpha dropped) or, with
    ``color=False``, H x W x 1 (scikit-image's luminance, RGBA blended on white first)."""
    import skimage
    import skimage.io

    img = skimage.img_as_float(skimage.io.imread(filename, as_gray=not color)).astype(np.float32)
    if img.ndim == 2:
        img = img[:, :, np.newaxis]
        if color:
            img = np.tile(img, (1, 1, 3))
    elif img.shape[2] == 4:
        img = img[:, :, :3]
    return img


def resize_image(im: np.ndarray, new_dims: Sequence[int], interp_order: int = 1) -> np.ndarray:
    """An H x W x K array resized to new_dims (height, width), as float32.

    1 and 3 channels go through skimage.transform.resize (mode 'constant') on the image stretched to
    [0, 1] and back; a constant image is returned filled; other channel counts through scipy.ndimage.zoom.
    pycaffe passes no ``anti_aliasing``: scikit-image's default (since 0.19) Gaussian-prefilters any
    downscale, which is written out here so the result does not move with a future default.
    """
    if im.shape[-1] in (1, 3):
        im_min, im_max = im.min(), im.max()
        if not im_max > im_min:
            return np.full((new_dims[0], new_dims[1], im.shape[-1]), im_min, dtype=np.float32)
        from skimage.transform import resize

        im_std = (im - im_min) / (im_max - im_min)
        shrinks = new_dims[0] < im.shape[0] or new_dims[1] < im.shape[1]
        resized_std = resize(im_std, new_dims, order=interp_order, mode="constant", anti_aliasing=shrinks)
        resized_im = resized_std * (im_max - im_min) + im_min
    else:
        from scipy.ndimage import zoom

        scale = tuple(np.array(new_dims, dtype=float) / np.array(im.shape[:2]))
        resized_im = zoom(im, scale + (1,), order=interp_order)
    return resized_im.astype(np.float32)


def oversample(images: Sequence[np.ndarray], crop_dims: Sequence[int]) -> np.ndarray:
    """Ten crops per image (the 4 corners, the centre, then the same 5 mirrored left-right), as a
    (10 N) x h x w x K float32 array. The centre offset is (size - crop) / 2 truncated, as Caffe's int
    cast of the float corners: 12 x 16 cropped to 7 x 9 starts at (2, 3)."""
    im_shape = np.array(images[0].shape)
    crop = np.array(crop_dims)
    h_starts = (0, im_shape[0] - crop[0])
    w_starts = (0, im_shape[1] - crop[1])
    corners = [(i, j) for i in h_starts for j in w_starts]
    centre = (im_shape[:2] / 2.0 - crop / 2.0).astype(int)
    starts = corners + [tuple(centre)]
    crops = np.empty((10 * len(images), crop[0], crop[1], im_shape[-1]), dtype=np.float32)
    ix = 0
    for im in images:
        for i, j in starts:
            crops[ix] = im[i:i + crop[0], j:j + crop[1], :]
            crops[ix + 5] = crops[ix][:, ::-1, :]
            ix += 1
        ix += 5
    return crops
