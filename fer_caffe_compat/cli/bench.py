"""make bench: ms/iteration of tools/train's loop against hand-written plain PyTorch, same run, same CPU.

Both sides train the same net on the same in-memory batch (the prototxt's Data layers become DummyData,
so no LMDB is needed): ours is the Solver's Step (net forward/backward, Caffe's update rule, its
bookkeeping); the baseline is nn.Sequential + torch.optim.SGD (momentum 0.9, weight decay 5e-4).
"""
from __future__ import annotations

import time

import torch
from torch import nn

from .. import log
from ..proto import caffe_pb2
from .common import ArgumentParser, run

CASES = [("LeNet-FER", "nets/lenet_train_test.prototxt", 64), ("AlexNet-48", "nets/alexnet_train_val.prototxt", 100)]


def _dummy_train_net(path: str, batch: int) -> caffe_pb2.NetParameter:
    """The TRAIN net of ``path`` with its Data layers replaced by DummyData (gaussian images, labels 0..6)."""
    from ..net import load_net_param

    src = load_net_param(path)
    out = caffe_pb2.NetParameter(name=src.name)
    for lp in src.layer:
        if any(r.phase == caffe_pb2.TEST for r in lp.include):
            continue
        if lp.type == "Data":
            d = out.layer.add(name=lp.name, type="DummyData", top=list(lp.top))
            d.dummy_data_param.data_filler.add(type="gaussian", std=1.0)
            d.dummy_data_param.data_filler.add(type="uniform", min=0, max=6)
            d.dummy_data_param.shape.add(dim=[batch, 1, 48, 48])
            d.dummy_data_param.shape.add(dim=[batch])
        else:
            out.layer.add().CopyFrom(lp)
    return out


def ours_stepper(net_file: str, batch: int):
    """One iteration of tools/train's loop (Solver::Step) on ``net_file`` with a fixed dummy batch."""
    from ..solver.solver import Solver

    sp = caffe_pb2.SolverParameter(net_param=_dummy_train_net(net_file, batch), base_lr=0.01, momentum=0.9,
                                   weight_decay=0.0005, lr_policy="fixed", max_iter=1 << 30, display=0,
                                   snapshot_after_train=False, random_seed=1)
    s = Solver(sp, "bench")
    s.net.layers[0].forward = _frozen(s.net.layers[0])  # one batch, as the baseline
    return lambda: s.step(1)


def _frozen(layer):
    tops = [t.clone() for t in layer()]
    tops[1] = tops[1].floor()
    return lambda: tops


def _lenet() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
                         nn.Flatten(), nn.Linear(50 * 9 * 9, 500), nn.ReLU(inplace=True), nn.Linear(500, 7))


def _alexnet48() -> nn.Module:
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(1, 96, 11, stride=4, padding=5), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(inplace=True), lrn(), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(inplace=True),
        nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Flatten(), nn.Linear(256, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(0.5), nn.Linear(4096, 7))


def plain_stepper(model: nn.Module, batch: int):
    torch.manual_seed(1)
    x = torch.randn(batch, 1, 48, 48)
    y = torch.randint(0, 7, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.0005)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        float(loss.detach())  # the loop reads the loss each iteration, as the Solver's display does
    return step


def timed_ms(step, iters: int) -> float:
    t = time.perf_counter()
    for _ in range(iters):
        step()
    return (time.perf_counter() - t) * 1000 / iters


def main(argv: list[str]) -> int:
    ap = ArgumentParser(prog="bench", description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=5, help="timed iterations per case (default 5)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternate the two loops this many times and keep each one's best round")
    a = ap.parse_args(argv)
    log.quiet = True
    rows = []
    for (name, net, batch), build in zip(CASES, (_lenet, _alexnet48)):
        ours, plain = ours_stepper(net, batch), plain_stepper(build(), batch)
        timed_ms(ours, a.warmup), timed_ms(plain, a.warmup)
        rounds = [(timed_ms(ours, a.iters), timed_ms(plain, a.iters)) for _ in range(a.rounds)]
        rows.append((name, batch, min(r[0] for r in rounds), min(r[1] for r in rounds)))
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}: best of {a.rounds} alternating "
          f"rounds of {a.iters} iterations, after {a.warmup} warm-up")
    print(f"| {'net':<10} | batch | tools/train ms/iter | plain PyTorch ms/iter | ratio |")
    print(f"| {'-' * 10} | ----- | ------------------- | --------------------- | ----- |")
    for name, batch, ours, plain in rows:
        print(f"| {name:<10} | {batch:>5} | {ours:>19.1f} | {plain:>21.1f} | {ours / plain:>5.2f} |")
    return 0


if __name__ == "__main__":
    run(main, "bench")
