"""Building the solver's nets: the train net and each test net from the SolverParameter, as Solver::InitTrainNet
and Solver::InitTestNets do (one of net / net_param / train_net / train_net_param; test nets with their
states), the solver's fine-tuning weights, and the check that the train net can train."""
from __future__ import annotations

import os
from typing import Callable

import torch

from ..errors import CaffeError
from ..proto import caffe_pb2
from ..proto.extensions import net_extensions


class NetBuilding:
    """The part of the Solver that builds its nets (a mixin: reads ``param``, ``source``, ``device``,
    ``dtype``, ``extensions`` and ``allow_missing_weights`` of the Solver)."""

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
        where = self.source  # the file that holds the train net's layers
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
            net_param, where = self._read_net(p.train_net), p.train_net
        elif p.HasField("net_param"):
            self._info("solver.cpp:99", "Creating training net specified in net_param.")
            net_param = caffe_pb2.NetParameter()
            net_param.CopyFrom(p.net_param)
        else:
            self._info("solver.cpp:102", f"Creating training net from net file: {p.net}")
            net_param, where = self._read_net(p.net), p.net
        self.net_name = net_param.name
        state = caffe_pb2.NetState(phase=caffe_pb2.TRAIN)
        state.MergeFrom(net_param.state)
        state.MergeFrom(p.train_state)
        return self._check_train_net(self._build(net_param, state), where)

    def _check_train_net(self, net, where: str):
        """A net that cannot train is one line here, not an autograd error at the first backward. ``where``
        is the file whose layers are wrong: the net file, or the solver file that holds net_param."""
        what = f"{where}: the train net {net.name or '(unnamed)'}"
        whose = f" (the train net of {self.source})" if where != self.source else ""
        if not net.layers:
            raise CaffeError(f"{what} has no layers in phase TRAIN{whose}")
        if not net.loss_weights:
            raise CaffeError(f"{what} produces no loss in phase TRAIN (no loss layer, and no top with a "
                             f"loss_weight){whose}")
        if not any(lp.param.requires_grad for lp in net.learnable_params):
            raise CaffeError(f"{what} has nothing to learn (no layer with weights and lr_mult > 0){whose}")
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
