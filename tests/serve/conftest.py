"""The service over the tiny FER net (random filler weights: the tests are about the API, not accuracy),
in-process (FastAPI's TestClient) and as a real uvicorn server on a loopback port."""
from __future__ import annotations

import threading
import time

import cv2
import pytest
from skimage import data

from fer_caffe_compat.eval.labels import FER_CLASSES
from fer_caffe_compat.eval.predict import Predictor
from fer_caffe_compat.serve import EmotionModel, create_app

from ..eval.tiny import DEPLOY, MEAN, SCALE, save_weights

MAX_BYTES = 600_000  # over the 465 kB sample PNG


@pytest.fixture(scope="package")
def weights(tmp_path_factory):
    return save_weights(tmp_path_factory.mktemp("serve") / "tiny.caffemodel")


def make_model(weights) -> EmotionModel:
    pred = Predictor(DEPLOY, weights, mean=MEAN, scale=SCALE, batch_size=8)
    return EmotionModel(pred, list(FER_CLASSES), info={"model": DEPLOY.name, "weights": weights.name})


@pytest.fixture(scope="package")
def app(weights):
    return create_app(make_model(weights), max_bytes=MAX_BYTES)


@pytest.fixture(scope="package")
def astronaut_png() -> bytes:
    """The bundled sample photo: one face, 512x512."""
    return cv2.imencode(".png", cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))[1].tobytes()


@pytest.fixture(scope="package")
def astronaut_small_jpg() -> bytes:
    """The sample photo at 256x256 (the face is still found): cheap enough for 200 requests."""
    img = cv2.resize(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR), (256, 256), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", img)[1].tobytes()


@pytest.fixture(scope="package")
def server(app):
    """A real uvicorn server on 127.0.0.1 and a free port, in a thread; yields its base URL."""
    import uvicorn

    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                        lifespan="off"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not t.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(timeout=10)
