"""Every bad request gets a 4xx with a one-line JSON error from the real server, which keeps answering."""
from __future__ import annotations

import httpx2 as httpx
import pytest

from .conftest import MAX_BYTES


def _garbage() -> bytes:
    return b"these bytes are a note, not a picture\n" * 10


BAD = {
    "not an image (raw body)": (dict(content=_garbage(), headers={"Content-Type": "image/jpeg"}), 400, "not an image"),
    "not an image (multipart)": (dict(files={"file": ("x.jpg", _garbage(), "image/jpeg")}), 400, "not an image"),
    "empty body": (dict(content=b"", headers={"Content-Type": "image/png"}), 400, "empty body"),
    "empty file": (dict(files={"file": ("x.png", b"", "image/png")}), 400, "empty file"),
    "form without a file": (dict(data={"photo": "x"}, files={"other": ("a.png", b"123", "image/png")}), 400,
                            "no 'file' field"),
    "too large (Content-Length)": (dict(content=b"\xff" * (MAX_BYTES + 1), headers={"Content-Type": "image/jpeg"}),
                                   413, "over the limit"),
    "too large (chunked)": (dict(content=iter([b"\xff" * 100_000] * 7), headers={"Content-Type": "image/jpeg"}),
                            413, "over the limit"),
    "wrong content type": (dict(content=b'{"image": 1}', headers={"Content-Type": "application/json"}), 415,
                           "unsupported content type"),
    "no content type": (dict(content=_garbage()), 415, "unsupported content type"),
    "file of a wrong content type": (dict(files={"file": ("notes.txt", _garbage(), "text/plain")}), 415,
                                     "unsupported content type"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_request_is_a_4xx_and_the_server_keeps_answering(case, server, astronaut_png):
    kwargs, status, fragment = BAD[case]
    with httpx.Client(base_url=server, timeout=30) as c:
        r = c.post("/predict", **kwargs)
        assert r.status_code == status, (case, r.status_code, r.text)
        body = r.json()
        assert list(body) == ["error"] and fragment in body["error"] and "\n" not in body["error"]
        assert c.get("/health").status_code == 200
        ok = c.post("/predict", content=astronaut_png, headers={"Content-Type": "image/png"})
        assert ok.status_code == 200 and len(ok.json()["faces"]) == 1
