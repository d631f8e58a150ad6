"""Image decoding as Caffe's io.cpp does it with OpenCV: ReadImageToCVMat and DecodeDatumToCVMat."""
from __future__ import annotations

import os

import cv2
import numpy as np

from .. import log
from ..errors import CaffeError
from ..proto import caffe_pb2


def _flags(is_color: bool | None) -> int:
    if is_color is None:
        return cv2.IMREAD_UNCHANGED  # DecodeDatumToCVMatNative: imdecode(data, -1)
    return cv2.IMREAD_COLOR if is_color else cv2.IMREAD_GRAYSCALE


def decodes_completely(path: str | os.PathLike) -> bool:
    """False for a JPEG or PNG file cut short. A JPEG ends its last scan with the end-of-image marker
    (FF D9; scan data never holds FF D9 or FF DA, which it byte-stuffs); a PNG ends with its IEND chunk."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return True  # cv2.imread read it; nothing more to say
    if data[:2] == b"\xff\xd8":
        return data.rfind(b"\xff\xd9") > data.rfind(b"\xff\xda")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return b"IEND" in data[-16:]
    return True


def hwc_to_chw(img: np.ndarray) -> np.ndarray:
    """An OpenCV image (HW or HWC, BGR) as a CHW array, the order CVMatToDatum stores."""
    if img.ndim == 2:
        return img[None]
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def decode_bytes(data: bytes, where: str, is_color: bool | None = None) -> np.ndarray:
    """Decode image file bytes (JPEG, PNG, ...) to HW or HWC uint8 (BGR for colour)."""
    img = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _flags(is_color)) if data else None
    if img is None:
        raise CaffeError(f"{where}: could not decode the encoded image")
    return img


def decode_datum(datum: caffe_pb2.Datum, where: str = "record", is_color: bool | None = None
                 ) -> np.ndarray:
    """An encoded Datum's image as a CHW uint8 array, BGR for colour (DecodeDatumToCVMat).

    ``is_color`` None decodes natively (as stored, DecodeDatumToCVMatNative); True forces 3 channels,
    False forces 1.
    """
    return hwc_to_chw(decode_bytes(datum.data, where, is_color))


def read_image(path: str | os.PathLike, is_color: bool = True, new_h: int = 0, new_w: int = 0,
               check_decode: bool = False) -> np.ndarray:
    """ReadImageToCVMat: cv::imread, then cv::resize INTER_LINEAR to (new_h, new_w) when both are > 0.

    Returns HWC (BGR) for colour or HW for gray, uint8. A missing or unreadable file is a CaffeError. A
    file cut short, which OpenCV decodes partly (grey below the cut) without a word, gets a warning naming
    it, as Caffe gave none; with ``check_decode`` it is a CaffeError.
    """
    complete = decodes_completely(path)
    what = f"{path}: the image is truncated: only part of it decodes"
    if not complete and check_decode:  # before libjpeg prints its own "Premature end of JPEG file"
        raise CaffeError(what + " (--check_decode)")
    img = cv2.imread(os.fspath(path), _flags(is_color))
    if img is None:
        if not os.path.exists(path):
            raise CaffeError(f"{path}: no such image file")
        raise CaffeError(f"{path}: could not open or decode the image")
    if not complete:
        log.warning("io.cpp:79", what + "; used as OpenCV decodes it (--check_decode refuses it)")
    if new_h > 0 and new_w > 0:
        img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return img
