"""Snapshots and resume: Solver::Snapshot (.caffemodel, then .solverstate) and
SGDSolver::RestoreSolverStateFromBinaryProto (iter, weights from learned_net, current_step, history).

A restore does not move the Data layers' cursors (Caffe saves none): a resumed run reads its first
batch again, unless ``skip_data_to_iteration`` (an option, not Caffe) moves them where an uninterrupted
run would be.
"""
from __future__ import annotations

import contextlib
import os

import torch

from .. import log
from ..errors import CaffeError, os_error_message
from . import snapshots
from .state import SolverState, read_state, write_state


class Checkpoints:
    """The part of the Solver that writes and reads snapshots (a mixin: reads ``param``, ``net``,
    ``history``, ``ema``, ``iter`` and ``current_step`` of the Solver)."""

    def snapshot_filename(self, ext: str) -> str:
        return f"{self.param.snapshot_prefix}_iter_{self.iter}{ext}"

    def snapshot(self) -> None:
        """Solver::Snapshot (.caffemodel, then .solverstate). Never writes weights or a history that are not
        finite; a write that fails is logged and tried again at the next snapshot (solver/snapshots.py)."""
        if self.rank != 0:
            return
        model = self.snapshot_filename(".caffemodel")
        state_file = self.snapshot_filename(".solverstate")
        history = [(f"history blob {i}", h) for i, h in enumerate(h for hs in self.history for h in hs)]
        with self.averaged_weights():
            bad = snapshots.first_non_finite(
                [(f"layer {name} blob {j}", b) for name, layer in zip(self.net.layer_names, self.net.layers)
                 for j, b in enumerate(layer.blobs)] + history)
            if bad is not None:
                self._snapshot_failed(f"{model}: not written: {bad} is not finite (the run diverged)")
                return
            self._info("solver.cpp:464", f"Snapshotting to binary proto file {model}")
            existed = os.path.lexists(model)
            try:
                self.net.save_caffemodel(model, write_diff=self.param.snapshot_diff)
            except OSError as e:
                self._snapshot_failed(os_error_message(e))
                return
        self._info("sgd_solver.cpp:284", f"Snapshotting solver state to binary proto file {state_file}")
        hist = [h.detach().cpu().float().numpy() for _, h in history]
        raw = self.ema.raw_arrays() if self.ema is not None else []
        try:
            write_state(state_file, SolverState(self.iter, model, hist, self.current_step, raw))
        except OSError as e:
            if not existed:  # half a snapshot: its weights cannot resume the run
                with contextlib.suppress(OSError):
                    os.unlink(model)
            self._snapshot_failed(os_error_message(e))
            return
        self.last_snapshot = model
        self.snapshots.wrote(self.iter, model)

    def _snapshot_failed(self, reason: str) -> None:
        self.snapshots.failed = (self.iter, reason)
        last = self.snapshots.written[-1][1] if self.snapshots.written else "none"
        log.error("solver.cpp:464", f"Snapshot at iteration {self.iter} failed: {reason}; training goes on "
                                    f"and tries again at the next snapshot (last snapshot: {last})")

    # -- resume -----------------------------------------------------------------------------------
    def history_shapes(self) -> list[tuple[int, ...]]:
        return [tuple(h.shape) for hs in self.history for h in hs]

    def restore(self, state_file: str) -> None:
        """SGDSolver::RestoreSolverStateFromBinaryProto: iter, weights from learned_net, current_step, history."""
        st = read_state(state_file, self.history_shapes())
        self.iter = st.iter
        if st.learned_net:
            from ..net_weights import load_weights
            load_weights(self.net, st.learned_net)  # every layer, or the state is not this net's
            self.snapshots.written.append((st.iter, st.learned_net))  # a good snapshot for the NaN stop
        self.current_step = st.current_step
        if self.ema is not None:  # learned_net held the average; raw_weights (if any) the weights
            self.ema.restore(st.raw_weights or self.ema.raw_arrays(), state_file)
        self._info("sgd_solver.cpp:336", "SGDSolver: restoring history")
        flat = [h for hs in self.history for h in hs]
        with torch.no_grad():
            for h, arr in zip(flat, st.history):
                h.copy_(torch.from_numpy(arr))

    def skip_data_to_iteration(self) -> None:
        """Exact continuation (not Caffe's behaviour, an option): move every Data layer's cursor to where an
        uninterrupted run would be at ``self.iter``. Caffe saves no cursor, so a resumed Caffe run reads
        batch 0 again; this reads the batches the original run would have read next."""
        p = self.param
        start = 0 if p.test_initialization else 1
        passes = len(range(start, self.iter, p.test_interval)) if p.test_interval else 0
        plans = [(self.net, self.iter * max(p.iter_size, 1))]
        plans += [(net, passes * p.test_iter[i]) for i, net in enumerate(self.test_nets)]
        for net, batches in plans:
            for name, layer in zip(net.layer_names, net.layers):
                if not getattr(layer, "is_data", False) or not batches:
                    continue
                if not hasattr(getattr(layer, "records", None), "take"):
                    raise CaffeError(f"layer {name} ({layer.type}): cannot skip its data to iteration "
                                     f"{self.iter} (only LMDB Data layers can)")
                layer.records.take(layer.batch * batches)

    # -- the loop ----------------------------------------------------------------------------------
