"""Annotated pictures for tools/classify: each face's box, its top emotion and a small probability bar."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

MIN_SIDE = 320  # small inputs (48x48 faces) are enlarged so the text stays readable
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BOX = (0, 200, 0)
_BAR = (0, 140, 255)


def annotate(image: np.ndarray, faces: Sequence[tuple[tuple[int, int, int, int], Sequence[float]]],
             names: Sequence[str]) -> np.ndarray:
    """A BGR copy of ``image`` with, per face ``(box, probabilities)``, the box, "Top 87%" above it and
    one bar per class beside it. The picture is enlarged first when its shorter side is under MIN_SIDE."""
    img = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    f = max(1.0, MIN_SIDE / min(img.shape[:2]))
    if f > 1.0:
        img = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_NEAREST)
    else:
        img = img.copy()
    line = max(1, round(min(img.shape[:2]) / 300))
    for box, probs in faces:
        x, y, w, h = (round(v * f) for v in box)
        cv2.rectangle(img, (x, y), (x + w - 1, y + h - 1), _BOX, line + 1)
        k = int(np.argmax(probs))
        cv2.putText(img, f"{names[k]} {100 * probs[k]:.0f}%", (x + 2, max(y - 6, 14 * line)), _FONT,
                    0.5 * line, _BOX, line, cv2.LINE_AA)
        _bars(img, x, y, w, h, probs, names, line)
    return img


def _bars(img: np.ndarray, x: int, y: int, w: int, h: int, probs: Sequence[float], names: Sequence[str],
          line: int) -> None:
    row, bar, label = 11 * line, 50 * line, 48 * line
    width = label + bar + 4
    if x + w + 4 + width <= img.shape[1]:  # right of the box, else left of it, else below it
        left, top = x + w + 4, y
    elif x - width - 4 >= 0:
        left, top = x - width - 4, y
    else:
        left, top = max(0, min(x, img.shape[1] - width)), y + h + 4
    top = min(max(0, top), max(0, img.shape[0] - row * len(names)))
    for i, (name, p) in enumerate(zip(names, probs)):
        ty = top + i * row
        cv2.rectangle(img, (left, ty), (left + width, ty + row - 1), (255, 255, 255), -1)
        cv2.putText(img, name[:10], (left + 2, ty + row - 3), _FONT, 0.3 * line, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.rectangle(img, (left + label, ty + 2), (left + label + max(1, round(bar * float(p))), ty + row - 3),
                      _BAR, -1)
