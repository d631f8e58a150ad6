"""tools/test: Caffe's ``caffe test``: score a TEST-phase net for --iterations batches.

Prints (glog) every output of every batch, ``Batch i, name = v``, then ``Loss: L`` and each output's mean
``name = mean (* w = w*mean loss)``, exactly as caffe.cpp's test() does.
"""
from __future__ import annotations

import numpy as np
import torch

from .. import log
from ..errors import CaffeError
from ..proto import caffe_pb2
from ..eval.tta import MODES, SHIFT_PIXELS, tta_forward
from .common import ArgumentParser, run
from .speed_args import add_speed_arguments, apply_to_net
from .train import parse_gpus

F32 = np.float32


def _fmt(x) -> str:
    return log.fmt(float(F32(x)))


def main(argv: list[str]) -> int:
    ap = ArgumentParser(prog="test", description="Score a model (TEST phase) as `caffe test`.")
    ap.add_argument("--model", required=True, help="the net .prototxt")
    ap.add_argument("--weights", required=True, help="the trained .caffemodel (comma-separated for several)")
    ap.add_argument("--iterations", type=int, default=50, help="number of batches (default 50)")
    ap.add_argument("--gpu", help="cpu or a GPU id (default: cpu)")
    ap.add_argument("--level", type=int, default=0)
    ap.add_argument("--stage", default="")
    ap.add_argument("--log", help="also write the log to this file")
    ap.add_argument("--allow_missing_weights", action="store_true",
                    help="score even when layers of the net are not in --weights (they keep their fillers)")
    ap.add_argument("--tta", choices=MODES, default="none",
                    help="test-time augmentation (extension, not in caffe test): the data layer's images "
                         "are read uncropped and the scores of the views (flip: centre crop and mirror; "
                         f"tencrop: Caffe's oversample; shift: centre, four {SHIFT_PIXELS}-pixel shifts and their "
                         "mirrors) are averaged as probabilities before the loss and accuracy layers")
    add_speed_arguments(ap, train=False)
    a = ap.parse_args(argv)
    if a.iterations <= 0:
        raise CaffeError(f"--iterations must be > 0, got {a.iterations}")
    gpus = parse_gpus(a.gpu) or []
    if len(gpus) > 1:
        raise CaffeError(f"--gpu {a.gpu}: caffe test scores on one device; give one GPU id")
    device = torch.device(f"cuda:{gpus[0]}") if gpus else torch.device("cpu")
    f = log.add_file(a.log) if a.log else None
    try:
        _score(a, device)
    finally:
        if f is not None:
            log.remove_file(f)
    return 0


@torch.no_grad()
def _score(a, device: torch.device) -> None:
    from ..net import Net
    from ..net_weights import load_weights

    if device.type == "cpu":
        log.info("caffe.cpp:274", "Use CPU.")
    else:
        log.info("caffe.cpp:265", f"Use GPU with device ID {device.index}")
    net = Net.from_file(a.model, phase=caffe_pb2.TEST, stages=a.stage.split(","), level=a.level)
    net.to(device=device)
    load_weights(net, a.weights, a.allow_missing_weights)
    apply_to_net(a, net)  # --precision, --channels_last, --compile (extensions)
    forward = net.forward if a.tta == "none" else tta_forward(net, a.model, a.stage.split(","), a.level, a.tta)
    log.info("caffe.cpp:280", f"Running for {a.iterations} iterations.")
    scores: list[np.ndarray] | None = None
    loss = F32(0)
    for i in range(a.iterations):
        out = forward()
        loss = F32(loss + F32(float(net.total_loss(out))))
        res = [out[n].reshape(-1).cpu().numpy().astype(F32) for n in net.output_names]
        for name, vals in zip(net.output_names, res):
            for v in vals:
                log.info("caffe.cpp:303", f"Batch {i}, {name} = {_fmt(v)}")
        scores = res if scores is None else [F32(s + r) for s, r in zip(scores, res)]
    log.info("caffe.cpp:308", f"Loss: {_fmt(loss / F32(a.iterations))}")
    for name, total in zip(net.output_names, scores or []):
        w = net.loss_weights.get(name, 0.0)
        for v in np.asarray(total).reshape(-1):
            mean = F32(v / F32(a.iterations))
            extra = f" (* {log.fmt(w)} = {_fmt(F32(w) * mean)} loss)" if w else ""
            log.info("caffe.cpp:320", f"{name} = {_fmt(mean)}{extra}")


if __name__ == "__main__":
    run(main, "test")
