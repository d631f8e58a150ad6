"""Running a tool the way a user does (tools/<name>), for the tests of its one-line errors."""
from __future__ import annotations

import subprocess

from ..conftest import ROOT


def run_tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / "tools" / name), *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, tool: str, *fragments: str) -> None:
    """Exit 1, nothing on stdout, a single 'tool: error: ...' line on stderr naming the fragments."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"{tool}: error: "), lines[0]
    for f in fragments:
        assert f in lines[0], (f, lines[0])
