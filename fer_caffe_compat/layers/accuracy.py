"""Accuracy: top-k classification accuracy, optionally per class (no gradient)."""
from __future__ import annotations

import torch

from ..proto import caffe_pb2
from .base import Layer, canonical_axis, count
from .loss import class_labels
from .common import check_bottom_count
from .registry import register


@register("Accuracy")
class Accuracy(Layer):
    """An item is correct when fewer than top_k scores are >= the true class's score, other than itself:
    Caffe 1.0 counts ties against the true class. Top 0 = correct / counted items (0 when none);
    top 1 (optional) = per-class accuracy, 0 for classes absent from the batch."""

    min_bottoms = max_bottoms = 2
    min_tops, max_tops = 1, 2

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        p = param.accuracy_param
        s0, s1 = self.bottom_shapes
        self.axis = canonical_axis(int(p.axis), len(s0), self)
        self.k = int(p.top_k)
        self.ignore_label = int(p.ignore_label) if p.HasField("ignore_label") else None
        self.classes = s0[self.axis]
        outer, inner = count(s0[:self.axis]), count(s0[self.axis + 1:])
        self.check(count(s1) == outer * inner, f"{count(s1)} labels for {outer * inner} predictions "
                                               f"(prediction shape {list(s0)}, class axis {self.axis})")
        self.check(1 <= self.k <= self.classes, f"top_k {self.k} must be in [1, {self.classes}] "
                                                "(the number of classes)")
        self.top_shapes = [()] + ([(self.classes,)] if len(param.top) > 1 else [])

    def forward(self, x, label):
        x = x.detach()
        rows = x.movedim(self.axis, -1).reshape(-1, self.classes)
        safe, valid = class_labels(self, label, self.classes, self.ignore_label)
        true_score = rows.gather(1, safe.unsqueeze(1))
        better = (rows >= true_score).sum(1) - 1  # the true class counts itself once
        correct = (better < self.k) & valid
        # 0 when every label is ignored; no host sync
        acc = correct.sum().to(x.dtype) / valid.sum().clamp(min=1).to(x.dtype)
        tops = [acc]
        if len(self.top_shapes) > 1:
            per_n = torch.zeros(self.classes, dtype=x.dtype, device=x.device).index_add_(
                0, safe, valid.to(x.dtype))
            per_ok = torch.zeros_like(per_n).index_add_(0, safe, correct.to(x.dtype))
            tops.append(torch.where(per_n > 0, per_ok / per_n.clamp(min=1), torch.zeros_like(per_n)))
        return tops
