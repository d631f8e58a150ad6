"""POST /predict, GET /health and GET / through FastAPI's TestClient."""
from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fer_caffe_compat.cli import classify, serve

from ..eval.tiny import DEPLOY, MEAN, SCALE
from .conftest import MAX_BYTES


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


def _one_face(answer: dict) -> dict:
    assert (answer["width"], answer["height"]) == (512, 512)
    assert len(answer["faces"]) == 1
    face = answer["faces"][0]
    assert list(face["probabilities"]) == ["Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"]
    assert sum(face["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert face["top"] == max(face["probabilities"], key=face["probabilities"].get)
    return face


def test_multipart_photo_gives_the_faces_tools_classify_gives(client, weights, astronaut_png, tmp_path, capsys):
    r = client.post("/predict", files={"file": ("astronaut.png", astronaut_png, "image/png")})
    assert r.status_code == 200, r.text
    face = _one_face(r.json())
    photo = tmp_path / "astronaut.png"
    photo.write_bytes(astronaut_png)
    assert classify.main(["--model", str(DEPLOY), "--weights", str(weights), "--mean", str(MEAN),
                          "--scale", str(SCALE), str(photo)]) == 0
    expected = json.loads(capsys.readouterr().out)
    assert face == {k: expected[k] for k in ("box", "probabilities", "top")}


def test_raw_image_body_answers_as_multipart(client, astronaut_png):
    raw = client.post("/predict", content=astronaut_png, headers={"Content-Type": "image/png"})
    form = client.post("/predict", files={"file": ("a.png", astronaut_png, "image/png")})
    assert raw.status_code == form.status_code == 200
    assert raw.json() == form.json()


def test_health_names_the_model_and_counts_requests(client, astronaut_png):
    before = client.get("/health").json()
    client.post("/predict", content=astronaut_png, headers={"Content-Type": "image/png"})
    after = client.get("/health").json()
    assert after["status"] == "ok" and after["model"] == DEPLOY.name
    assert after["classes"][3] == "Happy" and after["input"] == [1, 48, 48]
    assert after["requests"] == before["requests"] + 1


def test_page_offers_a_file_input_and_the_webcam(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'type="file"' in r.text and "getUserMedia" in r.text and 'fetch("predict"' in r.text


def test_image_without_a_face_answers_no_faces(client):
    import cv2
    import numpy as np
    blank = cv2.imencode(".png", np.full((120, 160, 3), 200, np.uint8))[1].tobytes()
    r = client.post("/predict", content=blank, headers={"Content-Type": "image/png"})
    assert r.status_code == 200 and r.json() == {"width": 160, "height": 120, "faces": []}


def test_the_model_is_loaded_once(monkeypatch, weights, astronaut_png):
    made = []
    real = serve.make_predictor
    monkeypatch.setattr(serve, "make_predictor", lambda args: made.append(1) or real(args))
    app = serve.build(serve.parse(["--model", str(DEPLOY), "--weights", str(weights), "--mean", str(MEAN),
                                   "--scale", str(SCALE), "--max_bytes", str(MAX_BYTES)]))
    with TestClient(app) as c:
        for _ in range(3):
            assert c.post("/predict", content=astronaut_png, headers={"Content-Type": "image/png"}).status_code == 200
    assert made == [1]


def test_concurrent_requests_are_answered_alike(server, astronaut_small_jpg):
    """Four clients at once on the real server (the e2e load test sends 200 from 8)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx2 as httpx

    def one(_):
        return httpx.post(server + "/predict", content=astronaut_small_jpg, headers={"Content-Type": "image/jpeg"},
                          timeout=60).json()

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(one, range(12)))
    assert all(a == answers[0] for a in answers) and len(answers[0]["faces"]) == 1
