from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from fer_caffe_compat.cli import classify

from ..eval.tiny import DEPLOY, MEAN, SCALE, save_weights
from .tool_run import assert_one_line_error, run_tool


@pytest.fixture(scope="module")
def w48(tmp_path_factory):
    return save_weights(tmp_path_factory.mktemp("w") / "tiny48.caffemodel", 48)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    d = tmp_path_factory.mktemp("photos")
    cv2.imwrite(str(d / "astronaut.png"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(d / "coffee.jpg"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    return d


def _model(w):
    return ["--model", str(DEPLOY), "--weights", str(w), "--mean", str(MEAN), "--scale", str(SCALE)]


def test_astronaut_photo_gives_exactly_one_face(w48, photos, tmp_path):
    ann = tmp_path / "astronaut_annotated.png"
    proc = run_tool("classify", *_model(w48), photos / "astronaut.png", "--annotate", ann)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["file"].endswith("astronaut.png") and rec["frame"] is None
    x, y, w, h = rec["box"]
    assert 150 < x < 200 and 40 < y < 100 and 70 < w < 130
    p = rec["probabilities"]
    assert list(p) == ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    assert sum(p.values()) == pytest.approx(1.0, abs=1e-5) and rec["top"] == max(p, key=p.get)
    with Image.open(ann) as im:
        assert im.format == "PNG" and im.size == (512, 512)


def test_no_face_is_a_message_not_an_error(w48, photos, capsys):
    assert classify.main([*_model(w48), str(photos / "coffee.jpg")]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err.strip().endswith("coffee.jpg: no face found")


def test_no_detect_takes_the_whole_image_and_annotates_enlarged(w48, tmp_path, capsys):
    face = tmp_path / "face.png"
    cv2.imwrite(str(face), np.full((48, 48), 128, np.uint8))
    assert classify.main([*_model(w48), "--no-detect", str(face), "--annotate", str(tmp_path / "ann")]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["box"] == [0, 0, 48, 48]
    with Image.open(tmp_path / "ann" / "face.png") as im:
        assert im.size == (320, 320)


def test_video_every_nth_frame(w48, tmp_path, capsys):
    video = tmp_path / "clip.avi"
    frame = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (256, 256))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (256, 256))
    for _ in range(5):
        writer.write(frame)
    writer.release()
    assert classify.main([*_model(w48), str(video), "--every", "2"]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["frame"] for r in recs] == [0, 2, 4]


def test_unreadable_image_one_line_exit_1(w48, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a picture\n")
    assert_one_line_error(run_tool("classify", *_model(w48), bad), "classify",
                          "notes.jpg: not an image")


def test_video_that_cannot_be_opened_one_line_exit_1(w48, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    assert_one_line_error(run_tool("classify", *_model(w48), bad), "classify",
                          "broken.mp4: cannot open the video")
