"""The embedded demo dataset: synthetic 48x48 grayscale faces in FER2013's CSV format.

The 7 FER expressions (0 Angry .. 6 Neutral) differ in mouth, brows and eyes; each face gets a random
pose, scale, lighting, expression strength and noise, and a few percent of labels are replaced by a
random class, so a small net learns it well but not perfectly. Face i of a seed is the same whatever
the dataset size (its random stream is seeded with (seed, i)).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from ..fsutil import write_bytes_atomic
from .fer_csv import SIDE, write_fer_csv

_S = 4  # faces are drawn at 4x and shrunk, for anti-aliased strokes
_SHIFT = 4  # fixed-point bits for OpenCV drawing


@dataclass(frozen=True)
class Expression:
    """Shape parameters of one expression (all in units of the face radius)."""

    brow_tilt: float  # inner brow ends: + up, - down
    brow_raise: float
    eye_open: float  # eye height / eye width
    mouth_curve: float  # + smile, - frown
    mouth_open: float
    mouth_width: float
    asym: float = 0.0  # one-sided lip raise (disgust)


EXPRESSIONS = (
    Expression(brow_tilt=-0.16, brow_raise=-0.05, eye_open=0.30, mouth_curve=-0.04, mouth_open=0.0, mouth_width=0.32),
    Expression(brow_tilt=-0.06, brow_raise=-0.03, eye_open=0.25, mouth_curve=-0.06, mouth_open=0.03, mouth_width=0.34,
               asym=0.12),
    Expression(brow_tilt=0.14, brow_raise=0.08, eye_open=0.75, mouth_curve=-0.03, mouth_open=0.07, mouth_width=0.46),
    Expression(brow_tilt=0.0, brow_raise=0.02, eye_open=0.38, mouth_curve=0.16, mouth_open=0.04, mouth_width=0.52),
    Expression(brow_tilt=0.13, brow_raise=0.0, eye_open=0.35, mouth_curve=-0.14, mouth_open=0.0, mouth_width=0.38),
    Expression(brow_tilt=0.02, brow_raise=0.16, eye_open=0.85, mouth_curve=0.0, mouth_open=0.20, mouth_width=0.24),
    Expression(brow_tilt=0.0, brow_raise=0.0, eye_open=0.48, mouth_curve=0.0, mouth_open=0.0, mouth_width=0.40),
)
NEUTRAL = EXPRESSIONS[6]


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * (1 << _SHIFT))), int(round(y * (1 << _SHIFT)))


def _mix(e: Expression, strength: float) -> Expression:
    """The expression at ``strength`` (0 = neutral, 1 = full)."""
    return Expression(*(n + strength * (v - n) for v, n in zip(vars(e).values(), vars(NEUTRAL).values())))


def draw_face(label: int, rng: np.random.Generator) -> np.ndarray:
    """One 48x48 uint8 face of expression ``label``."""
    big = SIDE * _S
    e = _mix(EXPRESSIONS[label], rng.uniform(0.55, 1.15))
    # background: a random gradient
    yy, xx = np.mgrid[0:big, 0:big].astype(np.float32) / big
    angle = rng.uniform(0, 2 * np.pi)
    bg = rng.uniform(40, 200) + rng.uniform(-50, 50) * (np.cos(angle) * xx + np.sin(angle) * yy)
    img = bg.astype(np.float32)
    r = big * 0.36 * rng.uniform(0.85, 1.12)  # face radius (scale)
    cx = big / 2 + rng.uniform(-0.08, 0.08) * big
    cy = big / 2 + rng.uniform(-0.08, 0.08) * big
    skin = rng.uniform(90, 230)
    dark = max(0.0, skin - rng.uniform(70, 130))
    lw = max(1, int(round(r * rng.uniform(0.05, 0.075))))
    canvas = np.zeros((big, big), np.float32)
    cv2.ellipse(canvas, _pt(cx, cy), _pt(r * 0.82, r), 0, 0, 360, 1.0, -1, cv2.LINE_AA, _SHIFT)
    img = img * (1 - canvas) + skin * canvas
    # eyes
    for side in (-1, 1):
        ex, ey = cx + side * 0.36 * r, cy - 0.15 * r
        ew = 0.17 * r
        eh = max(0.04, e.eye_open) * ew
        cv2.ellipse(img, _pt(ex, ey), _pt(ew, eh), 0, 0, 360, float(min(255, skin + 30)), -1, cv2.LINE_AA, _SHIFT)
        cv2.ellipse(img, _pt(ex, ey), _pt(ew, eh), 0, 0, 360, dark, lw, cv2.LINE_AA, _SHIFT)
        pr = min(eh, ew * 0.45)
        cv2.circle(img, _pt(ex, ey), int(pr * (1 << _SHIFT)), dark, -1, cv2.LINE_AA, _SHIFT)
        # brow: outer end, inner end
        by = ey - (0.25 + e.brow_raise) * r
        inner = (cx + side * 0.14 * r, by - e.brow_tilt * r)
        outer = (cx + side * 0.56 * r, by + 0.3 * e.brow_tilt * r)
        cv2.line(img, _pt(*inner), _pt(*outer), dark, lw + 1, cv2.LINE_AA, _SHIFT)
    # mouth: a parabola through the corners, opened by a lower lip
    my = cy + 0.45 * r
    half = e.mouth_width * r
    xs = np.linspace(-half, half, 17)
    t = (xs / half) ** 2
    lift = e.mouth_curve * r * (1 - t) - e.mouth_curve * r * 0.5  # image y grows downward
    upper = np.stack([cx + xs, my + lift - e.asym * r * np.clip(xs / half, 0, 1)], 1)
    lower = np.stack([cx + xs, my + lift + e.mouth_open * r * (1 - t) * 2], 1)
    if e.mouth_open > 0.02:
        poly = np.concatenate([upper, lower[::-1]])
        cv2.fillPoly(img, [(poly * (1 << _SHIFT)).round().astype(np.int32)], dark * 0.6, cv2.LINE_AA, _SHIFT)
    cv2.polylines(img, [(upper * (1 << _SHIFT)).round().astype(np.int32)], False, dark, lw + 1, cv2.LINE_AA,
                  _SHIFT)
    # pose: rotation about the face centre, shrink to 48x48, lighting and noise
    m = cv2.getRotationMatrix2D((cx, cy), rng.uniform(-15, 15), 1.0)
    img = cv2.warpAffine(img, m, (big, big), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    small = cv2.resize(img, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    contrast = rng.uniform(0.6, 1.2)
    small = (small - small.mean()) * contrast + small.mean() + rng.uniform(-30, 30)
    small += rng.normal(0, rng.uniform(3, 14), small.shape)
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


def make_demo(n_train: int = 4000, n_val: int = 600, n_test: int = 600, seed: int = 0,
              label_noise: float = 0.04) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images (N, 48, 48) uint8, labels (N,), usage (N,)): Training rows, then PublicTest, PrivateTest."""
    n = n_train + n_val + n_test
    images = np.empty((n, SIDE, SIDE), np.uint8)
    labels = np.empty(n, np.int64)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        true = int(rng.integers(len(EXPRESSIONS)))
        images[i] = draw_face(true, rng)
        labels[i] = int(rng.integers(len(EXPRESSIONS))) if rng.random() < label_noise else true
    usage = np.repeat(np.arange(3, dtype=np.int8), [n_train, n_val, n_test])
    return images, labels, usage


def preview_grid(images: np.ndarray, labels: np.ndarray, per_class: int = 10, zoom: int = 2) -> np.ndarray:
    """A uint8 grid with one row per expression (0 Angry .. 6 Neutral) of its first ``per_class`` faces."""
    tile = np.zeros((SIDE, SIDE), np.uint8)
    rows = []
    for k in range(len(EXPRESSIONS)):
        faces = list(images[labels == k][:per_class])
        faces += [tile] * (per_class - len(faces))
        rows.append(np.concatenate(faces, 1))
    grid = np.concatenate(rows, 0)
    return cv2.resize(grid, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)


def write_demo_csv(path: str | os.PathLike, n_train: int = 4000, n_val: int = 600, n_test: int = 600,
                   seed: int = 0, label_noise: float = 0.04, preview: str | os.PathLike | None = None) -> int:
    """Write the demo dataset as a FER CSV (and a PNG of sample faces per class to ``preview``);
    returns the row count."""
    images, labels, usage = make_demo(n_train, n_val, n_test, seed, label_noise)
    write_fer_csv(path, images, labels, usage)
    if preview:
        ok, png = cv2.imencode(".png", preview_grid(images, labels))
        write_bytes_atomic(preview, png.tobytes())
    return len(labels)
