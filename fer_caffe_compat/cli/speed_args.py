"""The speed flags of tools/train, tools/test and tools/evaluate (extensions; see solver/speed.py).

A flag overrides the solver file's field: ``--precision`` its ``precision``, ``--channels_last`` /
``--no-channels_last`` its ``channels_last``. ``--compile`` and ``--cudnn_benchmark`` have no field.
"""
from __future__ import annotations

import argparse

import torch

from ..proto import caffe_pb2


def add_speed_arguments(ap: argparse.ArgumentParser, train: bool = True) -> None:
    g = ap.add_argument_group("speed (extensions, not in Caffe 1.0)")
    g.add_argument("--precision", choices=("float32", "bf16", "fp16"),
                   help="autocast the forward pass to bfloat16 or float16 (weights, update and loss stay "
                        "float32; fp16 scales the loss)" + ("; default: the solver's precision field, else "
                                                            "float32" if train else "; default float32"))
    g.add_argument("--channels_last", action=argparse.BooleanOptionalAction, default=None,
                   help="NHWC memory format for 4-D blobs and weights; default: "
                        + ("the solver's channels_last field, else " if train else "")
                        + "off (Caffe's NCHW; faster for some nets only: make bench)")
    g.add_argument("--compile", action="store_true", help="torch.compile the computing layers")
    g.add_argument("--cudnn_benchmark", action="store_true",
                   help="let cuDNN time its convolution algorithms per shape (GPU)")


def apply_to_solver(a: argparse.Namespace, param: caffe_pb2.SolverParameter) -> None:
    """The flags given override the solver file's fields."""
    from ..solver.speed import PRECISIONS, cudnn_benchmark

    if a.precision is not None:
        param.precision = PRECISIONS[a.precision]
    if a.channels_last is not None:
        param.channels_last = a.channels_last
    if a.cudnn_benchmark:
        cudnn_benchmark(True)


def apply_to_net(a: argparse.Namespace, net, dtype: torch.dtype = torch.float32) -> None:
    """The same options for a net a tool builds itself (tools/test, tools/evaluate)."""
    from ..solver.speed import PRECISIONS, compile_nets, configure_net, cudnn_benchmark

    p = caffe_pb2.SolverParameter(precision=PRECISIONS[a.precision or "float32"])
    if a.channels_last is not None:
        p.channels_last = a.channels_last
    configure_net(net, p, dtype, "net")
    if a.cudnn_benchmark:
        cudnn_benchmark(True)
    if a.compile:
        compile_nets([net])
