"""tools/serve as a user runs it: a real process on a loopback port, and its one-line errors."""
from __future__ import annotations

import signal
import socket
import subprocess
import time

import httpx2 as httpx
import pytest

from fer_caffe_compat.cli import serve
from fer_caffe_compat.errors import CaffeError

from ..cli.tool_run import assert_one_line_error, run_tool
from ..cli.train_process import as_from_a_terminal
from ..conftest import ROOT
from ..eval.tiny import DEPLOY, MEAN, SCALE


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tools_serve_answers_and_stops_on_sigint(weights, astronaut_png):
    port = _free_port()
    proc = subprocess.Popen([str(ROOT / "tools" / "serve"), "--model", str(DEPLOY), "--weights", str(weights),
                             "--mean", str(MEAN), "--scale", str(SCALE), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal)
    try:
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "tools/serve did not start"
            time.sleep(0.2)
        r = httpx.post(url + "/predict", files={"file": ("a.png", astronaut_png, "image/png")}, timeout=60)
        assert r.status_code == 200 and len(r.json()["faces"]) == 1
        assert httpx.get(url + "/", timeout=10).text.startswith("<!doctype html>")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.strip() == "serve: interrupted", err  # Ctrl-C, as every tool
    assert f"http://127.0.0.1:{port}/" in out


def test_a_missing_weights_file_is_one_line(tmp_path):
    proc = run_tool("serve", "--model", DEPLOY, "--mean", MEAN, "--weights", tmp_path / "none.caffemodel")
    assert_one_line_error(proc, "serve", "none.caffemodel")


@pytest.mark.parametrize("flag, value", [("--max_bytes", "0"), ("--batch-size", "0"), ("--port", "70000")])
def test_bad_arguments_are_caffe_errors(weights, flag, value):
    with pytest.raises(CaffeError, match=f"{flag} {value}"):
        serve.main(["--model", str(DEPLOY), "--weights", str(weights), "--mean", str(MEAN), flag, value])
