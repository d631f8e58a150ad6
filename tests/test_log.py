"""glog lines as Caffe printed them, at every width of thread id a machine can give (glog pads it to 5)."""
from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest

from fer_caffe_compat import log
from fer_caffe_compat.curves.parse import line_time, parse_log

from . import glog
from .conftest import FIXTURES, ROOT

WHEN = dt.datetime(2024, 12, 2, 1, 19, 42, 981375)
TIDS = {3: 123, 4: 8102, 5: 16941, 7: 1234567}


@pytest.mark.parametrize("digits", sorted(TIDS))
def test_thread_id_is_right_aligned_in_five_columns(digits):
    tid = TIDS[digits]
    line = log.format_line("I", "solver.cpp:239", "Iteration 0, loss = 1.93359", when=WHEN, tid=tid)
    assert line == f"I1202 01:19:42.981375 {tid:>5d} solver.cpp:239] Iteration 0, loss = 1.93359"
    assert line.count(f" {tid} solver") == 1 and len(line.split("] ")[0]) == 42 + max(0, digits - 5)
    g = glog.parse(line)
    assert g == glog.GlogLine("I", "1202", "01:19:42.981375", tid, "solver.cpp:239", "Iteration 0, loss = 1.93359")
    assert line_time(line, 2024) == WHEN


def _with_tid(text: str, tid: int) -> str:
    """Caffe's reference log as a process with thread id ``tid`` would have written it."""
    return re.sub(r"^([IWEF]\d{4} \d\d:\d\d:\d\d\.\d{6}) +\d+ ", lambda m: f"{m[1]} {tid:>5d} ", text, flags=re.M)


@pytest.mark.parametrize("digits", sorted(TIDS))
def test_log_parsers_read_every_thread_id_width(digits, tmp_path):
    text = (FIXTURES / "lenet" / "lenet_train.log").read_text()
    ours = _with_tid(text, TIDS[digits])
    assert [g.tid for g in glog.lines(ours)] == [TIDS[digits]] * len(glog.lines(text))
    assert glog.tagged(ours) == glog.tagged(text)
    assert parse_log(ours.splitlines(), 2024) == parse_log(text.splitlines(), 2024)
    (tmp_path / "lenet_train.log").write_text(ours)
    p = subprocess.run([str(ROOT / "tools" / "parse_log.sh"), "lenet_train.log"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    for ext in ("train", "test"):
        got = (tmp_path / f"lenet_train.log.{ext}").read_text()
        assert got == (FIXTURES / "lenet" / "parse_log_sh" / f"lenet_train.log.{ext}").read_text(), ext
