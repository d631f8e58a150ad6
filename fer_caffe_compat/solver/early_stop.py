"""Early stopping (an extension, not in Caffe 1.0): SolverParameter early_stop_* fields.

Keras' ``EarlyStopping(monitor, patience)`` with ``ModelCheckpoint(save_best_only=True)`` in Caffe's terms:
after every pass of test net ``early_stop_test_net``, its mean output ``early_stop_output`` is compared with
the best so far (higher is better in MAX mode, lower in MIN). A better value writes the net to
``<snapshot_prefix>_best.caffemodel``; ``early_stop_patience`` passes in a row without one stop the run, as
a SIGINT with ``stop`` does (the final snapshot is written, then "Optimization stopped early."). Only a
strict improvement counts, as in Keras with ``min_delta`` 0.

The counters are not in the ``.solverstate``: a resumed run starts them afresh (and rewrites ``_best``
at its first test).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import log
from ..errors import CaffeError, os_error_message
from ..proto import caffe_pb2

MODES = {caffe_pb2.SolverParameter.MAX: "MAX", caffe_pb2.SolverParameter.MIN: "MIN"}


def best_filename(prefix: str) -> str:
    return f"{prefix}_best.caffemodel"


@dataclass
class EarlyStop:
    """What early stopping watches, and what it has seen."""
    patience: int
    output: str
    maximize: bool
    test_net: int
    best_file: str
    best: float | None = None
    best_iter: int = -1
    waits: int = 0

    @classmethod
    def from_param(cls, p: caffe_pb2.SolverParameter, source: str, test_outputs: list[list[str]] | None,
                   ) -> "EarlyStop | None":
        """None when ``early_stop_patience`` is 0 (off). ``test_outputs``: each test net's output names
        (None on ranks that build no test net; the checks then run on rank 0 only)."""
        if p.early_stop_patience == 0:
            return None
        if p.early_stop_patience < 0:
            raise CaffeError(f"{source}: early_stop_patience must be >= 0, got {p.early_stop_patience}")
        k = p.early_stop_test_net
        if test_outputs is not None:
            if not 0 <= k < len(test_outputs):
                raise CaffeError(f"{source}: early_stop_test_net {k}: the solver has {len(test_outputs)} test "
                                 f"net(s); early stopping watches a test net's output")
            if p.early_stop_output not in test_outputs[k]:
                raise CaffeError(f"{source}: early_stop_output \"{p.early_stop_output}\" is not an output of "
                                 f"test net #{k} (its outputs: {', '.join(test_outputs[k]) or 'none'})")
        es = cls(p.early_stop_patience, p.early_stop_output, p.early_stop_mode == caffe_pb2.SolverParameter.MAX,
                 k, best_filename(p.snapshot_prefix))
        log.info("early_stop.py:61", f"Extension (not in Caffe 1.0): early stopping on test net #{k} output "
                 f"{es.output} ({MODES[p.early_stop_mode]}), patience {es.patience} test passes, best net "
                 f"kept in {es.best_file}")
        return es

    def update(self, iteration: int, value: float) -> tuple[bool, bool]:
        """Record one test result: (improved, stop)."""
        better = self.best is None or (value > self.best if self.maximize else value < self.best)
        if better:
            self.best, self.best_iter, self.waits = value, iteration, 0
        else:
            self.waits += 1
        return better, self.waits >= self.patience

    def after_test(self, solver, net_index: int) -> None:
        """Solver.test's hook: update from ``solver.last_test``, keep the best net, request the stop."""
        if net_index != self.test_net or self.output not in solver.last_test:
            return
        value = float(np.asarray(solver.last_test[self.output], dtype=np.float64).reshape(-1)[0])
        improved, stop = self.update(solver.iter, value)
        if improved:
            try:
                solver.net.save_caffemodel(self.best_file)
            except OSError as e:  # as a failed snapshot: logged, and training goes on
                log.error("early_stop.py:85", f"Early stopping: best {self.output} = {log.fmt(value)} at iteration "
                          f"{solver.iter}, but the net could not be saved: {os_error_message(e)}")
                return
            log.info("early_stop.py:88", f"Early stopping: best {self.output} = {log.fmt(value)} at iteration "
                     f"{solver.iter}; saved {self.best_file}")
        elif stop:
            log.info("early_stop.py:91", f"Early stopping at iteration {solver.iter}: {self.output} has not "
                     f"improved for {self.waits} test passes; best {log.fmt(self.best)} at iteration "
                     f"{self.best_iter} ({self.best_file})")
            solver.requested_early_exit = True

    def share(self, solver) -> None:
        """Several processes: rank 0 tests; every rank learns whether it asked to stop."""
        import torch
        import torch.distributed as dist

        flag = torch.tensor([1 if solver.requested_early_exit else 0], dtype=torch.int32, device=solver.device)
        dist.broadcast(flag, 0)
        solver.requested_early_exit = bool(flag.item())
