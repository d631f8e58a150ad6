"""The emotions of the faces in one image, as tools/classify and the HTTP service (serve/) report them.

Each face found by OpenCV's Haar cascade (or the whole image, when the faces are already cropped) is cut
out, brought to the training images' size and channels, normalised with the net's mean and scale, and all
faces of the image go through the net in one batch.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .faces import Box, detect_faces
from .predict import Predictor

Face = tuple[Box, np.ndarray]  # (x, y, w, h), probabilities


def classify_faces(pred: Predictor, image: np.ndarray, detect: bool = True, min_face: int = 30,
                   oversample: bool | str = False, where: str = "image") -> list[Face]:
    """(box, probabilities) for every face of an OpenCV image (HW gray or HWC BGR), largest first."""
    h, w = image.shape[:2]
    boxes = detect_faces(image, min_size=min_face) if detect else [(0, 0, w, h)]
    crops = [(pred.fit_image(image[y:y + bh, x:x + bw]), where) for x, y, bw, bh in boxes]
    probs = pred.predict(crops, oversample=oversample) if crops else []
    return list(zip(boxes, probs))


def face_record(box: Box, probs: Sequence[float], names: Sequence[str]) -> dict:
    """The JSON form of one face: its box, each class's probability (6 decimals) and the top class."""
    return {"box": [int(v) for v in box], "probabilities": {n: round(float(v), 6) for n, v in zip(names, probs)},
            "top": names[int(np.argmax(probs))]}
