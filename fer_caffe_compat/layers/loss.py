"""Loss layers: a 0-axis top (loss_weight 1 by default, applied by the net), Caffe's normalisations and,
where Caffe's backward is not the derivative of its clamped forward, Caffe's backward."""
from __future__ import annotations

import numpy as np
import torch

from ..errors import CaffeError
from ..io.blob import read_blob_file
from ..proto import caffe_pb2
from .base import Layer, canonical_axis, count
from .common import check_bottom_count
from .registry import register
from .softmax import caffe_softmax

FLT_MIN = 1.1754943508222875e-38  # Caffe clamps p at FLT_MIN in SoftmaxWithLoss: -log gives 87.3365
# Caffe's kLOG_THRESHOLD (InfogainLoss, MultinomialLogisticLoss): a float 1e-20, also in double nets
LOG_THRESHOLD = float(np.float32(1e-20))

Norm = caffe_pb2.LossParameter


def normalizer(mode: int, outer: int, inner: int, valid: int) -> float:
    """Caffe's LossLayer get_normalizer, at least 1."""
    n = {Norm.FULL: outer * inner, Norm.VALID: valid, Norm.BATCH_SIZE: outer, Norm.NONE: 1}[mode]
    return float(max(1, n))


def class_labels(layer: Layer, label: torch.Tensor, num_classes: int, ignore_label: int | None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """(labels as int64 with ignored ones set to 0, mask of the counted ones); a label outside
    [0, num_classes) that is not ignored is a CaffeError naming ``layer``."""
    lab = label.detach().reshape(-1).long()  # static_cast<int>: truncation
    bad = (lab < 0) | (lab >= num_classes)
    if ignore_label is None:
        valid = torch.ones_like(bad)
    else:
        valid = lab != ignore_label
        bad &= valid
    if bool(bad.any()):  # one host sync per batch, not per label
        raise layer.fail(f"label {int(lab[bad][0])} out of range [0, {num_classes})")
    return (lab if ignore_label is None else lab.masked_fill(~valid, 0)), valid


class LossLayer(Layer):
    """Caffe's LossLayer: two bottoms sharing their first axis, a 0-axis loss top."""

    is_loss = True
    min_bottoms = max_bottoms = 2
    min_tops = max_tops = 1

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        check_bottom_count(self)
        s0, s1 = self.bottom_shapes[0], self.bottom_shapes[1]
        self.check(len(s0) >= 1 and len(s1) >= 1 and s0[0] == s1[0],
                   f"bottom 0 shape {list(s0)} and bottom 1 shape {list(s1)} differ in the first axis")
        self.top_shapes = [()]
        lp = param.loss_param
        self.ignore_label = int(lp.ignore_label) if lp.HasField("ignore_label") else None

    def norm_mode(self, default: int) -> int:
        """loss_param.normalization, or the legacy ``normalize`` (true VALID, false BATCH_SIZE)."""
        lp = self.param.loss_param
        if lp.HasField("normalization"):
            return lp.normalization
        if lp.HasField("normalize"):
            return Norm.VALID if lp.normalize else Norm.BATCH_SIZE
        return default

    def labels(self, label: torch.Tensor, num_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
        return class_labels(self, label, num_classes, self.ignore_label)


class _SoftmaxWeightedNLL(torch.autograd.Function):
    """loss = -sum_ij w_ij log(max(p_ij, clamp)) / norm, p = softmax of rows of x.

    Backward is Caffe's (p_ij * sum_j w_ij - w_ij) / norm, also where the log was clamped (autograd of
    the clamp would give 0 there). One-hot w is SoftmaxWithLoss, rows of H are InfogainLoss."""

    @staticmethod
    def forward(ctx, x, w, clamp: float, norm: float):
        p = caffe_softmax(x, -1)
        ctx.save_for_backward(p, w)
        ctx.norm = norm
        return -(w * torch.log(torch.clamp(p, min=clamp))).sum() / norm

    @staticmethod
    def backward(ctx, g):
        p, w = ctx.saved_tensors
        grad = (p * w.sum(-1, keepdim=True) - w) * (g / ctx.norm)
        return grad, None, None, None


class _SoftmaxLossBase(LossLayer):
    """Shared by SoftmaxWithLoss and InfogainLoss: class axis, (outer, inner) items, optional prob top."""

    max_tops = 2

    soft = False  # labels are (items, classes) rows of class weights (SoftmaxWithLoss, an extension)

    def setup_axis(self, axis: int, soft_ok: bool = False) -> None:
        s0 = self.bottom_shapes[0]
        self.axis = canonical_axis(axis, len(s0), self)
        items = count(s0[:self.axis]) * count(s0[self.axis + 1:])
        self.classes = s0[self.axis]
        n_labels = count(self.bottom_shapes[1])
        self.soft = soft_ok and n_labels != items and tuple(self.bottom_shapes[1]) == (items, self.classes)
        self.check(n_labels == items or self.soft,
                   f"{n_labels} labels for {items} predictions (prediction shape "
                   f"{list(s0)}, class axis {self.axis})")
        if len(self.param.top) > 1:
            self.top_shapes.append(s0)

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """(outer * inner, classes): item i * inner + j is row i, column j of Caffe's layout."""
        if x.dim() == 2 and self.axis == 1:
            return x
        return x.movedim(self.axis, -1).reshape(-1, x.shape[self.axis])

    def loss(self, x: torch.Tensor, w: torch.Tensor, clamp: float, valid: torch.Tensor | None
             ) -> list[torch.Tensor]:
        outer = count(x.shape[:self.axis])
        items = w.shape[0]  # outer * inner of this batch
        n_valid = int(valid.sum()) if self.mode == Norm.VALID and self.ignore_label is not None else items
        norm = normalizer(self.mode, outer, items // max(outer, 1), n_valid)
        tops = [_SoftmaxWeightedNLL.apply(self.rows(x), w, clamp, norm)]
        if len(self.top_shapes) > 1:
            tops.append(caffe_softmax(x, self.axis).detach())  # Caffe ignores the diff of this top
        return tops


@register("SoftmaxWithLoss")
class SoftmaxWithLoss(_SoftmaxLossBase):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        # extension (not in Caffe 1.0): a label bottom of (items, classes) rows of class weights (what a
        # Data layer's augment { mixup_alpha / cutmix_alpha } makes) is taken as soft targets
        self.setup_axis(int(param.softmax_param.axis), soft_ok=True)
        self.check(not (self.soft and self.ignore_label is not None),
                   "ignore_label does not apply to rows of class weights (a mixing Data layer's labels)")
        self.mode = self.norm_mode(Norm.VALID)
        # extension (not in Caffe 1.0): targets (1 - e) onehot + e / K; the backward stays p - target
        self.smoothing = float(param.loss_param.label_smoothing)
        self.check(0 <= self.smoothing < 1, f"loss_param.label_smoothing must be in [0, 1), "
                                            f"found {self.smoothing:g}")

    def forward(self, x, label):
        valid = None
        if self.soft:
            w = label.reshape(-1, self.classes).to(x.dtype)
        else:
            lab, valid = self.labels(label, self.classes)
            w = torch.zeros(lab.shape[0], self.classes, dtype=x.dtype, device=x.device)
            # one-hot rows, zero where the label is ignored
            w.scatter_(1, lab.unsqueeze(1),
                       1.0 if self.ignore_label is None else valid.unsqueeze(1).to(x.dtype))
        if self.smoothing:
            w = w * (1 - self.smoothing) + (self.smoothing / self.classes) * w.sum(1, keepdim=True)
        return self.loss(x, w, FLT_MIN, valid)


@register("InfogainLoss")
class InfogainLoss(_SoftmaxLossBase):
    """-sum_j H[label, j] log(max(p_j, 1e-20)) / normalizer, softmax inside (Caffe 1.0); H from
    infogain_loss_param.source (a BlobProto) or a third bottom, which gets no gradient."""

    max_bottoms = 3

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.check(not param.loss_param.HasField("normalize"),
                   "loss_param.normalize is deprecated for InfogainLoss; use normalization")
        self.setup_axis(int(param.infogain_loss_param.axis))
        self.mode = self.norm_mode(Norm.VALID)
        c = self.classes
        if len(self.bottom_shapes) < 3:
            src = param.infogain_loss_param.source
            self.check(bool(src), "infogain_loss_param.source is required without a third bottom")
            try:
                h = read_blob_file(src)
            except CaffeError as e:
                raise self.fail(f"infogain_loss_param.source: {e}") from None
            self.check(h.size == c * c, f"infogain matrix {src} has shape {list(h.shape)}, needs {c}x{c} values")
            self.register_buffer("H", torch.from_numpy(h.reshape(c, c).copy()), persistent=False)
        else:
            hs = self.bottom_shapes[2]
            self.check(count(hs) == c * c, f"infogain bottom shape {list(hs)} does not hold {c}x{c} values")
            self.H = None

    def forward(self, x, label, *h):
        H = (h[0].detach() if h else self.H).reshape(self.classes, self.classes).to(x.dtype)
        lab, valid = self.labels(label, self.classes)
        w = H.index_select(0, lab) * valid.unsqueeze(1).to(x.dtype)
        return self.loss(x, w, LOG_THRESHOLD, valid)


class _MNL(torch.autograd.Function):
    """-sum log(max(p[label], 1e-20)) / num with Caffe's backward -1 / (num * max(p, 1e-20))."""

    @staticmethod
    def forward(ctx, p, lab, num: float):
        c = torch.clamp(p.gather(1, lab.unsqueeze(1)).squeeze(1), min=LOG_THRESHOLD)
        ctx.save_for_backward(c, lab)
        ctx.shape, ctx.num = p.shape, num
        return -torch.log(c).sum() / num

    @staticmethod
    def backward(ctx, g):
        c, lab = ctx.saved_tensors
        grad = torch.zeros(ctx.shape, dtype=c.dtype, device=c.device)
        grad.scatter_(1, lab.unsqueeze(1), (-g / ctx.num / c).unsqueeze(1))
        return grad, None, None


@register("MultinomialLogisticLoss")
class MultinomialLogisticLoss(LossLayer):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        s0, s1 = self.bottom_shapes
        self.check(count(s1) == s0[0], f"label shape {list(s1)} must hold one label per item ({s0[0]})")
        self.dim = count(s0[1:])
        self.ignore_label = None  # Caffe's MultinomialLogisticLoss has no ignore_label

    def forward(self, p, label):
        lab, _ = self.labels(label, self.dim)
        return [_MNL.apply(p.reshape(p.shape[0], -1), lab, float(p.shape[0]))]


@register("EuclideanLoss")
class EuclideanLoss(LossLayer):
    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        s0, s1 = self.bottom_shapes
        self.check(count(s0[1:]) == count(s1[1:]),
                   f"bottom 0 shape {list(s0)} and bottom 1 shape {list(s1)} differ in size per item")

    def forward(self, a, b):
        d = a - b.reshape(a.shape)
        return [(d * d).sum() / (2.0 * a.shape[0])]


@register("HingeLoss")
class HingeLoss(LossLayer):
    """sum_j max(0, 1 + s_j x_j)^p / N, s = -1 for the true class and +1 otherwise (p = 1 or 2)."""

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        self.l2 = param.hinge_loss_param.norm == caffe_pb2.HingeLossParameter.L2
        s0, s1 = self.bottom_shapes
        self.check(count(s1) == s0[0], f"label shape {list(s1)} must hold one label per item ({s0[0]})")
        self.dim = count(s0[1:])
        self.ignore_label = None  # nor has HingeLoss

    def forward(self, x, label):
        lab, _ = self.labels(label, self.dim)
        x2 = x.reshape(x.shape[0], -1)
        sign = torch.ones_like(x2).scatter_(1, lab.unsqueeze(1), -1.0)
        m = torch.relu(1 + sign * x2)
        return [((m * m) if self.l2 else m).sum() / x.shape[0]]


@register("SigmoidCrossEntropyLoss")
class SigmoidCrossEntropyLoss(LossLayer):
    """Caffe's overflow-free cross entropy of sigmoid(x) against targets in [0, 1]; ignore_label and
    normalization (default BATCH_SIZE). The target gets no gradient (Caffe refuses to compute it)."""

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        s0, s1 = self.bottom_shapes
        self.check(count(s0) == count(s1), f"bottom 0 shape {list(s0)} and target shape {list(s1)} "
                                           "differ in count")
        self.mode = self.norm_mode(Norm.BATCH_SIZE)

    def forward(self, x, target):
        t = target.detach().reshape(x.shape).to(x.dtype)
        pos = (x >= 0).to(x.dtype).detach()
        per = -(x * (t - pos) - torch.log1p(torch.exp(x - 2 * x * pos)))
        n_items = x.numel()
        if self.ignore_label is not None:
            valid = t.long() != self.ignore_label
            per = torch.where(valid, per, torch.zeros_like(per))
            n_valid = int(valid.sum())
        else:
            n_valid = n_items
        norm = normalizer(self.mode, x.shape[0], n_items // max(x.shape[0], 1), n_valid)
        return [per.sum() / norm]


class _Contrastive(torch.autograd.Function):
    """Caffe's ContrastiveLoss forward and backward (the backward divides by dist + 1e-4)."""

    @staticmethod
    def forward(ctx, a, b, sim, margin: float, legacy: bool):
        diff = a - b
        d2 = (diff * diff).sum(1)
        if legacy:
            dis = torch.clamp(margin - d2, min=0)
        else:
            dis = torch.clamp(margin - torch.sqrt(d2), min=0) ** 2
        ctx.save_for_backward(diff, d2, sim)
        ctx.margin, ctx.legacy = margin, legacy
        return torch.where(sim, d2, dis).sum() / (2.0 * a.shape[0])

    @staticmethod
    def backward(ctx, g):
        diff, d2, sim = ctx.saved_tensors
        alpha = g / diff.shape[0]
        if ctx.legacy:
            mdist = ctx.margin - d2
            beta = -alpha + torch.zeros_like(d2)
        else:
            dist = torch.sqrt(d2)
            mdist = ctx.margin - dist
            beta = -alpha * mdist / (dist + 1e-4)
        zero = torch.zeros_like(d2)
        coef = torch.where(sim, alpha + zero, torch.where(mdist > 0, beta, zero))
        ga = coef.unsqueeze(1) * diff
        return ga, -ga, None, None, None


@register("ContrastiveLoss")
class ContrastiveLoss(LossLayer):
    """sum_i [y_i d_i^2 + (1 - y_i) max(margin - d_i, 0)^2] / 2N (legacy: max(margin - d_i^2, 0))."""

    min_bottoms = max_bottoms = 3

    def __init__(self, param, bottom_shapes, phase=caffe_pb2.TEST):
        super().__init__(param, bottom_shapes, phase)
        s0, s1, s2 = self.bottom_shapes
        self.check(s0 == s1, f"bottom 0 shape {list(s0)} and bottom 1 shape {list(s1)} differ")
        self.check(len(s0) >= 2 and all(d == 1 for d in s0[2:]),
                   f"features must be (N, C) or (N, C, 1, 1), got {list(s0)}")
        self.check(count(s2) == s0[0], f"similarity shape {list(s2)} must hold one value per pair ({s0[0]})")
        p = param.contrastive_loss_param
        self.margin, self.legacy = float(p.margin), bool(p.legacy_version)

    def forward(self, a, b, y):
        sim = y.detach().reshape(-1).long() != 0  # static_cast<int>(y) != 0 means a similar pair
        a2, b2 = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
        return [_Contrastive.apply(a2, b2, sim, self.margin, self.legacy)]
