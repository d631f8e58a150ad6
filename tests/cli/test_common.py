"""The runner every tool goes through: each failure one line on stderr and an exit status, no traceback."""
from __future__ import annotations

import errno
import sys

import lmdb
import pytest

from fer_caffe_compat.cli.common import run
from fer_caffe_compat.errors import CaffeError


def _run(capsys, monkeypatch, fail):
    def main(argv):
        if isinstance(fail, BaseException):
            raise fail
        return fail
    monkeypatch.setattr(sys, "argv", ["tool"])
    with pytest.raises(SystemExit) as e:
        run(main, "tool")
    return e.value.code, capsys.readouterr().err


@pytest.mark.parametrize("fail, code, err", [
    (None, 0, ""),
    (3, 3, ""),
    (CaffeError("x.csv:3: bad"), 1, "tool: error: x.csv:3: bad\n"),
    (OSError(errno.ENOSPC, "No space left on device", "out/a.jpg"), 1,
     "tool: error: out/a.jpg: No space left on device\n"),
    (PermissionError(errno.EACCES, "Permission denied", "out"), 1, "tool: error: out: Permission denied\n"),
    (FileNotFoundError(errno.ENOENT, "No such file or directory", "in.txt"), 1,
     "tool: error: in.txt: no such file or directory\n"),
    (lmdb.DiskError("mdb_txn_commit: Input/output error"), 1, "tool: error: LMDB: mdb_txn_commit: Input/output error\n"),
    (KeyboardInterrupt(), 130, "tool: interrupted\n"),
], ids=["ok", "status", "caffe", "ENOSPC", "EACCES", "ENOENT", "lmdb", "ctrl-c"])
def test_every_failure_is_one_line_and_a_status(capsys, monkeypatch, fail, code, err):
    assert _run(capsys, monkeypatch, fail) == (code, err)


def test_a_bug_still_shows_its_traceback(capsys, monkeypatch):
    with pytest.raises(ZeroDivisionError):
        _run(capsys, monkeypatch, ZeroDivisionError("a bug"))
