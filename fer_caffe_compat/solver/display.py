"""The solver's display: Caffe's glog lines of the loop (smoothed loss, net outputs) and their float32 arithmetic.

parse_log.sh reads these lines, so they are Caffe's to the character: the loss is averaged over
``average_loss`` iterations in float32 (Solver::UpdateSmoothedLoss) and printed as Caffe's ostream prints
a float.
"""
from __future__ import annotations

import math

import numpy as np

from .. import log
from ..errors import CaffeError

F32 = np.float32


def fmt32(x) -> str:
    """A float32 as Caffe's ostream prints it (6 significant digits; glibc writes a negative NaN "-nan")."""
    x = float(F32(x))
    if math.isnan(x):
        return "-nan" if math.copysign(1.0, x) < 0 else "nan"
    return log.fmt(x)


_fmt32 = fmt32  # the name other modules imported before the split


class Display:
    """The part of the Solver that writes the loop's log lines (a mixin: reads ``param``, ``rank``, ``iter``,
    ``losses``, ``smoothed_loss``, ``snapshots`` and ``source`` of the Solver)."""

    def _info(self, src: str, msg: str) -> None:
        if self.rank == 0:
            log.info(src, msg)

    def _check_nan(self, loss) -> None:
        """Caffe trains on through a NaN loss; here the run stops, naming the iteration and the newest
        snapshot whose weights gave a finite loss."""
        if math.isnan(float(loss)):
            raise CaffeError(f"{self.source}: iteration {self.iter}: loss is NaN, training stopped; "
                             f"{self.snapshots.nan_message(self.iter)}")

    def _update_smoothed_loss(self, loss, start_iter: int) -> None:
        """Solver::UpdateSmoothedLoss in float32 (the running sum's round-off shows in Caffe's log)."""
        avg = max(self.param.average_loss, 1)
        if len(self.losses) < avg:
            self.losses.append(loss)
            n = len(self.losses)
            self.smoothed_loss = F32((self.smoothed_loss * F32(n - 1) + loss) / F32(n))
        else:
            idx = (self.iter - start_iter) % avg
            self.smoothed_loss = F32(self.smoothed_loss + F32(F32(loss - self.losses[idx]) / F32(avg)))
            self.losses[idx] = loss

    def _log_iteration(self, lapse_s: float, iterations: int) -> None:
        """Solver::Step's display line; Caffe's CPUTimer counts whole milliseconds."""
        lapse = F32(math.floor(lapse_s * 1000) / 1000)
        per_s = F32(iterations / (lapse if lapse else F32(1)))
        self._info("solver.cpp:239", f"Iteration {self.iter} ({fmt32(per_s)} iter/s, "
                   f"{fmt32(lapse)}s/{self.param.display} iters), loss = {fmt32(self.smoothed_loss)}")

    def _log_outputs(self, net, out: dict, src: str, what: str, values: list | None = None) -> None:
        idx = 0
        for j, name in enumerate(net.output_names):
            vals = values[j] if values is not None else out[name].detach().reshape(-1).cpu().numpy()
            w = net.loss_weights.get(name, 0.0)
            for v in np.asarray(vals, dtype=np.float64).reshape(-1):
                v = F32(v)
                extra = f" (* {log.fmt(w)} = {fmt32(F32(w) * v)} loss)" if w else ""
                self._info(src, f"    {what} net output #{idx}: {name} = {fmt32(v)}{extra}")
                idx += 1
