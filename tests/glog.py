"""The one parser of glog lines the tests use: the real format, thread-id padding included.

``I1202 01:19:42.981375  8102 solver.cpp:239] message``: severity and month/day (glog >= 0.6 adds the year:
``I20261202``), the time, the thread id right-aligned in 5 columns (so a short id brings extra spaces and a
long one none), ``file:line``, ``] `` and the message. Never split these lines on single spaces.
"""
from __future__ import annotations

import re
from typing import Iterable, NamedTuple

LINE = re.compile(r"^(?P<severity>[IWEF])(?P<date>\d{4}(?:\d{4})?) (?P<time>\d\d:\d\d:\d\d\.\d{6}) +"
                  r"(?P<tid>\d+) (?P<src>[^ \]]+:\d+)\] (?P<msg>.*)$")


class GlogLine(NamedTuple):
    severity: str
    date: str
    time: str
    tid: int
    src: str  # "solver.cpp:239"
    msg: str


def parse(line: str) -> GlogLine | None:
    """The fields of one glog line, or None for a line that is not one (a printed prototxt, a blank)."""
    m = LINE.match(line.rstrip("\r\n"))
    if not m:
        return None
    return GlogLine(m["severity"], m["date"], m["time"], int(m["tid"]), m["src"], m["msg"])


def lines(text_or_lines: str | Iterable[str]) -> list[GlogLine]:
    """Every glog line of a log (text or lines), in order."""
    src = text_or_lines.splitlines() if isinstance(text_or_lines, str) else text_or_lines
    return [g for g in map(parse, src) if g is not None]


def messages(text_or_lines: str | Iterable[str]) -> list[str]:
    return [g.msg for g in lines(text_or_lines)]


def tagged(text_or_lines: str | Iterable[str]) -> list[tuple[str, str]]:
    """(file:line, message) of every glog line."""
    return [(g.src, g.msg) for g in lines(text_or_lines)]
