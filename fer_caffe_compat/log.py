"""glog-format lines exactly as Caffe 1.0 printed them.

``I1122 01:55:04.056345 12345 solver.cpp:239] Iteration 0, loss = 2.3``: severity letter, month and
day, time with microseconds, thread id right-aligned in 5 columns, source file:line, ``] ``, message.
This is the classic prefix (no year) that Caffe's parse_log.sh / extract_seconds.py read.
Every tool logs to stderr, as Caffe does; ``add_file`` also copies the lines to a file.
"""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import sys
import threading
from typing import IO, Iterator

_files: list[IO[str]] = []
_lock = threading.Lock()
_held: list[str] | None = None
quiet = False  # tests may set this to keep stderr clean


def format_line(severity: str, src: str, message: str, when: _dt.datetime | None = None,
                tid: int | None = None) -> str:
    """One glog line (without the newline). ``src`` is Caffe's ``file.cpp:line``."""
    t = when or _dt.datetime.now()
    tid = threading.get_native_id() if tid is None else tid
    return (f"{severity[0]}{t.month:02d}{t.day:02d} {t.hour:02d}:{t.minute:02d}:{t.second:02d}."
            f"{t.microsecond:06d} {tid:>5d} {src}] {message}")


def _emit(severity: str, src: str, message: str) -> None:
    lines = message.split("\n")
    first = format_line(severity, src, lines[0])
    _emit_text("\n".join([first, *lines[1:]]) + "\n")


def _write(text: str) -> None:
    with _lock:
        if not quiet:
            sys.stderr.write(text)
            sys.stderr.flush()
        for f in _files:
            f.write(text)
            f.flush()


def info(src: str, message: str) -> None:
    _emit("I", src, message)


def warning(src: str, message: str) -> None:
    _emit("W", src, message)


def error(src: str, message: str) -> None:
    _emit("E", src, message)


@contextlib.contextmanager
def held_back() -> Iterator[None]:
    """Hold the lines of a block back: written out when it succeeds, dropped when it raises, so that a
    tool failing there (say, building a net) ends in its one error line."""
    global _held
    outer, _held = _held, []
    try:
        yield
    except BaseException:
        _held = outer
        raise
    lines, _held = _held, outer
    for text in lines:
        _emit_text(text)


def _emit_text(text: str) -> None:
    if _held is not None:
        _held.append(text)
    else:
        _write(text)


def add_file(path: str | os.PathLike) -> IO[str]:
    """Also write every following line to ``path`` (appending). Returns the handle for ``remove_file``."""
    f = open(path, "a", encoding="utf-8")
    with _lock:
        _files.append(f)
    return f


def remove_file(f: IO[str]) -> None:
    with _lock:
        if f in _files:
            _files.remove(f)
    f.close()


def fmt(x: float) -> str:
    """A float as glog/iostream prints it by default: 6 significant digits (``%g``)."""
    return f"{x:g}"
