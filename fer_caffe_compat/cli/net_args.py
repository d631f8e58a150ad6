"""Options shared by the tools that run a trained net (evaluate, classify, visualize)."""
from __future__ import annotations

import argparse
import contextlib
from typing import Iterator

import torch

from .. import log
from ..errors import CaffeError
from ..eval import pretrained
from ..eval.predict import BATCH, Predictor
from ..eval.pretrained import Pretrained


def add_model_args(p: argparse.ArgumentParser, batch: bool = True, pretrained: bool = False) -> None:
    """``pretrained``: --model/--weights may be left out for nets/pretrained, and --demo names make demo's
    model (choose_model resolves them)."""
    default = " (default: nets/pretrained, the shipped FER model)" if pretrained else ""
    p.add_argument("--model", required=not pretrained, help="deploy or train_val prototxt" + default)
    p.add_argument("--weights", required=not pretrained,
                   help=".caffemodel (several comma-separated: applied in order)" + default)
    if pretrained:
        p.add_argument("--demo", action="store_true", help="make demo's LeNet (newest snapshots/lenet_demo_iter_"
                                                           "*.caffemodel, data/demo/mean.binaryproto)")
    p.add_argument("--mean", help="mean.binaryproto subtracted from every image (default: the model's "
                                  "transform_param mean_file, if any)")
    p.add_argument("--scale", type=float, help="multiplier after the mean (default: the model's "
                                               "transform_param scale, else 1; LeNet-style nets use 0.00390625)")
    p.add_argument("--output", help="blob holding the class scores (default: the net's last output)")
    p.add_argument("--gpu", default="cpu", help="cpu (default) or a CUDA device number")
    if batch:
        p.add_argument("--batch-size", type=int, default=BATCH, help=f"images per forward pass ({BATCH})")
    p.add_argument("--verbose", action="store_true", help="print Caffe's net construction log")
    p.add_argument("--allow_missing_weights", "--allow-missing-weights", dest="allow_missing_weights",
                   action="store_true", help="run even when layers of the net are not in --weights (they keep "
                                             "their fillers); refused by default")


def choose_model(args: argparse.Namespace) -> Pretrained | None:
    """Fill in --model/--weights (and --mean, --scale, --labels unless given) for a tool that defaults to
    nets/pretrained; returns its card, or None when another model was chosen."""
    if args.demo:
        if args.model or args.weights:
            raise CaffeError("--demo names the model: give --demo or --model/--weights, not both")
        args.model, args.weights, mean = pretrained.demo_files()
        args.mean = args.mean or mean
        return None
    if args.model or args.weights:
        if not (args.model and args.weights):
            raise CaffeError(f"{'--model' if args.model else '--weights'} needs "
                             f"{'--weights' if args.model else '--model'} (give neither for nets/pretrained)")
        return None
    card = pretrained.load()
    args.model, args.weights = card.model, card.weights
    args.mean = args.mean or card.mean
    args.scale = card.scale if args.scale is None else args.scale
    if getattr(args, "labels", "absent") is None:
        args.labels = card.labels
    return card


def device(gpu: str) -> str:
    if gpu == "cpu":
        return "cpu"
    if not gpu.isdigit():
        raise CaffeError(f"--gpu {gpu}: expected cpu or a device number")
    if not torch.cuda.is_available() or int(gpu) >= torch.cuda.device_count():
        raise CaffeError(f"--gpu {gpu}: no such CUDA device (use --gpu cpu)")
    return f"cuda:{gpu}"


@contextlib.contextmanager
def _net_log(verbose: bool) -> Iterator[None]:
    old = log.quiet
    log.quiet = old or not verbose
    try:
        yield
    finally:
        log.quiet = old


def make_predictor(args: argparse.Namespace, sample_shape: tuple[int, int, int] | None = None) -> Predictor:
    with _net_log(args.verbose):
        return Predictor(args.model, args.weights, mean=args.mean, scale=args.scale, sample_shape=sample_shape,
                         output=args.output, batch_size=getattr(args, "batch_size", 10),
                         device=device(args.gpu), allow_missing_weights=args.allow_missing_weights)
