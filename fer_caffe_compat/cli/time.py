"""tools/time: ``caffe time`` - per-layer forward and backward milliseconds of a net.

    tools/time -model nets/lenet_train_test.prototxt [-iterations 50] [-gpu cpu|N|all]
               [-phase TRAIN|TEST] [-level N] [-stage a,b]

The report is Caffe's (caffe.cpp time()): "Average time per layer:", one "<layer>\\tforward: x ms." and
"<layer>\\tbackward: x ms." line per layer, then the average forward, backward and forward-backward
pass and the total time.
"""
from __future__ import annotations

import torch

from .. import log
from ..errors import CaffeError
from ..net import Net
from ..net_timing import Timing, forward_backward, time_net
from ..proto import caffe_pb2
from .common import ArgumentParser, run


def _device(gpu: str | None) -> torch.device:
    if gpu is None or gpu == "cpu":
        log.info("caffe.cpp:353", "Use CPU.")
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise CaffeError(f"-gpu {gpu}: no CUDA GPU is available on this machine; use -gpu cpu "
                         "(or leave -gpu out) to time the net on the CPU")
    first = "0" if gpu == "all" else gpu.split(",")[0]
    if not first.isdigit() or int(first) >= torch.cuda.device_count():
        raise CaffeError(f"-gpu {gpu}: no such CUDA device ({torch.cuda.device_count()} available)")
    log.info("caffe.cpp:348", f"Use GPU with device ID {first}")
    return torch.device(f"cuda:{first}")


def _phase(name: str) -> int:
    if name.upper() not in ("TRAIN", "TEST"):
        raise CaffeError(f"-phase {name}: must be TRAIN or TEST")
    return caffe_pb2.TRAIN if name.upper() == "TRAIN" else caffe_pb2.TEST


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="time", description="Benchmark the execution time of a net, layer by layer.")
    p.add_argument("--model", help="the net prototxt")
    p.add_argument("--iterations", type=int, default=50, help="timed iterations (50)")
    p.add_argument("--gpu", help="cpu (default), a CUDA device number, or all (times on the first)")
    p.add_argument("--phase", default="TRAIN", help="TRAIN (default) or TEST")
    p.add_argument("--level", type=int, default=0, help="the net state's level (0)")
    p.add_argument("--stage", default="", help="comma-separated stages of the net state")
    args = p.parse_args(argv)
    if not args.model:
        raise CaffeError("Need a model definition to time (-model NET.prototxt).")
    if args.iterations <= 0:
        raise CaffeError(f"-iterations {args.iterations}: must be positive")
    stages = [s for s in args.stage.split(",") if s]
    with log.held_back():  # a net that fails to build ends the tool in one error line
        device = _device(args.gpu)
        net = Net.from_file(args.model, phase=_phase(args.phase), stages=stages, level=args.level).to(device)
    log.info("caffe.cpp:365", "Performing Forward")
    loss = forward_backward(net)  # the untimed first pass: allocations, cuDNN/oneDNN set-up
    log.info("caffe.cpp:370", f"Initial loss: {log.fmt(loss)}")
    log.info("caffe.cpp:371", "Performing Backward")
    log.info("caffe.cpp:381", "*** Benchmark begins ***")
    log.info("caffe.cpp:382", f"Testing for {args.iterations} iterations.")
    timing = time_net(net, args.iterations, on_iteration=lambda j, ms: log.info(
        "caffe.cpp:400", f"Iteration: {j + 1} forward-backward time: {log.fmt(ms)} ms."))
    report(timing)
    return 0


def report(timing: Timing) -> None:
    """Caffe's closing lines, from the summed timings."""
    n = timing.iterations
    log.info("caffe.cpp:403", "Average time per layer: ")
    for name, f, b in zip(timing.layer_names, timing.forward_ms, timing.backward_ms):
        log.info("caffe.cpp:409", f"{name:>10}\tforward: {log.fmt(f / n)} ms.")
        log.info("caffe.cpp:412", f"{name:>10}\tbackward: {log.fmt(b / n)} ms.")
    total = sum(timing.iteration_ms)
    log.info("caffe.cpp:417", f"Average Forward pass: {log.fmt(timing.forward_total_ms / n)} ms.")
    log.info("caffe.cpp:419", f"Average Backward pass: {log.fmt(timing.backward_total_ms / n)} ms.")
    log.info("caffe.cpp:421", f"Average Forward-Backward: {log.fmt(total / n)} ms.")
    log.info("caffe.cpp:423", f"Total Time: {log.fmt(total)} ms.")
    log.info("caffe.cpp:424", "*** Benchmark ends ***")


if __name__ == "__main__":
    run(main, "time")
