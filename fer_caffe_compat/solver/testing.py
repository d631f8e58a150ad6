"""The solver's tests: Solver::TestAll / Solver::Test over each test net, after the test net takes the train
net's weights (Net::ShareTrainedLayersWith), with the EMA weights swapped in when the run keeps an average
(extension). Until the solver runs its first test, a test net keeps the weights it was built with."""
from __future__ import annotations

import contextlib

import numpy as np
import torch

from ..errors import CaffeError
from .display import F32, fmt32


class Testing:
    """The part of the Solver that tests (a mixin: reads ``param``, ``net``, ``test_nets``, ``signals``,
    ``ema``, ``early_stop`` and ``iter`` of the Solver; sets ``last_test`` and ``requested_early_exit``)."""

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
            self._info("solver.cpp:401", f"Test loss: {fmt32(loss / F32(p.test_iter[i]))}")
        means = [F32(s / F32(p.test_iter[i])) for s in scores or []]
        self._log_outputs(net, {}, "solver.cpp:414", "Test", means)
        self.last_test = {n: m for n, m in zip(net.output_names, means)}
        if self.early_stop is not None:  # extension
            self.early_stop.after_test(self, i)
