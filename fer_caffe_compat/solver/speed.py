"""Speed options of the nets a solver trains: memory format, mixed precision, torch.compile, cudnn.benchmark.

These are extensions (not in Caffe 1.0), each off unless asked for: SolverParameter ``precision`` and
``channels_last``, tools/train ``--precision``, ``--channels_last``, ``--compile``, ``--cudnn_benchmark``.
Channels-last keeps the values of a net and only changes the order of the float sums inside a
convolution; whether it is faster depends on the net (make bench: LeNet-FER 0.65x, AlexNet-48 1.12x on
the 2-core development machine), so the blobs stay in Caffe's NCHW unless a solver or a flag asks.

Mixed precision: autocast around the forward pass of the nets (the Net runs losses and Accuracy in
float32, and hands back its outputs in float32); the weights, their gradients, the history and the update
stay float32, and so does the loss the solver logs. FP16 scales the loss (torch.amp.GradScaler) and skips an iteration's
update when a gradient overflows, as torch.amp does; BF16 needs no scaling.
"""
from __future__ import annotations

import torch

from .. import log
from ..errors import CaffeError
from ..proto import caffe_pb2

PRECISIONS = {"float32": caffe_pb2.SolverParameter.FLOAT32, "bf16": caffe_pb2.SolverParameter.BF16,
              "fp16": caffe_pb2.SolverParameter.FP16}
_AUTOCAST = {caffe_pb2.SolverParameter.BF16: torch.bfloat16, caffe_pb2.SolverParameter.FP16: torch.float16}

def autocast_dtype(param: caffe_pb2.SolverParameter) -> torch.dtype | None:
    return _AUTOCAST.get(param.precision)


def configure_net(net, param: caffe_pb2.SolverParameter, dtype: torch.dtype, source: str = "solver") -> None:
    """Memory format and precision of one of the solver's nets (after it is on its device)."""
    amp = autocast_dtype(param)
    if amp is not None and dtype != torch.float32:
        raise CaffeError(f"{source}: precision {caffe_pb2.SolverParameter.Precision.Name(param.precision)} "
                         f"needs float32 weights, not {str(dtype).replace('torch.', '')}")
    if amp is torch.float16 and net.device.type == "cpu":
        log.warning("speed.py:52", f"{source}: precision FP16 on a CPU is slow (BF16 is the CPU's half format)")
    net.autocast_dtype = amp
    net.set_memory_format(param.channels_last)


class GradScaling:
    """FP16 loss scaling around Caffe's update: scale the loss, then unscale the gradients and apply the
    update only when they are finite (torch.amp.GradScaler, through a one-method optimizer)."""

    def __init__(self, device: torch.device, params: list[torch.Tensor]):
        self.scaler = torch.amp.GradScaler(device.type)
        self._update = None
        self.optimizer = _Step(params, self)

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        return self.scaler.scale(loss)

    def step(self, update) -> bool:
        """Run ``update()`` on unscaled gradients unless one overflowed; True when it ran."""
        ran = []
        self._update = lambda: ran.append(update())
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return bool(ran)


class _Step(torch.optim.Optimizer):
    def __init__(self, params, owner: GradScaling):
        super().__init__([p for p in params], {})
        self.owner = owner

    def step(self, closure=None):  # type: ignore[override]
        return self.owner._update()


def cudnn_benchmark(on: bool) -> None:
    """cuDNN picks the fastest convolution algorithm for each shape (its choice may change float sums)."""
    torch.backends.cudnn.benchmark = bool(on)


def compile_nets(nets, **kwargs) -> None:
    """torch.compile the computing layers of each net (its data layers keep reading eagerly)."""
    for net in nets:
        net.compile_layers(**kwargs)
