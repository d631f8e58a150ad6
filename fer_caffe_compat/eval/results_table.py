"""Markdown result tables, and replacing a marked block of a file (README) with one."""
from __future__ import annotations

import os
from typing import Sequence

from ..errors import CaffeError
from ..fsutil import write_text_atomic


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: Sequence[int] = ()) -> str:
    """A GitHub table; columns listed in ``right`` are right-aligned."""
    align = ["---:" if i in right else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}: begin (generated) -->", f"<!-- {name}: end -->"


def replace_block(path: str | os.PathLike, name: str, text: str) -> None:
    """Put ``text`` between the ``name`` markers of ``path`` (each on its own line), atomically."""
    begin, end = markers(name)
    try:
        with open(path, encoding="utf-8") as f:
            old = f.read()
    except OSError as e:
        raise CaffeError(f"{path}: cannot read: {e.strerror}") from None
    i, j = old.find(begin), old.find(end)
    if i < 0 or j < i:
        raise CaffeError(f"{path}: no '{begin}' ... '{end}' block to fill")
    new = old[:i + len(begin)] + "\n" + text.rstrip("\n") + "\n" + old[j:]
    write_text_atomic(path, new)
