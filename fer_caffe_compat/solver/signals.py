"""Caffe's SignalHandler: what SIGINT, SIGHUP and (an extension) SIGTERM ask the training loop to do."""
from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Callable

import torch

from ..errors import CaffeError

ACTIONS = ("stop", "snapshot", "none")
SIGTERM_ACTIONS = ("snapshot", "stop", "none")
_CODES = ("none", "snapshot", "stop", "snapshot_stop")  # ranks agree on the largest


@dataclass
class Signals:
    """Caffe's SignalHandler: SIGINT / SIGHUP set a requested action, read once by the loop.

    SIGTERM is an extension (Caffe let it end the process at once): what Slurm, Kubernetes and spot VMs send
    before they kill a job. ``sigterm_effect`` "snapshot" writes a snapshot of the current iteration and
    stops, "stop" is SIGINT's stop (snapshot_after_train decides), "none" leaves SIGTERM alone (Caffe).
    A stop remembers its signal (``stopped_by``): tools/train then exits with 128 + its number.
    """
    sigint_effect: str = "stop"
    sighup_effect: str = "snapshot"
    sigterm_effect: str = "none"
    pending: list = field(default_factory=list)  # actions, or (signal number, action)
    stopped_by: signal.Signals | None = None
    force_snapshot: bool = False  # a stop that must leave a snapshot (SIGTERM's "snapshot")

    def install(self) -> Callable[[], None]:
        for eff in (self.sigint_effect, self.sighup_effect):
            if eff not in ACTIONS:
                raise CaffeError(f"invalid signal effect \"{eff}\" (stop, snapshot or none)")
        if self.sigterm_effect not in SIGTERM_ACTIONS:
            raise CaffeError(f"invalid SIGTERM effect \"{self.sigterm_effect}\" (snapshot, stop or none)")
        effects = {signal.SIGINT: self.sigint_effect, signal.SIGHUP: self.sighup_effect}
        if self.sigterm_effect != "none":
            effects[signal.SIGTERM] = "snapshot_stop" if self.sigterm_effect == "snapshot" else "stop"
        old = {s: signal.getsignal(s) for s in effects}
        for s, eff in effects.items():
            signal.signal(s, lambda signum, _frame, eff=eff: self.pending.append((signum, eff)))

        def restore() -> None:
            for s, h in old.items():
                signal.signal(s, h)
        return restore

    def agreed(self, solver) -> str:
        """``requested()`` with several processes: the same action on every rank, the strongest any rank
        got (a signal reaches the ranks at different moments, and a rank that stopped alone would leave
        the others waiting in the next all-reduce)."""
        import torch.distributed as dist

        own = self.requested()
        code = torch.tensor([_CODES.index(("snapshot_stop" if self.force_snapshot else "stop") if own == "stop"
                                          else own)], dtype=torch.int32, device=solver.device)
        dist.all_reduce(code, op=dist.ReduceOp.MAX)
        agreed = _CODES[int(code.item())]
        self.force_snapshot |= agreed == "snapshot_stop"
        return "stop" if agreed in ("stop", "snapshot_stop") else agreed

    @staticmethod
    def share_stop(solver) -> None:
        """Several processes: rank 0 ran the tests, where a signal may have stopped it; every rank stops."""
        import torch.distributed as dist

        flag = torch.tensor([int(solver.requested_early_exit)], dtype=torch.int32, device=solver.device)
        dist.broadcast(flag, 0)
        solver.requested_early_exit = bool(flag.item())

    def requested(self) -> str:
        """The next action to take: "stop", "snapshot" or "none"."""
        while self.pending:
            item = self.pending.pop(0)
            signum, a = item if isinstance(item, tuple) else (None, item)
            if a == "none":
                continue
            if a in ("stop", "snapshot_stop"):
                self.stopped_by = signal.Signals(signum) if signum is not None else self.stopped_by
                self.force_snapshot |= a == "snapshot_stop"
                return "stop"
            return a
        return "none"
