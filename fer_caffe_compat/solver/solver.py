"""Caffe's Solver: the training loop over the train net, with its tests, display, snapshots and resume.

The order inside one iteration is Caffe's Solver::Step: clear diffs -> test (at 0, T, 2T, ...) ->
iter_size x forward/backward -> smoothed loss and display -> ApplyUpdate (lr, clip, normalise,
regularise, update) -> ++iter -> snapshot / signal. After max_iter: snapshot (snapshot_after_train), one
more forward pass for the display, a last test, "Optimization Done.". The arithmetic lives in
``lr_policy`` and ``updates``; this module only sequences it. The seams are modules: ``build`` (the nets),
``testing``, ``display`` (glog lines), ``checkpoint`` (snapshots, resume), ``signals``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import random
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from google.protobuf import text_format

from .. import log
from ..proto import caffe_pb2
from ..proto.extensions import solver_extensions
from . import lr_policy, snapshots, updates
from .build import NetBuilding
from .checkpoint import Checkpoints
from .display import F32, Display, _fmt32, fmt32  # noqa: F401  (public names of this module before the split)
from .early_stop import EarlyStop
from .ema import WeightAverage
from .signals import ACTIONS, SIGTERM_ACTIONS, Signals  # noqa: F401
from .testing import Testing

__all__ = ["Solver", "Signals", "F32", "fmt32"]


class Solver(NetBuilding, Testing, Checkpoints, Display):
    """One Caffe solver. ``param`` is the SolverParameter; paths in it are relative to the cwd, as Caffe's.

    ``dtype`` float64 runs the nets and the update in double (Caffe is float32; this exists to check the
    reference runs where float32 round-off is amplified). ``rank``/``world`` come from torch.distributed.
    """

    def __init__(self, param: caffe_pb2.SolverParameter, source: str = "solver",
                 device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                 rank: int = 0, world: int = 1, signals: Signals | None = None,
                 allow_missing_weights: bool = False):
        from ..net import Net, load_net_param  # the net builder is only needed here
        self._Net, self._load = Net, load_net_param
        self.allow_missing_weights = allow_missing_weights  # param.weights may leave layers at their fillers
        self.param, self.source = param, source
        self.device, self.dtype, self.rank, self.world = torch.device(device), dtype, rank, world
        self.signals = signals or Signals()
        lr_policy.check_policy(param, source)
        self.kind = updates.solver_type(param, source)
        self.hyper = updates.Hyper.from_param(param)
        if not param.snapshot_prefix or param.snapshot_prefix.endswith("/"):
            # Caffe (UpgradeSnapshotPrefixProperty): default prefix = the solver file's name.
            param.snapshot_prefix = param.snapshot_prefix + Path(source).stem
        if param.random_seed >= 0:
            seed = param.random_seed + rank
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
        self._info("solver.cpp:45", "Initializing solver from parameters: \n"
                   + text_format.MessageToString(param).rstrip("\n"))
        self.extensions = solver_extensions(param)
        self.net = self._init_train_net()
        self.test_nets = self._init_test_nets() if rank == 0 else []
        self._info("solver.cpp:57", "Solver scaffolding done.")
        if self.extensions:
            self._info("solver.cpp:57", "Extensions in use (Caffe 1.0 would not load this): "
                       + ", ".join(self.extensions))
        self.iter = 0
        self.current_step = 0
        self.params = self.net.learnable_params
        sets = updates.HISTORY_SETS[self.kind]
        # the history stays in Caffe's NCHW layout whatever the weights' memory format (speed.py)
        self.history = [[torch.zeros_like(lp.param, dtype=dtype, memory_format=torch.contiguous_format)
                         for lp in self.params] for _ in range(sets)]
        self.ema = WeightAverage(self.net, param.ema_decay) if param.ema_decay else None  # extension
        self.smoothed_loss = F32(0)
        self.losses: list = []
        self.requested_early_exit = False
        self.last_snapshot: str | None = None
        self.snapshots = snapshots.SnapshotRecord()
        if rank == 0:
            snapshots.remove_stale_temporaries(param.snapshot_prefix, lambda m: self._info("solver.cpp:60", m))
        self.last_test: dict[str, np.ndarray] = {}  # output name -> mean of the last test pass
        self.on_iteration: Callable[[int, float], None] | None = None  # progress hook (tqdm)
        self.callbacks: list[tuple[Callable[[], None], Callable[[], None]]] = []  # add_callback
        self._iterations_last = 0  # the iteration of the last display line (a member in Caffe: step(1) loops)
        self.early_stop = EarlyStop.from_param(  # extension: early_stop_* fields
            param, source, [n.output_names for n in self.test_nets] if rank == 0 else None)

    # -- the loop ----------------------------------------------------------------------------------
    def solve(self, resume_file: str | None = None) -> None:
        """Solver::Solve: step to max_iter, snapshot (snapshot_after_train), one more forward pass for the
        display, a last test. ``resume_file`` is a .solverstate to restore first."""
        p = self.param
        self._info("solver.cpp:289", f"Solving {self.net_name}")
        self._info("solver.cpp:290", f"Learning Rate Policy: {p.lr_policy}")
        self.requested_early_exit = False
        if resume_file:
            self._info("solver.cpp:296", f"Restoring previous solver status from {resume_file}")
            self.restore(resume_file)
        start_iter = self.iter
        self.step(p.max_iter - self.iter)
        if ((p.snapshot_after_train or self.signals.force_snapshot)
                and (not p.snapshot or self.iter % p.snapshot != 0)):
            self.snapshot()
        if self.requested_early_exit:
            self._info("solver.cpp:311", "Optimization stopped early.")
            return
        if p.display and self.iter % p.display == 0:
            with torch.no_grad():
                out = self.net.forward()
                loss = F32(float(self.net.total_loss(out)))
            self._update_smoothed_loss(loss, start_iter)
            self._info("solver.cpp:327", f"Iteration {self.iter}, loss = {fmt32(self.smoothed_loss)}")
            self._check_nan(loss)
        if p.test_interval and self.iter % p.test_interval == 0:
            self.test_all()
        self._info("solver.cpp:332", "Optimization Done.")

    def step(self, iters: int) -> None:
        """Solver::Step: ``iters`` iterations (tools/train's solve() is this loop; pycaffe's step(n) too)."""
        p = self.param
        self._prepare_step()
        start_iter, stop_iter = self.iter, self.iter + iters
        self.losses, self.smoothed_loss = [], F32(0)
        timer = time.perf_counter()  # Caffe restarts its iteration timer in every Step()
        while self.iter < stop_iter:
            self._clear_param_diffs()
            if (p.test_interval and self.iter % p.test_interval == 0
                    and (self.iter > 0 or p.test_initialization)):
                if self.rank == 0:
                    self.test_all()
                if self.early_stop is not None and self.world > 1:
                    self.early_stop.share(self)  # rank 0 tested: every rank stops with it
                if self.world > 1:
                    self.signals.share_stop(self)  # a signal stopped rank 0's test: every rank stops
                if self.requested_early_exit:
                    break
            for on_start, _ in self.callbacks:
                on_start()
            display = bool(p.display) and self.iter % p.display == 0
            loss = F32(0)
            passes = max(p.iter_size, 1)
            for k in range(passes):
                with self._grad_sync(k == passes - 1):
                    if self._layer_by_layer():
                        out, total = self._pass_layer_by_layer()
                    else:
                        out = (self._ddp if self._ddp is not None else self.net)()
                        total = self.net.total_loss(out)
                        (self._scaling.scale(total) if self._scaling else total).backward()
                loss = F32(loss + F32(float(total.detach())))
            loss = F32(loss / F32(max(p.iter_size, 1)))
            self._update_smoothed_loss(loss, start_iter)
            if display:
                self._log_iteration(time.perf_counter() - timer, self.iter - self._iterations_last)
                timer, self._iterations_last = time.perf_counter(), self.iter
                self._log_outputs(self.net, out, "solver.cpp:258", "Train")
            for _, on_gradients_ready in self.callbacks:
                on_gradients_ready()
            self._check_nan(loss)
            self.update(display)
            if self.on_iteration:
                self.on_iteration(self.iter, float(loss))
            request = self.signals.requested() if self.world == 1 else self.signals.agreed(self)
            if (p.snapshot and self.iter % p.snapshot == 0) or request == "snapshot":
                self.snapshot()
            if request == "stop":
                self.requested_early_exit = True
                break

    def _layer_by_layer(self) -> bool:
        """pycaffe's net.before_backward/after_backward callbacks run around each layer's Backward, as in
        Net::BackwardFromTo; the pass then goes layer by layer (net_range) instead of one autograd call.
        One process, no FP16 loss scaling (extensions that own the backward call)."""
        cb = self.net.callbacks
        return bool(cb["before_backward"] or cb["after_backward"]) and self._ddp is None and self._scaling is None

    def _pass_layer_by_layer(self) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Net::ForwardBackward through the layer ranges: every blob by name, and the weighted loss."""
        net = self.net
        net.forward_range()
        out = {n: net.blob_store.get(n) for n in net.blob_names}
        total = net.total_loss(out)
        net.backward_range()  # a loss top's diff starts at its loss weight (Layer::SetLossWeights)
        return out, total

    def update(self, display: bool) -> None:
        """The end of an iteration, as Caffe master's ApplyUpdate: gradients all-reduced (several processes),
        the update, the EMA (extension), ++iter. The diffs then hold the update applied (w -= diff)."""
        if self.world > 1 and self._ddp is None:
            self._all_reduce_grads()
        # pycaffe on CUDA: weights or diffs written through host arrays reach the device first (SyncedMemory)
        self.net.blob_store.push()
        if self._scaling is not None:  # FP16 (extension): unscale; no update when a gradient overflowed
            self._scaling.step(lambda: self.apply_update(display))
        else:
            self.apply_update(display)
        if self.ema is not None:
            self.ema.update(self.iter)
        self.iter += 1

    def add_callback(self, on_start: Callable[[], None], on_gradients_ready: Callable[[], None]) -> None:
        """Solver::add_callback: ``on_start`` once the diffs are cleared (after any test), before the forward
        pass; ``on_gradients_ready`` after the backward pass and the display, before the update. An exception
        in either leaves the iteration undone (iter not incremented) and reaches the caller."""
        self.callbacks.append((on_start, on_gradients_ready))

    @property
    def learning_rate(self) -> float:
        """SGDSolver::GetLearningRate at the current iteration (pycaffe's ``solver.lr``); reads base_lr now."""
        return lr_policy.learning_rate(self.param, self.iter, self.current_step)[0]

    def _clear_param_diffs(self) -> None:
        """Net::ClearParamDiffs, in place: an array viewing a diff (pycaffe) stays the diff."""
        grads = [lp.param.grad for lp in self.params if lp.param.grad is not None]
        if grads:
            torch._foreach_zero_(grads)

    _ddp = None      # DistributedDataParallel around the train net (several processes)
    _scaling = None  # FP16 loss scaling (extension)

    def _prepare_step(self) -> None:
        """Once, before the first iteration (so after any restore): with several processes the train net
        goes into DistributedDataParallel, which starts every rank from rank 0's weights (as Caffe's
        P2PSync starts every solver from the root's) and all-reduces bucketed gradients while the backward
        pass runs; FP16 gets its loss scaling."""
        from . import distributed, speed
        if self.world > 1 and self._ddp is None:
            self._ddp = distributed.wrap(self.net, self.device)
        if self.net.autocast_dtype is torch.float16 and self._scaling is None:
            self._scaling = speed.GradScaling(self.device, [lp.param for lp in self.params])

    def _grad_sync(self, last_pass: bool):
        """DDP reduces during the backward of the last of iter_size passes only."""
        return self._ddp.no_sync() if self._ddp is not None and not last_pass else contextlib.nullcontext()

    def _all_reduce_grads(self) -> None:
        """Caffe's multi-GPU sync blob by blob, after the backward pass: gradients summed over solvers,
        then scaled by 1/solver_count (used when the train net has nothing for DDP to reduce)."""
        import torch.distributed as dist
        for lp in self.params:
            if lp.param.grad is None:
                lp.param.grad = torch.zeros_like(lp.param)
            dist.all_reduce(lp.param.grad)
            lp.param.grad.mul_(1.0 / self.world)

    @torch.no_grad()
    def apply_update(self, display: bool = False) -> float:
        """SGDSolver::ApplyUpdate for the current iteration; returns the rate."""
        p = self.param
        rate, self.current_step = lr_policy.learning_rate(p, self.iter, self.current_step)
        hyper = self.hyper  # extension: onecycle cycles the momentum
        if p.lr_policy == "onecycle" and p.HasField("min_momentum"):
            hyper = dataclasses.replace(hyper, momentum=lr_policy.momentum(p, self.iter))
        if display:
            self._info("sgd_solver.cpp:112", f"Iteration {self.iter}, lr = {log.fmt(rate)}")
        grads = []
        for lp in self.params:
            if lp.param.grad is None:
                lp.param.grad = torch.zeros_like(lp.param)
            grads.append(lp.param.grad)
        clipped = updates.clip_scale(grads, p.clip_gradients)
        if clipped:
            self._info("sgd_solver.cpp:99", f"Gradient clipping: scaling down gradients (L2 norm "
                       f"{fmt32(clipped[0])} > {log.fmt(p.clip_gradients)}) by scale factor "
                       f"{fmt32(clipped[1])}")
        # lr 0 and no gradient: Caffe's SGD update is v = m*v with v = 0, i.e. nothing
        todo = [i for i, lp in enumerate(self.params)
                if not (lp.lr_mult == 0 and not lp.param.requires_grad and self.kind == "SGD")]
        updates.update_all(self.kind, [self.params[i].param for i in todo], [grads[i] for i in todo],
                           [[hs[i] for i in todo] for hs in self.history],
                           [float(F32(rate) * F32(self.params[i].lr_mult)) for i in todo],
                           [p.weight_decay * self.params[i].decay_mult for i in todo], p, hyper, self.iter)
        return rate
