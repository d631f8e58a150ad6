"""Batched augmentation, an extension (not in Caffe 1.0): ``transform_param { augment { ... } }``.

Caffe's DataTransformer (crop, mirror, mean, scale) runs first and stays the specification; this runs
after it, in TRAIN only, on the whole batch as tensor operations on the batch's device:

1. one affine warp per image combining a random resized crop (area fraction in [scale_min, scale_max],
   aspect ratio log-uniform in [aspect_min, aspect_max]), a rotation in +-rotate_degrees and a shift in
   +-translate_pixels, resampled bilinearly; ``padding`` fills what comes from outside the image (ZERO is
   the mean, since the mean has already been subtracted);
2. brightness: ``x + U(-b, b) * 255 * scale`` (b is a fraction of the 8-bit range, whatever the scale);
3. contrast: ``m + (x - m) * U(1 - c, 1 + c)`` about each image's mean m;
4. random erasing: with probability erase_prob a rectangle of area fraction in [erase_area_min,
   erase_area_max] (aspect log-uniform in [0.3, 3.3]) is set to 0 (the mean);
5. mixing, last, once per batch: each image is mixed with a partner (a random permutation of the batch)
   and the labels become (N, num_classes) rows of class weights mixed the same way, which SoftmaxWithLoss
   takes as soft targets. ``mixup_alpha``: ``x = l x + (1 - l) x'`` with ``l ~ Beta(a, a)`` (Zhang et al.,
   2018); ``cutmix_alpha``: a box of the partner of area fraction about ``1 - l`` is pasted in, and ``l``
   becomes the area left (Yun et al., 2019). With both, each batch takes one of the two at even odds.

Every draw comes from one ``torch.Generator`` seeded by the layer (itself seeded from the solver's
random_seed), on the CPU, so a batch is the same on any device and any thread count.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import CaffeError
from ..proto import caffe_pb2

_PADDING = {caffe_pb2.AugmentationParameter.ZERO: "zeros",
            caffe_pb2.AugmentationParameter.REFLECT: "reflection",
            caffe_pb2.AugmentationParameter.BORDER: "border"}
_ERASE_ASPECT = (0.3, 3.3)


@dataclass
class Draws:
    """The random numbers of one batch, per image (for tests of the statistics)."""
    area: torch.Tensor       # crop area fraction
    aspect: torch.Tensor     # crop aspect ratio (width / height)
    centre: torch.Tensor     # (N, 2) crop centre in normalised coordinates
    angle: torch.Tensor      # radians
    shift: torch.Tensor      # (N, 2) in pixels (x, y)
    brightness: torch.Tensor
    contrast: torch.Tensor
    erase: torch.Tensor      # bool
    erase_box: torch.Tensor  # (N, 4) y0, x0, h, w in pixels


@dataclass
class Mix:
    """One batch's mixing: image i takes ``lam`` of itself and ``1 - lam`` of image ``perm[i]``."""
    perm: torch.Tensor
    lam: float
    box: tuple[int, int, int, int] | None  # cutmix: y0, x0, y1, x1 of the pasted box; None: mixup


def check_param(p: caffe_pb2.AugmentationParameter, where: str) -> None:
    def need(ok: bool, msg: str) -> None:
        if not ok:
            raise CaffeError(f"{where}: transform_param.augment: {msg}")
    need(0 < p.scale_min <= p.scale_max <= 1, f"need 0 < scale_min <= scale_max <= 1, "
         f"found {p.scale_min:g}, {p.scale_max:g}")
    need(0 < p.aspect_min <= p.aspect_max, f"need 0 < aspect_min <= aspect_max, "
         f"found {p.aspect_min:g}, {p.aspect_max:g}")
    need(0 <= p.rotate_degrees <= 180, f"rotate_degrees must be in [0, 180], found {p.rotate_degrees:g}")
    need(p.translate_pixels >= 0, f"translate_pixels must be >= 0, found {p.translate_pixels:g}")
    need(p.brightness >= 0, f"brightness must be >= 0, found {p.brightness:g}")
    need(0 <= p.contrast <= 1, f"contrast must be in [0, 1], found {p.contrast:g}")
    need(0 <= p.erase_prob <= 1, f"erase_prob must be in [0, 1], found {p.erase_prob:g}")
    need(0 < p.erase_area_min <= p.erase_area_max < 1, f"need 0 < erase_area_min <= erase_area_max < 1, "
         f"found {p.erase_area_min:g}, {p.erase_area_max:g}")
    need(p.mixup_alpha >= 0, f"mixup_alpha must be >= 0, found {p.mixup_alpha:g}")
    need(p.cutmix_alpha >= 0, f"cutmix_alpha must be >= 0, found {p.cutmix_alpha:g}")
    need(p.num_classes > 0 or not (p.mixup_alpha or p.cutmix_alpha),
         "mixup_alpha and cutmix_alpha need num_classes (the width of the mixed label rows)")


class Augmenter:
    """``aug(batch, labels) -> (batch, labels)`` for an (N, C, H, W) float batch; when it ``mixes`` the
    labels come back as (N, num_classes) float32 rows of class weights."""

    def __init__(self, p: caffe_pb2.AugmentationParameter, value_range: float, where: str, seed: int):
        check_param(p, where)
        self.p, self.where = p, where
        self.value_range = value_range
        self.gen = torch.Generator().manual_seed(int(seed) % 2**63)
        self.warps = (p.scale_min < 1 or p.aspect_min != 1 or p.aspect_max != 1 or p.rotate_degrees > 0
                      or p.translate_pixels > 0)
        self.mixes = p.mixup_alpha > 0 or p.cutmix_alpha > 0

    # -- draws ------------------------------------------------------------------------------------
    def _u(self, n: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=self.gen, dtype=torch.float64)

    def draw(self, n: int, h: int, w: int) -> Draws:
        """The batch's random numbers, in a fixed order (so a batch depends only on the seed)."""
        p = self.p
        area = self._u(n, p.scale_min, p.scale_max)
        aspect = torch.exp(self._u(n, math.log(p.aspect_min), math.log(p.aspect_max)))
        # the crop's half-extent in normalised coordinates (clamped to the image), then its centre
        half = torch.stack([torch.sqrt(area * aspect).clamp(max=1), torch.sqrt(area / aspect).clamp(max=1)], 1)
        centre = (1 - half) * (2 * torch.rand(n, 2, generator=self.gen, dtype=torch.float64) - 1)
        angle = self._u(n, -p.rotate_degrees, p.rotate_degrees) * (math.pi / 180)
        shift = (2 * torch.rand(n, 2, generator=self.gen, dtype=torch.float64) - 1) * p.translate_pixels
        brightness = self._u(n, -p.brightness, p.brightness)
        contrast = self._u(n, 1 - p.contrast, 1 + p.contrast)
        erase = torch.rand(n, generator=self.gen, dtype=torch.float64) < p.erase_prob
        e_area = self._u(n, p.erase_area_min, p.erase_area_max) * h * w
        e_aspect = torch.exp(self._u(n, math.log(_ERASE_ASPECT[0]), math.log(_ERASE_ASPECT[1])))
        eh = torch.sqrt(e_area / e_aspect).round().clamp(1, h)
        ew = torch.sqrt(e_area * e_aspect).round().clamp(1, w)
        y0 = torch.floor(torch.rand(n, generator=self.gen, dtype=torch.float64) * (h - eh + 1))
        x0 = torch.floor(torch.rand(n, generator=self.gen, dtype=torch.float64) * (w - ew + 1))
        return Draws(area, aspect, centre, angle, shift, brightness, contrast, erase,
                     torch.stack([y0, x0, eh, ew], 1))

    def draw_mix(self, n: int, h: int, w: int) -> Mix:
        """The batch's mixing, drawn after ``draw`` (so the other draws do not depend on it)."""
        p = self.p
        cut = p.cutmix_alpha > 0 and (p.mixup_alpha == 0 or float(torch.rand(1, generator=self.gen)) < 0.5)
        alpha = float(p.cutmix_alpha if cut else p.mixup_alpha)
        perm = torch.randperm(n, generator=self.gen)
        # torch draws no Beta from a Generator: numpy's, seeded from ours
        lam = float(np.random.default_rng(int(torch.randint(2**62, (1,), generator=self.gen))).beta(alpha, alpha))
        if not cut:
            return Mix(perm, lam, None)
        side = math.sqrt(1 - lam)
        bh, bw = int(h * side), int(w * side)
        cy, cx = (int(v) for v in torch.randint(1 << 30, (2,), generator=self.gen) % torch.tensor([h, w]))
        y0, y1 = max(cy - bh // 2, 0), min(cy + bh - bh // 2, h)
        x0, x1 = max(cx - bw // 2, 0), min(cx + bw - bw // 2, w)
        return Mix(perm, 1 - (y1 - y0) * (x1 - x0) / (h * w), (y0, x0, y1, x1))

    # -- the operations ----------------------------------------------------------------------------
    def _warp(self, x: torch.Tensor, d: Draws) -> torch.Tensor:
        n, _, h, w = x.shape
        half_w = torch.sqrt(d.area * d.aspect).clamp(max=1)
        half_h = torch.sqrt(d.area / d.aspect).clamp(max=1)
        cos, sin = torch.cos(d.angle), torch.sin(d.angle)
        # source = centre + shift + R(angle) @ diag(half_w, half_h) @ output   (normalised coordinates)
        theta = torch.zeros(n, 2, 3, dtype=torch.float64)
        theta[:, 0, 0], theta[:, 0, 1] = cos * half_w, -sin * half_h
        theta[:, 1, 0], theta[:, 1, 1] = sin * half_w, cos * half_h
        theta[:, 0, 2] = d.centre[:, 0] + d.shift[:, 0] * 2 / w
        theta[:, 1, 2] = d.centre[:, 1] + d.shift[:, 1] * 2 / h
        grid = F.affine_grid(theta.to(device=x.device, dtype=x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode=_PADDING[self.p.padding],
                             align_corners=False)

    def _erase(self, x: torch.Tensor, d: Draws) -> torch.Tensor:
        n, _, h, w = x.shape
        box = d.erase_box.to(x.device)
        ys = torch.arange(h, device=x.device, dtype=box.dtype).view(1, h, 1)
        xs = torch.arange(w, device=x.device, dtype=box.dtype).view(1, 1, w)
        y0, x0, eh, ew = (box[:, k].view(n, 1, 1) for k in range(4))
        inside = (ys >= y0) & (ys < y0 + eh) & (xs >= x0) & (xs < x0 + ew) & d.erase.to(x.device).view(n, 1, 1)
        return x.masked_fill(inside.unsqueeze(1), 0.0)

    def _mix(self, x: torch.Tensor, labels: torch.Tensor | None, m: Mix) -> tuple[torch.Tensor, torch.Tensor]:
        k = int(self.p.num_classes)
        if labels is None:
            raise CaffeError(f"{self.where}: mixup_alpha / cutmix_alpha mix the labels: the layer needs a label top")
        lab = labels.reshape(-1)
        bad = (lab != lab.floor()) | (lab < 0) | (lab >= k)
        if bool(bad.any()):
            raise CaffeError(f"{self.where}: label {float(lab[bad][0]):g} is not a class of "
                             f"transform_param.augment num_classes {k}")
        rows = F.one_hot(lab.long(), k).to(torch.float32)
        perm = m.perm.to(x.device)
        if m.box is None:
            x = m.lam * x + (1 - m.lam) * x[perm]
        else:
            y0, x0, y1, x1 = m.box
            x = x.clone()
            x[:, :, y0:y1, x0:x1] = x[perm, :, y0:y1, x0:x1]  # gathers the box only, not the whole partner
        return x, m.lam * rows + (1 - m.lam) * rows[perm]

    def __call__(self, batch: torch.Tensor, labels: torch.Tensor | None = None):
        n, _, h, w = batch.shape
        d = self.draw(n, h, w)
        x = batch
        if self.warps:
            x = self._warp(x, d)
        if self.p.brightness > 0:
            x = x + (d.brightness * self.value_range).to(x.device, x.dtype).view(n, 1, 1, 1)
        if self.p.contrast > 0:
            m = x.mean(dim=(1, 2, 3), keepdim=True)
            x = m + (x - m) * d.contrast.to(x.device, x.dtype).view(n, 1, 1, 1)
        if self.p.erase_prob > 0:
            x = self._erase(x, d)
        if self.mixes:
            x, labels = self._mix(x, labels, self.draw_mix(n, h, w))
        return x, labels


def build_augmenter(tp: caffe_pb2.TransformationParameter, phase: int, where: str,
                    seed: int) -> Augmenter | None:
    """The layer's augmenter, or None: not in TRAIN, no ``augment`` message, or nothing switched on."""
    if phase != caffe_pb2.TRAIN or not tp.HasField("augment"):
        if tp.HasField("augment"):
            check_param(tp.augment, where)
        return None
    p = tp.augment
    aug = Augmenter(p, 255.0 * float(tp.scale), where, seed)
    if not (aug.warps or p.brightness > 0 or p.contrast > 0 or p.erase_prob > 0 or aug.mixes):
        return None
    return aug
