"""tools/train as a real process that a test signals at moments it observes (a log line, a file), never at
wall-clock times: what the signal interrupts may vary, what the test asserts may not."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from ..conftest import ROOT


def as_from_a_terminal() -> None:
    """The child starts as a command typed in a terminal does: SIGINT and SIGTERM at their defaults. (A test
    run from a background job inherits SIGINT ignored, which Python, and so the tool, keeps.)"""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class TrainProcess:
    def __init__(self, run: Path, *args: str, env: dict | None = None):
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen([str(ROOT / "tools" / "train"), *args], cwd=run, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
                                     preexec_fn=as_from_a_terminal)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for_line(self, pred: Callable[[str], bool], timeout: float = 120) -> str:
        """The first stderr line satisfying ``pred`` (waiting for it); fails if the process ends first."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                for line in self.lines[seen:]:
                    if pred(line):
                        return line
                seen = len(self.lines)
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise AssertionError("tools/train ended first:\n" + "\n".join(self.lines[-20:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for a line:\n" + "\n".join(self.lines[-20:]))
                self._cond.wait(min(left, 0.5))

    def wait_for_file(self, folder: Path, pattern: str, timeout: float = 120, poll: float = 0.0005,
                      exclude: frozenset = frozenset()) -> Path:
        """The first file matching ``pattern`` in ``folder`` that is not in ``exclude`` (polling)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = sorted(x for x in folder.glob(pattern) if x not in exclude)
            if found:
                return found[0]
            if self.proc.poll() is not None:
                raise AssertionError("tools/train ended first:\n" + "\n".join(self.lines[-20:]))
            time.sleep(poll)
        raise AssertionError(f"timed out waiting for {pattern}")

    def signal(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def finish(self, timeout: float = 180) -> subprocess.CompletedProcess:
        self.proc.wait(timeout)
        self._reader.join(timeout)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, "", "\n".join(self.lines) + "\n")
