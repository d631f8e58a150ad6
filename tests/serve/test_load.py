"""A load test on loopback: 200 requests from 8 concurrent clients against the real uvicorn server, every
one answered correctly. The latencies are printed (p50, p95), never asserted."""
from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2 as httpx
import pytest

pytestmark = pytest.mark.e2e
REQUESTS, CLIENTS = 200, 8


def test_200_requests_from_8_clients_all_answered(server, astronaut_small_jpg):
    headers = {"Content-Type": "image/jpeg"}
    with httpx.Client(base_url=server, timeout=60) as c:
        expected = c.post("/predict", content=astronaut_small_jpg, headers=headers).json()
    assert len(expected["faces"]) == 1
    local = threading.local()

    def one(i: int) -> tuple[float, int, dict]:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=server, timeout=60)
        t = time.perf_counter()
        if i % 2:
            r = local.client.post("/predict", content=astronaut_small_jpg, headers=headers)
        else:
            r = local.client.post("/predict", files={"file": ("a.jpg", astronaut_small_jpg, "image/jpeg")})
        return time.perf_counter() - t, r.status_code, r.json()

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, range(REQUESTS)))
    wall = time.perf_counter() - start
    assert [s for _, s, _ in results] == [200] * REQUESTS
    assert all(body == expected for _, _, body in results)
    ms = sorted(1000 * t for t, _, _ in results)
    p50, p95 = statistics.median(ms), ms[int(0.95 * len(ms)) - 1]
    print(f"load test: {REQUESTS} requests, {CLIENTS} clients, 256x256 JPEG: p50 {p50:.0f} ms, "
          f"p95 {p95:.0f} ms, {REQUESTS / wall:.1f} requests/s")  # make test-e2e shows it (-rP)
