"""The model behind the service: loaded once, shared by every request, one request on the net at a time."""
from __future__ import annotations

import threading

import cv2
import numpy as np

from ..eval.emotions import classify_faces, face_record
from ..eval.predict import Predictor


class RequestError(Exception):
    """A bad request: answered with ``status`` and ``{"error": message}``; the service goes on."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class EmotionModel:
    """A Predictor and its class names. The Haar cascade and the net are shared objects, so detection and
    inference run under one lock; decoding runs outside it. All faces of a request go through the net in
    one batch (up to the predictor's batch size)."""

    def __init__(self, pred: Predictor, names: list[str], min_face: int = 30, info: dict | None = None):
        self.pred = pred
        self.names = list(names)
        self.min_face = min_face
        self.info = dict(info or {})
        self.requests = 0
        self._lock = threading.Lock()

    @staticmethod
    def decode(data: bytes) -> np.ndarray:
        """An encoded image (JPEG, PNG, BMP, WebP, TIFF...) as OpenCV's BGR array."""
        if not data:
            raise RequestError(400, "empty body: send an image")
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None or img.size == 0:
            raise RequestError(400, f"not an image: OpenCV cannot decode these {len(data)} bytes")
        return img

    def predict(self, data: bytes) -> dict:
        """The JSON answer for one encoded image: its size and every face, largest first."""
        img = self.decode(data)
        with self._lock:
            faces = classify_faces(self.pred, img, min_face=self.min_face, where="request")
            self.requests += 1
        return {"width": int(img.shape[1]), "height": int(img.shape[0]),
                "faces": [face_record(box, p, self.names) for box, p in faces]}

    def health(self) -> dict:
        c, h, w = self.pred.input_shape
        return {"status": "ok", **self.info, "classes": self.names, "input": [c, h, w],
                "requests": self.requests}
