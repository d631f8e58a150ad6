"""Caffe's tools/extra/parse_log.py and extract_seconds.py, in Python 3, reading both glog prefixes.

``I1122 01:59:40.611913 16941 solver.cpp:239] ...`` (Caffe-era glog) and ``I20261122 01:59:40.611913 ...``
(glog >= 0.6 with the year; Caffe's scripts crash on it). Seconds are counted from the ``Solving`` line.
Without a year in the prefix the year is the log file's ctime year, and a month going backwards means
a new year, exactly as Caffe's scripts do.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections import OrderedDict
from typing import Iterable, Iterator

from ..errors import CaffeError

_PREFIX = re.compile(r"^[IWEF](\d{4})?(\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{6})\s")
RE_ITERATION = re.compile(r"Iteration (\d+)")
RE_TRAIN = re.compile(r"Train net output #(\d+): (\S+) = ([\.\deE+-]+)")
RE_TEST = re.compile(r"Test net output #(\d+): (\S+) = ([\.\deE+-]+)")
RE_LR = re.compile(r"lr = ([-+]?[0-9]*\.?[0-9]+([eE]?[-+]?[0-9]+)?)")


def line_time(line: str, year: int) -> dt.datetime | None:
    """The time stamp of a glog line (None for lines without one, e.g. a printed prototxt)."""
    m = _PREFIX.match(line.strip())
    if not m:
        return None
    y, mo, d, h, mi, s, us = m.groups()
    try:
        return dt.datetime(int(y) if y else year, int(mo), int(d), int(h), int(mi), int(s), int(us))
    except ValueError:
        return None


def created_year(path: str | os.PathLike) -> int:
    return dt.datetime.fromtimestamp(os.path.getctime(path)).year


class _Clock:
    """Seconds since the Solving line, with Caffe's new-year rule for prefixes without a year."""

    def __init__(self, start_line: str, year: int):
        self.year = year
        self.start = line_time(start_line, year)
        if self.start is None:
            raise CaffeError(f"cannot read the time of the Solving line: {start_line.strip()!r}")
        self.last = self.start

    def seconds(self, line: str) -> float | None:
        t = line_time(line, self.year)
        if t is None:
            return None
        if t.month < self.last.month:
            self.year += 1
            t = line_time(line, self.year)
        self.last = t
        return (t - self.start).total_seconds()


def _solving_index(lines: list[str], source: str) -> int:
    for i, line in enumerate(lines):
        if "Solving" in line:
            return i
    raise CaffeError(f"{source}: no \"Solving\" line: not a Caffe training log")


def extract_seconds(lines: list[str], year: int, source: str = "log") -> list[float]:
    """Caffe's extract_seconds.py: seconds since Solving for every line containing 'Iteration'."""
    clock = _Clock(lines[_solving_index(lines, source)], year)
    out = []
    for line in lines:
        if "Iteration" in line:
            s = clock.seconds(line)
            if s is not None:
                out.append(s)
    return out


def _net_output(regex, row, rows, line, iteration, seconds, lr):
    m = regex.search(line)
    if m:
        if not row or row["NumIters"] != iteration:
            if row:
                rows.append(row)
            row = OrderedDict([("NumIters", iteration), ("Seconds", seconds), ("LearningRate", lr)])
        row[m.group(2)] = float(m.group(3))
    if row and rows and len(row) == len(rows[0]):
        rows.append(row)
        row = None
    return rows, row


def parse_log(lines: list[str], year: int, source: str = "log") -> tuple[list[dict], list[dict]]:
    """Caffe's parse_log.py: (train rows, test rows), each row NumIters, Seconds, LearningRate, outputs."""
    start = _solving_index(lines, source)
    clock = _Clock(lines[start], year)
    train: list[dict] = []
    test: list[dict] = []
    train_row = test_row = None
    iteration, lr = -1.0, math.nan
    for line in lines[start + 1:]:
        m = RE_ITERATION.search(line)
        if m:
            iteration = float(m.group(1))
        if iteration == -1:
            continue
        seconds = clock.seconds(line)
        if seconds is None:
            continue
        m = RE_LR.search(line)
        if m:
            lr = float(m.group(1))
        train, train_row = _net_output(RE_TRAIN, train_row, train, line, iteration, seconds, lr)
        test, test_row = _net_output(RE_TEST, test_row, test, line, iteration, seconds, lr)
    for rows in (train, test):
        if len(rows) > 1:  # Caffe's fix_initial_nan_learning_rate
            rows[0]["LearningRate"] = rows[1]["LearningRate"]
    return train, test


def py2_str(x: float) -> str:
    """A float as Python 2's str() wrote it (12 significant digits, always a '.'), as Caffe's CSVs have."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    s = "%.12g" % x
    if not any(c in s for c in ".e"):
        s += ".0"
    return s


def csv_text(rows: list[dict], delimiter: str = ",") -> str:
    """The CSV that parse_log.py writes (csv.excel dialect: \\r\\n line ends)."""
    keys = list(rows[0].keys())
    out = [delimiter.join(keys)]
    for r in rows:
        out.append(delimiter.join(py2_str(r[k]) if isinstance(r.get(k), float) else str(r.get(k, ""))
                                  for k in keys))
    return "\r\n".join(out) + "\r\n"


def read_lines(path: str | os.PathLike) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.readlines()
    except OSError as e:
        raise CaffeError(f"{path}: cannot read: {e.strerror}") from None


def iter_rows(table: Iterable[str]) -> Iterator[list[str]]:
    for line in table:
        if line.strip() and not line.startswith("#"):
            yield line.split()
