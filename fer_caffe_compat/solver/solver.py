"""Caffe's Solver: building the train and test nets, the training loop, tests, display, snapshots, resume.

The order inside one iteration is Caffe's Solver::Step: clear diffs -> test (at 0, T, 2T, ...) ->
iter_size x forward/backward -> smoothed loss and display -> ApplyUpdate (lr, clip, normalise,
regularise, update) -> ++iter -> snapshot / signal. After max_iter: snapshot (snapshot_after_train), one
more forward pass for the display, a last test, "Optimization Done.". The arithmetic lives in
``lr_policy`` and ``updates``; this module only sequences it and writes Caffe's log lines.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from google.protobuf import text_format

from .. import log
from ..errors import CaffeError, os_error_message
from ..proto import caffe_pb2
from ..proto.extensions import net_extensions, solver_extensions
from . import lr_policy, snapshots, updates
from .early_stop import EarlyStop
from .ema import WeightAverage
from .state import SolverState, read_state, write_state

F32 = np.float32
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


def _fmt32(x) -> str:
    """A float32 as Caffe's ostream prints it (6 significant digits; glibc writes a negative NaN "-nan")."""
    x = float(F32(x))
    if math.isnan(x):
        return "-nan" if math.copysign(1.0, x) < 0 else "nan"
    return log.fmt(x)


class Solver:
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
        self.early_stop = EarlyStop.from_param(  # extension: early_stop_* fields
            param, source, [n.output_names for n in self.test_nets] if rank == 0 else None)

    # -- construction --------------------------------------------------------------------------
    def _info(self, src: str, msg: str) -> None:
        if self.rank == 0:
            log.info(src, msg)

    def _read_net(self, path: str) -> caffe_pb2.NetParameter:
        if not os.path.exists(path):
            raise CaffeError(f"{self.source}: net file \"{path}\" does not exist (paths are relative to "
                             f"the working directory {os.getcwd()})")
        return self._load(path)

    def _build(self, net_param: caffe_pb2.NetParameter, state: caffe_pb2.NetState):
        self.extensions += [x for x in net_extensions(net_param) if x not in self.extensions]
        net_param.state.CopyFrom(state)
        net = self._Net(net_param, phase=state.phase, stages=tuple(state.stage), level=state.level)
        net.to(device=self.device)
        if self.dtype != torch.float32:
            net.to(dtype=self.dtype)
        from .speed import configure_net
        configure_net(net, self.param, self.dtype, self.source)  # memory format, precision (extensions)
        for w in self.param.weights:
            self.load_weights(net, w)
        return net

    def load_weights(self, net, weights: str) -> None:
        """Caffe's LoadNetWeights: comma-separated .caffemodel files, each copied by layer name. Into the
        train net they must copy something, and fill every layer with weights unless
        ``allow_missing_weights`` (net_weights); test nets take them as Caffe does."""
        from ..net_weights import load_weights

        say = lambda w: self._info("solver.cpp:72", f"Finetuning from {w}")  # noqa: E731
        if net.phase == caffe_pb2.TRAIN:
            load_weights(net, weights, self.allow_missing_weights, before_each=say)
            return
        for w in weights.split(","):
            say(w)
            net.copy_trained_layers_from(w)

    def _init_train_net(self):
        p = self.param
        given = [p.HasField("train_net_param"), p.HasField("train_net"), p.HasField("net_param"),
                 p.HasField("net")]
        if sum(given) != 1:
            raise CaffeError(f"{self.source}: give exactly one of net, net_param, train_net, "
                             f"train_net_param (found {sum(given)})")
        if p.HasField("train_net_param"):
            self._info("solver.cpp:91", "Creating training net specified in train_net_param.")
            net_param = caffe_pb2.NetParameter()
            net_param.CopyFrom(p.train_net_param)
        elif p.HasField("train_net"):
            self._info("solver.cpp:95", f"Creating training net from train_net file: {p.train_net}")
            net_param = self._read_net(p.train_net)
        elif p.HasField("net_param"):
            self._info("solver.cpp:99", "Creating training net specified in net_param.")
            net_param = caffe_pb2.NetParameter()
            net_param.CopyFrom(p.net_param)
        else:
            self._info("solver.cpp:102", f"Creating training net from net file: {p.net}")
            net_param = self._read_net(p.net)
        self.net_name = net_param.name
        state = caffe_pb2.NetState(phase=caffe_pb2.TRAIN)
        state.MergeFrom(net_param.state)
        state.MergeFrom(p.train_state)
        return self._check_train_net(self._build(net_param, state))

    def _check_train_net(self, net):
        """A net that cannot train is one line here, not an autograd error at the first backward."""
        what = f"{self.source}: the train net {net.name or '(unnamed)'}"
        if not net.layers:
            raise CaffeError(f"{what} has no layers in phase TRAIN")
        if not net.loss_weights:
            raise CaffeError(f"{what} produces no loss in phase TRAIN (no loss layer, and no top with a "
                             f"loss_weight)")
        if not any(lp.param.requires_grad for lp in net.learnable_params):
            raise CaffeError(f"{what} has nothing to learn (no layer with weights and lr_mult > 0)")
        return net

    def _init_test_nets(self) -> list:
        p = self.param
        generic = p.HasField("net_param") or p.HasField("net")
        specific = len(p.test_net_param) + len(p.test_net)
        if generic and len(p.test_iter) < specific or not generic and len(p.test_iter) != specific:
            raise CaffeError(f"{self.source}: test_iter must be specified for each test network "
                             f"({len(p.test_iter)} test_iter for {specific} test nets)")
        n_generic = len(p.test_iter) - specific if generic else 0
        if len(p.test_state) and len(p.test_state) != specific + n_generic:
            raise CaffeError(f"{self.source}: test_state must be unspecified or given once per test net "
                             f"({len(p.test_state)} test_state for {specific + n_generic} test nets)")
        if specific + n_generic and p.test_interval <= 0:
            raise CaffeError(f"{self.source}: test_interval must be > 0 when test nets are given")
        sources: list[tuple[str, Callable[[], caffe_pb2.NetParameter]]] = []
        for tp in p.test_net_param:
            sources.append(("test_net_param", lambda tp=tp: caffe_pb2.NetParameter.FromString(
                tp.SerializeToString())))
        for tf in p.test_net:
            sources.append((f"test_net file: {tf}", lambda tf=tf: self._read_net(tf)))
        for _ in range(n_generic):
            if p.HasField("net_param"):
                sources.append(("net_param", lambda: caffe_pb2.NetParameter.FromString(
                    p.net_param.SerializeToString())))
            else:
                sources.append((f"net file: {p.net}", lambda: self._read_net(p.net)))
        nets = []
        for i, (what, make) in enumerate(sources):
            net_param = make()
            state = caffe_pb2.NetState(phase=caffe_pb2.TEST)
            state.MergeFrom(net_param.state)
            if len(p.test_state):
                state.MergeFrom(p.test_state[i])
            state.phase = caffe_pb2.TEST
            self._info("solver.cpp:190", f"Creating test net (#{i}) specified by {what}")
            nets.append(self._build(net_param, state))
        return nets

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
    def solve(self) -> None:
        p = self.param
        self._info("solver.cpp:289", f"Solving {self.net_name}")
        self._info("solver.cpp:290", f"Learning Rate Policy: {p.lr_policy}")
        self.requested_early_exit = False
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
            self._info("solver.cpp:327", f"Iteration {self.iter}, loss = {_fmt32(self.smoothed_loss)}")
            self._check_nan(loss)
        if p.test_interval and self.iter % p.test_interval == 0:
            self.test_all()
        self._info("solver.cpp:332", "Optimization Done.")

    def step(self, iters: int) -> None:
        p = self.param
        self._prepare_step()
        start_iter, stop_iter = self.iter, self.iter + iters
        self.losses, self.smoothed_loss = [], F32(0)
        timer, iterations_last = time.perf_counter(), 0
        while self.iter < stop_iter:
            for lp in self.params:
                lp.param.grad = None
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
            display = bool(p.display) and self.iter % p.display == 0
            loss = F32(0)
            passes = max(p.iter_size, 1)
            for k in range(passes):
                with self._grad_sync(k == passes - 1):
                    out = (self._ddp if self._ddp is not None else self.net)()
                    total = self.net.total_loss(out)
                    (self._scaling.scale(total) if self._scaling else total).backward()
                loss = F32(loss + F32(float(total.detach())))
            loss = F32(loss / F32(max(p.iter_size, 1)))
            self._update_smoothed_loss(loss, start_iter)
            if display:
                # Caffe's CPUTimer counts whole milliseconds.
                lapse = F32(math.floor((time.perf_counter() - timer) * 1000) / 1000)
                per_s = F32((self.iter - iterations_last) / (lapse if lapse else F32(1)))
                self._info("solver.cpp:239", f"Iteration {self.iter} ({_fmt32(per_s)} iter/s, "
                           f"{_fmt32(lapse)}s/{p.display} iters), loss = {_fmt32(self.smoothed_loss)}")
                timer, iterations_last = time.perf_counter(), self.iter
                self._log_outputs(self.net, out, "solver.cpp:258", "Train")
            self._check_nan(loss)
            if self.world > 1 and self._ddp is None:
                self._all_reduce_grads()
            if self._scaling is not None:  # FP16 (extension): unscale; no update when a gradient overflowed
                self._scaling.step(lambda: self.apply_update(display))
            else:
                self.apply_update(display)
            if self.ema is not None:
                self.ema.update(self.iter)
            self.iter += 1
            if self.on_iteration:
                self.on_iteration(self.iter, float(loss))
            request = self.signals.requested() if self.world == 1 else self.signals.agreed(self)
            if (p.snapshot and self.iter % p.snapshot == 0) or request == "snapshot":
                self.snapshot()
            if request == "stop":
                self.requested_early_exit = True
                break

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

    def _log_outputs(self, net, out: dict, src: str, what: str, values: list | None = None) -> None:
        idx = 0
        for j, name in enumerate(net.output_names):
            vals = values[j] if values is not None else out[name].detach().reshape(-1).cpu().numpy()
            w = net.loss_weights.get(name, 0.0)
            for v in np.asarray(vals, dtype=np.float64).reshape(-1):
                v = F32(v)
                extra = f" (* {log.fmt(w)} = {_fmt32(F32(w) * v)} loss)" if w else ""
                self._info(src, f"    {what} net output #{idx}: {name} = {_fmt32(v)}{extra}")
                idx += 1

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
                       f"{_fmt32(clipped[0])} > {log.fmt(p.clip_gradients)}) by scale factor "
                       f"{_fmt32(clipped[1])}")
        # lr 0 and no gradient: Caffe's SGD update is v = m*v with v = 0, i.e. nothing
        todo = [i for i, lp in enumerate(self.params)
                if not (lp.lr_mult == 0 and not lp.param.requires_grad and self.kind == "SGD")]
        updates.update_all(self.kind, [self.params[i].param for i in todo], [grads[i] for i in todo],
                           [[hs[i] for i in todo] for hs in self.history],
                           [float(F32(rate) * F32(self.params[i].lr_mult)) for i in todo],
                           [p.weight_decay * self.params[i].decay_mult for i in todo], p, hyper, self.iter)
        return rate

    # -- testing -----------------------------------------------------------------------------------
    def averaged_weights(self):
        """The EMA weights in the net for the duration (extension), or nothing to do."""
        return self.ema.swapped_in() if self.ema is not None else contextlib.nullcontext()

    def test_all(self) -> None:
        with self.averaged_weights():
            for i in range(len(self.test_nets)):
                if self.requested_early_exit:
                    break
                self.test(i)

    @staticmethod
    def share_trained_layers(test_net, train_net) -> None:
        """Net::ShareTrainedLayersWith: every blob of a same-named layer is the train net's blob."""
        train = {name: layer for name, layer in zip(train_net.layer_names, train_net.layers)}
        for name, layer in zip(test_net.layer_names, test_net.layers):
            src = train.get(name)
            if src is None or len(src.blobs) == 0:
                continue
            if len(src.blobs) != len(layer.blobs):
                raise CaffeError(f"layer {name}: test net has {len(layer.blobs)} blobs, train net "
                                 f"{len(src.blobs)}: cannot share")
            for k in range(len(layer.blobs)):
                if tuple(layer.blobs[k].shape) != tuple(src.blobs[k].shape):
                    raise CaffeError(f"layer {name}: blob {k} shape {tuple(layer.blobs[k].shape)} in the "
                                     f"test net vs {tuple(src.blobs[k].shape)} in the train net")
                old = layer.blobs[k]
                if old is not src.blobs[k]:
                    for m in layer.modules():  # every reference the layer holds (e.g. self.weight)
                        for key, v in list(m._parameters.items()):
                            if v is old:
                                m._parameters[key] = src.blobs[k]

    @torch.no_grad()
    def test(self, i: int) -> None:
        p = self.param
        self._info("solver.cpp:347", f"Iteration {self.iter}, Testing net (#{i})")
        net = self.test_nets[i]
        self.share_trained_layers(net, self.net)
        scores: list[np.ndarray] | None = None
        loss = F32(0)
        for _ in range(p.test_iter[i]):
            while True:
                req = self.signals.requested()
                if req == "none":
                    break
                if req == "snapshot":
                    self.snapshot()
                elif req == "stop":
                    self.requested_early_exit = True
            if self.requested_early_exit:
                break
            out = net.forward()
            if p.test_compute_loss:
                loss = F32(loss + F32(float(net.total_loss(out))))
            res = [out[n].detach().reshape(-1).cpu().numpy().astype(F32) for n in net.output_names]
            scores = res if scores is None else [F32(a + b) for a, b in zip(scores, res)]
        if self.requested_early_exit:
            self._info("solver.cpp:396", "Test interrupted.")
            return
        if p.test_compute_loss:
            self._info("solver.cpp:401", f"Test loss: {_fmt32(loss / F32(p.test_iter[i]))}")
        means = [F32(s / F32(p.test_iter[i])) for s in scores or []]
        self._log_outputs(net, {}, "solver.cpp:414", "Test", means)
        self.last_test = {n: m for n, m in zip(net.output_names, means)}
        if self.early_stop is not None:  # extension
            self.early_stop.after_test(self, i)

    # -- snapshots ---------------------------------------------------------------------------------
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
