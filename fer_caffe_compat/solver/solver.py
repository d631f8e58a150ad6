"""Caffe's Solver: building the train and test nets, the training loop, tests, display, snapshots, resume.

The order inside one iteration is Caffe's Solver::Step: clear diffs -> test (at 0, T, 2T, ...) ->
iter_size x forward/backward -> smoothed loss and display -> ApplyUpdate (lr, clip, normalise,
regularise, update) -> ++iter -> snapshot / signal. After max_iter: snapshot (snapshot_after_train), one
more forward pass for the display, a last test, "Optimization Done.". The arithmetic lives in
``lr_policy`` and ``updates``; this module only sequences it and writes Caffe's log lines.
"""
from __future__ import annotations

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
from ..errors import CaffeError
from ..proto import caffe_pb2
from . import lr_policy, updates
from .state import SolverState, read_state, write_state

F32 = np.float32
ACTIONS = ("stop", "snapshot", "none")


@dataclass
class Signals:
    """Caffe's SignalHandler: SIGINT / SIGHUP set a requested action, read once by the loop."""
    sigint_effect: str = "stop"
    sighup_effect: str = "snapshot"
    pending: list[str] = field(default_factory=list)

    def install(self) -> Callable[[], None]:
        for eff in (self.sigint_effect, self.sighup_effect):
            if eff not in ACTIONS:
                raise CaffeError(f"invalid signal effect \"{eff}\" (stop, snapshot or none)")
        old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGHUP)}
        signal.signal(signal.SIGINT, lambda *_: self.pending.append(self.sigint_effect))
        signal.signal(signal.SIGHUP, lambda *_: self.pending.append(self.sighup_effect))

        def restore() -> None:
            for s, h in old.items():
                signal.signal(s, h)
        return restore

    def requested(self) -> str:
        while self.pending:
            a = self.pending.pop(0)
            if a != "none":
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
                 rank: int = 0, world: int = 1, signals: Signals | None = None):
        from ..net import Net, load_net_param  # the net builder is only needed here
        self._Net, self._load = Net, load_net_param
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
        self.net = self._init_train_net()
        self.test_nets = self._init_test_nets() if rank == 0 else []
        self._info("solver.cpp:57", "Solver scaffolding done.")
        self.iter = 0
        self.current_step = 0
        self.params = self.net.learnable_params
        sets = updates.HISTORY_SETS[self.kind]
        self.history = [[torch.zeros_like(lp.param, dtype=dtype) for lp in self.params] for _ in range(sets)]
        self.smoothed_loss = F32(0)
        self.losses: list = []
        self.requested_early_exit = False
        self.last_snapshot: str | None = None
        self.last_test: dict[str, np.ndarray] = {}  # output name -> mean of the last test pass
        self.on_iteration: Callable[[int, float], None] | None = None  # progress hook (tqdm)

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
        net_param.state.CopyFrom(state)
        net = self._Net(net_param, phase=state.phase, stages=tuple(state.stage), level=state.level)
        net.to(device=self.device)
        if self.dtype != torch.float32:
            net.to(dtype=self.dtype)
        for w in self.param.weights:
            self.load_weights(net, w)
        return net

    def load_weights(self, net, weights: str) -> None:
        """Caffe's LoadNetWeights: comma-separated .caffemodel files, each copied by layer name."""
        for w in weights.split(","):
            self._info("solver.cpp:72", f"Finetuning from {w}")
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
        return self._build(net_param, state)

    def _init_test_nets(self) -> list:
        p = self.param
        generic = p.HasField("net_param") or p.HasField("net")
        specific = len(p.test_net_param) + len(p.test_net)
        if generic and len(p.test_iter) < specific or not generic and len(p.test_iter) != specific:
            raise CaffeError(f"{self.source}: test_iter must be specified for each test network "
                             f"({len(p.test_iter)} test_iter for {specific} test nets)")
        n_generic = len(p.test_iter) - specific if generic else 0
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
            self.net.copy_trained_layers_from(st.learned_net)
        self.current_step = st.current_step
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
        if p.snapshot_after_train and (not p.snapshot or self.iter % p.snapshot != 0):
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
                if self.requested_early_exit:
                    break
            display = bool(p.display) and self.iter % p.display == 0
            loss = F32(0)
            for _ in range(max(p.iter_size, 1)):
                out = self.net.forward()
                total = self.net.total_loss(out)
                total.backward()
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
            if self.world > 1:
                self._all_reduce_grads()
            self.apply_update(display)
            self.iter += 1
            if self.on_iteration:
                self.on_iteration(self.iter, float(loss))
            request = self.signals.requested()
            if (p.snapshot and self.iter % p.snapshot == 0) or request == "snapshot":
                self.snapshot()
            if request == "stop":
                self.requested_early_exit = True
                break

    def _check_nan(self, loss) -> None:
        """Caffe trains on through a NaN loss; here the run stops, naming the iteration."""
        if math.isnan(float(loss)):
            kept = f"; last snapshot kept: {self.last_snapshot}" if self.last_snapshot else "; no snapshot written"
            raise CaffeError(f"{self.source}: iteration {self.iter}: loss is NaN, training stopped{kept}")

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

    def _all_reduce_grads(self) -> None:
        """Caffe's multi-GPU sync: gradients summed over solvers, then scaled by 1/solver_count."""
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
        for i, lp in enumerate(self.params):
            if lp.lr_mult == 0 and not lp.param.requires_grad and self.kind == "SGD":
                continue  # lr 0 and no gradient: Caffe's update is v = m*v with v = 0, i.e. nothing
            g = updates.normalize(grads[i], p.iter_size)
            updates.regularize(lp.param, g, p.weight_decay, lp.decay_mult, p.regularization_type)
            local_rate = float(F32(rate) * F32(lp.lr_mult))
            u = updates.compute_update(self.kind, g, [hs[i] for hs in self.history], local_rate,
                                       self.hyper, self.iter)
            lp.param.sub_(u)
        return rate

    # -- testing -----------------------------------------------------------------------------------
    def test_all(self) -> None:
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

    # -- snapshots ---------------------------------------------------------------------------------
    def snapshot_filename(self, ext: str) -> str:
        return f"{self.param.snapshot_prefix}_iter_{self.iter}{ext}"

    def snapshot(self) -> None:
        if self.rank != 0:
            return
        model = self.snapshot_filename(".caffemodel")
        self._info("solver.cpp:464", f"Snapshotting to binary proto file {model}")
        self.net.save_caffemodel(model, write_diff=self.param.snapshot_diff)
        state_file = self.snapshot_filename(".solverstate")
        self._info("sgd_solver.cpp:284", f"Snapshotting solver state to binary proto file {state_file}")
        hist = [h.detach().cpu().float().numpy() for hs in self.history for h in hs]
        write_state(state_file, SolverState(self.iter, model, hist, self.current_step))
        self.last_snapshot = model
