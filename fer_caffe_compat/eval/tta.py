"""Test-time augmentation (an extension; Caffe's Python classifier had only ``oversample``).

A mode turns a batch of normalised images (N, C, H, W), not yet cropped, into V views of the net's input
size (V, N, C, h, w); the class probabilities of the views are averaged.

- ``none``: Caffe's TEST crop, centred at ``((H - h) // 2, (W - w) // 2)``;
- ``flip``: that crop and its mirror;
- ``tencrop``: Caffe's oversample: the four corner crops and the centre crop, then their mirrors;
- ``shift``: the centre crop and that window moved SHIFT_PIXELS up, down, left and right, then their
  mirrors. What a moved window takes from outside the image is 0, the mean (the views are of normalised
  images), as a training ``augment { translate_pixels }`` fills it. Unlike tencrop it needs no crop_size:
  it is the ten views of a net that sees the whole face.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..errors import CaffeError

MODES = ("none", "flip", "tencrop", "shift")
VIEWS = {"none": 1, "flip": 2, "tencrop": 10, "shift": 10}
SHIFT_PIXELS = 4


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise CaffeError(f"--tta {mode}: expected one of {', '.join(MODES)}")
    return mode


def mode_of(value: bool | str | None) -> str:
    """A TTA mode from a flag that may also be Caffe's ``oversample`` switch (True: tencrop; False/None: none)."""
    if value is True:
        return "tencrop"
    return check_mode(value) if value else "none"


def views(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """(V, N, C, h, w) views of (N, C, H, W) for ``mode``; ``size`` (h, w) is the net's input size."""
    check_mode(mode)
    _, _, h, w = x.shape
    ch, cw = size
    if ch > h or cw > w:
        raise CaffeError(f"the net's input {ch}x{cw} is larger than the image {h}x{w}")
    cy, cx = (h - ch) // 2, (w - cw) // 2
    if mode == "tencrop":
        offs = [(0, 0), (0, w - cw), (h - ch, 0), (h - ch, w - cw), (cy, cx)]
    elif mode == "shift":
        d = SHIFT_PIXELS
        x = F.pad(x, (d, d, d, d))
        cy, cx = cy + d, cx + d
        offs = [(cy, cx), (cy - d, cx), (cy + d, cx), (cy, cx - d), (cy, cx + d)]
    else:
        offs = [(cy, cx)]
    five = torch.stack([x[:, :, i:i + ch, j:j + cw] for i, j in offs])
    if mode == "none":
        return five
    return torch.cat([five, five.flip(-1)])


def average_probabilities(probs: torch.Tensor) -> torch.Tensor:
    """(V, N, K) probabilities of the views -> (N, K)."""
    return probs.mean(0)


def tta_forward(net, model: str, stages, level: int, mode: str):
    """A ``forward()`` for a TEST net with a data layer (``tools/test --tta``): each batch is read once,
    uncropped, by a copy of the data layer; every view goes through ``net``; the views' probabilities
    of the score blob (the first bottom of the loss and accuracy layers) are averaged, and the loss and
    accuracy layers see the log of that average (so SoftmaxWithLoss gives its cross-entropy)."""
    from ..net import Net, filter_net, load_net_param
    from ..proto import caffe_pb2

    param = load_net_param(model)
    param.state.phase = caffe_pb2.TEST
    param.state.level = level
    param.state.stage.extend(stages)
    layers = list(filter_net(param).layer)
    data = [l for l in layers if l.type in ("Data", "ImageData")]
    if len(data) != 1 or len(data[0].top) != 2:
        raise CaffeError(f"{model}: --tta needs one Data or ImageData layer with data and label tops")
    d = data[0]
    crop = int(d.transform_param.crop_size)
    if mode == "tencrop" and not crop:
        raise CaffeError(f"{model}: layer {d.name}: --tta tencrop needs a crop_size")
    heads = [l for l in layers if l.type in ("Accuracy", "SoftmaxWithLoss") and d.top[1] in l.bottom]
    score = {l.bottom[0] for l in heads}
    if len(score) != 1:
        raise CaffeError(f"{model}: --tta needs Accuracy/SoftmaxWithLoss layers that all score one blob "
                         f"(found {', '.join(sorted(score)) or 'none'})")
    score_blob = score.pop()
    reader_param = caffe_pb2.NetParameter(name=f"{param.name} (uncropped {d.name})")
    reader = reader_param.layer.add()
    reader.CopyFrom(d)
    reader.transform_param.crop_size = 0
    reader.transform_param.mirror = False  # the views decide the flips
    del reader.include[:], reader.exclude[:]
    reader_net = Net(reader_param, phase=caffe_pb2.TEST)
    shape = net.blob_shapes[d.top[0]]
    n_views = VIEWS[mode]

    @torch.no_grad()
    def forward() -> dict[str, torch.Tensor]:
        batch = reader_net.forward()
        x, label = batch[d.top[0]], batch[d.top[1]]
        vs = views(x, (int(shape[2]), int(shape[3])), mode)
        total = None
        for k in range(n_views):
            feed = {d.top[0]: vs[k], d.top[1]: label}
            if k < n_views - 1:
                p = torch.softmax(net.forward(feed)[score_blob].double(), 1)
                total = p if total is None else total + p
                continue

            def average(s: torch.Tensor) -> torch.Tensor:
                p = torch.softmax(s.double(), 1)
                p = p if total is None else total + p
                return torch.log((p / n_views).clamp_min(1e-30)).to(s.dtype)
            return net.forward(feed, edits={score_blob: average})
        raise AssertionError("unreachable")
    return forward
