from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from fer_caffe_compat.eval import faces


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def test_astronaut_has_exactly_one_face_at_her_head():
    boxes = faces.detect_faces(_bgr(data.astronaut()))
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    # her face sits around x 180..270, y 70..160 in the 512x512 photograph
    assert 150 < x < 200 and 40 < y < 100 and 70 < w < 130 and w == h


def test_photo_without_a_face_gives_no_box():
    assert faces.detect_faces(_bgr(data.coffee())) == []


def test_faces_are_ordered_largest_first():
    img = _bgr(data.astronaut())
    big = faces.detect_faces(img)[0]
    small = cv2.resize(img, (256, 256), interpolation=cv2.INTER_AREA)
    canvas = np.full((512, 1024, 3), 128, np.uint8)
    canvas[:256, :256] = small
    canvas[:, 512:] = img
    boxes = faces.detect_faces(canvas)
    assert len(boxes) == 2
    assert boxes[0][0] >= 512 and boxes[0][2] == pytest.approx(big[2], abs=8)
    assert boxes[1][0] < 256 and boxes[1][2] < boxes[0][2]


def test_crop_face_is_gray_at_the_requested_size():
    img = _bgr(data.astronaut())
    face = faces.crop_face(img, (177, 67, 93, 93), 48, 48, 1)
    assert face.shape == (48, 48) and face.dtype == np.uint8
    expect = cv2.resize(cv2.cvtColor(img[67:160, 177:270], cv2.COLOR_BGR2GRAY), (48, 48),
                        interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(face, expect)
    assert faces.crop_face(img, (177, 67, 93, 93), 40, 36, 3).shape == (40, 36, 3)
