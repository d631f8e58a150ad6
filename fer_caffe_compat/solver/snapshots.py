"""What makes a snapshot worth keeping, and what the loop remembers of the ones it wrote.

- Weights or a history that are not finite are never written: such a snapshot only resumes a diverged run.
- A snapshot whose write fails (a full disk, a read-only file system) is logged with its file and the
  reason; the files of earlier snapshots are untouched (each file is written under a temporary name and
  renamed), and the solver goes on training and tries again at the next snapshot. tools/train exits with
  status 1 when the run's last snapshot failed.
- The NaN stop names the newest snapshot whose weights gave a finite loss: the one written at the NaN's own
  iteration holds the very weights that gave it.
- A process killed while writing leaves a hidden ``.<prefix>_iter_N.caffemodel.<random>.tmp``; the next run
  with that prefix removes them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import torch

from ..fsutil import remove


def first_non_finite(named: Iterable[tuple[str, torch.Tensor]]) -> str | None:
    """The name of the first tensor holding a NaN or an infinity, or None."""
    for name, t in named:
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return name
    return None


@dataclass
class SnapshotRecord:
    """The snapshots a run wrote or resumed from, in order: (iteration, .caffemodel); and its last failure."""
    written: list[tuple[int, str]] = field(default_factory=list)
    failed: tuple[int, str] | None = None  # (iteration, reason) of the last attempt, when it failed

    def wrote(self, it: int, model: str) -> None:
        self.written = [w for w in self.written if w[0] != it] + [(it, model)]
        self.failed = None

    def good_before(self, it: int) -> str | None:
        """The newest snapshot taken before iteration ``it``: its weights gave a finite loss in the forward
        pass of their own iteration (the loop checks every loss)."""
        older = [m for i, m in self.written if i < it]
        return older[-1] if older else None

    def at(self, it: int) -> str | None:
        return next((m for i, m in self.written if i == it), None)

    def nan_message(self, it: int) -> str:
        """The end of the NaN stop's message: the snapshot to go back to, or that there is none."""
        good, bad = self.good_before(it), self.at(it)
        text = f"last good snapshot: {good}" if good else "no good snapshot to resume from"
        if bad:
            text += f" ({bad} holds the weights that gave this loss)"
        return text


_TEMP = re.compile(r"^\.(?P<base>.+)_iter_\d+\.(caffemodel|solverstate)(\.h5)?\.[0-9a-z_]+\.tmp$")


def remove_stale_temporaries(prefix: str, say: Callable[[str], None]) -> list[Path]:
    """Remove the temporary snapshot files of ``prefix`` that a killed run left behind."""
    p = Path(prefix)
    folder, base = (p.parent if str(p.parent) else Path(".")), p.name
    try:
        names = [x for x in folder.iterdir() if x.name.startswith(f".{base}_iter_")]
    except OSError:
        return []
    gone = []
    for x in sorted(names):
        m = _TEMP.match(x.name)
        if m and m["base"] == base and x.is_file():
            remove(x)
            say(f"Removed {x}, the temporary file of a snapshot whose write was interrupted")
            gone.append(x)
    return gone
