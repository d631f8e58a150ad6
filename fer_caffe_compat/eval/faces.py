"""Faces in photographs: OpenCV's Haar cascade (shipped by opencv-python-headless 4.x, nothing downloaded),
and the crop that turns a face into a training-like net input (gray or colour, resized)."""
from __future__ import annotations

import os
from functools import lru_cache

import cv2
import numpy as np

from ..errors import CaffeError

CASCADE = "haarcascade_frontalface_default.xml"

Box = tuple[int, int, int, int]  # x, y, w, h in pixels


@lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    path = os.path.join(cv2.data.haarcascades, CASCADE)
    c = cv2.CascadeClassifier(path)
    if c.empty():
        raise CaffeError(f"{path}: cannot load OpenCV's Haar cascade (is opencv-python-headless 4.x installed?)")
    return c


def detect_faces(image: np.ndarray, min_size: int = 30, scale_factor: float = 1.1,
                 min_neighbors: int = 5) -> list[Box]:
    """Frontal faces in an OpenCV image (HW gray or HWC BGR), largest first (ties: top-left first)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    gray = cv2.equalizeHist(gray)
    found = _cascade().detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                        minSize=(min_size, min_size))
    boxes = [tuple(int(v) for v in b) for b in np.asarray(found).reshape(-1, 4)]
    return sorted(boxes, key=lambda b: (-b[2] * b[3], b[1], b[0]))


def crop_face(image: np.ndarray, box: Box, height: int, width: int, channels: int) -> np.ndarray:
    """The box cut out, converted to ``channels`` (1 gray, 3 BGR) and resized to height x width.

    Returns HW (gray) or HWC (BGR) uint8, as an image read with cv2.imread would be. Shrinking uses
    INTER_AREA (averaging, no aliasing); FER's 48x48 training faces were themselves downscaled photos.
    """
    x, y, w, h = box
    face = image[max(y, 0):y + h, max(x, 0):x + w]
    if face.size == 0:
        raise CaffeError(f"face box {box} lies outside the image")
    return to_input_image(face, height, width, channels)


def to_input_image(image: np.ndarray, height: int, width: int, channels: int) -> np.ndarray:
    """Convert an OpenCV image to ``channels`` and resize it to height x width."""
    if channels == 1 and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif channels == 3 and image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[:2] != (height, width):
        shrink = image.shape[0] > height and image.shape[1] > width
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return image
