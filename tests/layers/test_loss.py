"""Loss layers against Caffe's zoo blobs and first-step gradients, Caffe's custom backwards, the
normalisation modes and ignore_label, gradchecks and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.io.blob import write_blob_file
from fer_caffe_compat.layers import get_layer_class
from fer_caffe_compat.proto import caffe_pb2
from tests.layers.layer_case import check_zoo_layer, make_layer, zoo_top_shapes
from tests.layers.zoo import _blobs, assert_close_to_caffe, load_blobs, zoo_case, zoo_layer_names, zoo_param_grad

LOSS_TYPES = ["SoftmaxWithLoss", "EuclideanLoss", "SigmoidCrossEntropyLoss", "HingeLoss", "ContrastiveLoss",
              "InfogainLoss", "MultinomialLogisticLoss"]
ZOO = [n for t in LOSS_TYPES for n in zoo_layer_names(t)]
F64 = torch.float64


def test_zoo_has_every_loss_layer():
    assert len(ZOO) == 8


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name", ZOO)
def test_loss_matches_caffe(name, dtype):
    check_zoo_layer(name, dtype)


@pytest.mark.parametrize("name", ZOO)
def test_loss_top_is_0d_and_layer_is_a_loss(name):
    ours, caffe = zoo_top_shapes(name)
    assert ours == caffe == [()]
    assert get_layer_class(zoo_case(name).param.type).is_loss


def _zoo_layer(name):
    case = zoo_case(name, F64)
    layer = get_layer_class(case.param.type, name)(case.param, case.bottom_shapes, caffe_pb2.TEST).to(F64)
    load_blobs(layer, case.blobs)
    return layer


def _zoo(name):
    return torch.from_numpy(_blobs()[name].astype(np.float64))


def test_loss_backwards_reproduce_caffe_first_step_gradient_of_ip_cls():
    """ip_cls feeds loss_sm, 0.5 * loss_sm_ign, loss_hinge, loss_info and (through softmax_cls) loss_mnl:
    d(total)/d(ip_cls weight) from our backwards must equal Caffe's snapshot_diff."""
    w = _zoo("ip_cls/0").requires_grad_()
    scores = _zoo("pool_ave").reshape(2, -1) @ w.T + _zoo("ip_cls/1")
    label = _zoo("label")
    prob = _zoo_layer("softmax_cls")(scores)[0]
    total = (_zoo_layer("loss_sm")(scores, label)[0] + 0.5 * _zoo_layer("loss_sm_ign")(scores, label)[0]
             + _zoo_layer("loss_hinge")(scores, label)[0] + _zoo_layer("loss_info")(scores, label, _zoo("H"))[0]
             + _zoo_layer("loss_mnl")(prob, label)[0])
    total.backward()
    assert_close_to_caffe("ip_cls/0 diff", w.grad, zoo_param_grad("ip_cls", 0))


def test_loss_backwards_reproduce_caffe_first_step_gradient_of_ip4d():
    """ip4d feeds loss_euc, loss_sce (target not back-propagated) and loss_contr, each also through
    softmax_ip: this checks ContrastiveLoss's Caffe backward (dist + 1e-4) among others."""
    w = _zoo("ip4d/0").requires_grad_()
    x = _zoo("pool_max").reshape(2, -1) @ w.T + _zoo("ip4d/1")
    p = _zoo_layer("softmax_ip")(x)[0]
    total = (_zoo_layer("loss_euc")(x, p)[0] + _zoo_layer("loss_sce")(x, p)[0]
             + _zoo_layer("loss_contr")(x, p, _zoo("sel"))[0])
    total.backward()
    assert_close_to_caffe("ip4d/0 diff", w.grad, zoo_param_grad("ip4d", 0))


# ------------------------------------------------------------------------------ SoftmaxWithLoss
def _softmax_loss(extra: str = "", shapes=((2, 3), (2,)), tops: int = 1):
    top = "".join(f' top: "t{i}"' for i in range(tops))
    return make_layer(f'name: "l" type: "SoftmaxWithLoss"{top} {extra}', shapes)


def test_softmax_loss_gradcheck():
    layer = _softmax_loss(shapes=((3, 4),) + ((3,),))
    x = torch.randn(3, 4, dtype=F64, requires_grad=True)
    label = torch.tensor([0.0, 3.0, 1.0], dtype=F64)
    assert torch.autograd.gradcheck(lambda t: layer(t, label)[0], (x,))


def test_softmax_loss_clamps_at_flt_min_and_keeps_caffe_backward_there():
    layer = _softmax_loss()
    x = torch.tensor([[0.0, -200.0, 0.0], [1.0, 2.0, 3.0]], dtype=torch.float32, requires_grad=True)
    label = torch.tensor([1.0, 2.0])
    loss = layer(x, label)[0]
    p2 = math.exp(3) / (math.exp(1) + math.exp(2) + math.exp(3))
    assert loss.item() == pytest.approx((87.3365 - math.log(p2)) / 2, rel=1e-6)
    (g,) = torch.autograd.grad(loss * 0.5, x)  # loss_weight 0.5 arrives as the top's diff
    p = torch.softmax(x.detach().double(), 1)
    expect = (p - torch.nn.functional.one_hot(label.long(), 3)) * 0.5 / 2
    assert torch.allclose(g.double(), expect, atol=1e-7)
    assert g[0, 1].item() == pytest.approx(-0.25)  # not 0, as autograd of the clamp would give


def _spatial_case():
    """Scores (2, 3, 2): items (i, j) for i in 0..1, j in 0..1; labels [[0, 2], [1, ignored 5]]."""
    x = torch.tensor([[[1.0, 0.0], [2.0, 0.5], [0.5, 3.0]], [[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]]], dtype=F64)
    label = torch.tensor([[0.0, 2.0], [1.0, 5.0]], dtype=F64)
    p = torch.softmax(x, 1)
    nll = [-math.log(p[0, 0, 0]), -math.log(p[0, 2, 1]), -math.log(p[1, 1, 0])]
    return x, label, sum(nll)


@pytest.mark.parametrize("mode, extra, divisor", [
    ("VALID", "normalization: VALID", 3), ("BATCH_SIZE", "normalization: BATCH_SIZE", 2),
    ("FULL", "normalization: FULL", 4), ("NONE", "normalization: NONE", 1),
    ("legacy normalize true", "normalize: true", 3), ("legacy normalize false", "normalize: false", 2),
    ("default", "", 3),
])
def test_softmax_loss_normalization_modes_with_ignore_label(mode, extra, divisor):
    x, label, total = _spatial_case()
    layer = _softmax_loss(f"loss_param {{ ignore_label: 5 {extra} }}", shapes=((2, 3, 2), (2, 2)))
    x.requires_grad_()
    loss = layer(x, label)[0]
    assert loss.item() == pytest.approx(total / divisor), mode
    (g,) = torch.autograd.grad(loss, x)
    assert torch.all(g[1, :, 1] == 0)  # the ignored item gets no gradient
    p = torch.softmax(x.detach(), 1)
    assert g[0, :, 0].tolist() == pytest.approx(((p[0, :, 0] - torch.tensor([1.0, 0, 0], dtype=F64))
                                                 / divisor).tolist())


def test_softmax_loss_second_top_is_the_probability():
    layer = _softmax_loss(tops=2, shapes=((2, 3, 2), (2, 2)))
    assert layer.top_shapes == [(), (2, 3, 2)]
    x, label, _ = _spatial_case()
    label = torch.where(label == 5, torch.zeros_like(label), label)
    loss, prob = layer(x, label)
    assert torch.allclose(prob, torch.softmax(x, 1))


def test_softmax_loss_all_items_ignored_divides_by_one():
    layer = _softmax_loss("loss_param { ignore_label: 1 }")
    assert layer(torch.zeros(2, 3, dtype=F64), torch.ones(2, dtype=F64))[0].item() == 0.0


def test_softmax_loss_label_out_of_range_is_an_error_at_forward():
    layer = _softmax_loss()
    with pytest.raises(CaffeError, match=r"layer l \(SoftmaxWithLoss\): label 3 out of range \[0, 3\)"):
        layer(torch.zeros(2, 3), torch.tensor([0.0, 3.0]))


# ------------------------------------------------------------------------------ InfogainLoss
def test_infogain_from_binaryproto_source_weights_the_log_probabilities(tmp_path):
    h = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, 0.0], [0.25, 0.0, 1.0]], dtype=np.float32)
    write_blob_file(tmp_path / "H.binaryproto", h)
    layer = make_layer(f'name: "i" type: "InfogainLoss" infogain_loss_param {{ source: "{tmp_path}/H.binaryproto" }}',
                       [(2, 3), (2,)])
    assert len(layer.blobs) == 0
    x = torch.tensor([[1.0, 2.0, 0.0], [0.0, 0.0, 3.0]], dtype=F64, requires_grad=True)
    label = torch.tensor([0.0, 2.0], dtype=F64)
    p = torch.softmax(x.detach(), 1)
    expect = -(math.log(p[0, 0]) + 0.5 * math.log(p[0, 1]) + 0.25 * math.log(p[1, 0]) + math.log(p[1, 2])) / 2
    assert layer(x, label)[0].item() == pytest.approx(expect)
    assert torch.autograd.gradcheck(lambda t: layer(t, label)[0], (x,))


def test_infogain_matrix_bottom_gets_no_gradient_and_identity_equals_softmax_loss():
    layer = make_layer('name: "i" type: "InfogainLoss"', [(4, 3), (4,), (3, 3)])
    x = torch.randn(4, 3, dtype=F64, requires_grad=True)
    h = torch.eye(3, dtype=F64, requires_grad=True)
    label = torch.tensor([0.0, 1.0, 2.0, 1.0], dtype=F64)
    loss = layer(x, label, h)[0]
    ref = torch.nn.functional.cross_entropy(x, label.long())
    assert loss.item() == pytest.approx(ref.item())
    loss.backward()
    assert h.grad is None and x.grad is not None


# ------------------------------------------------------------------------------ MultinomialLogisticLoss
def test_multinomial_logistic_clamps_at_1e_20_with_caffe_backward():
    layer = make_layer('name: "m" type: "MultinomialLogisticLoss"', [(2, 3), (2,)])
    p = torch.tensor([[0.2, 0.0, 0.8], [0.1, 0.6, 0.3]], dtype=F64, requires_grad=True)
    label = torch.tensor([1.0, 2.0], dtype=F64)
    loss = layer(p, label)[0]
    assert loss.item() == pytest.approx((-math.log(1e-20) - math.log(0.3)) / 2)
    (g,) = torch.autograd.grad(loss, p)
    expect = [0.0, -1 / (2 * 1e-20), 0.0, 0.0, 0.0, -1 / (2 * 0.3)]
    assert g.reshape(-1).tolist() == pytest.approx(expect, rel=1e-6)  # not 0 where clamped


def test_multinomial_logistic_gradcheck():
    layer = make_layer('name: "m" type: "MultinomialLogisticLoss"', [(3, 4), (3,)])
    p = (torch.rand(3, 4, dtype=F64) + 0.1).requires_grad_()
    label = torch.tensor([0.0, 3.0, 2.0], dtype=F64)
    assert torch.autograd.gradcheck(lambda t: layer(t, label)[0], (p,))


# ------------------------------------------------------------------------------ Euclidean, Hinge
def test_euclidean_loss_value_and_gradcheck_of_both_bottoms():
    layer = make_layer('name: "e" type: "EuclideanLoss"', [(2, 2), (2, 2, 1)])
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=F64, requires_grad=True)
    b = torch.tensor([[[0.0], [2.0]], [[5.0], [1.0]]], dtype=F64, requires_grad=True)
    assert layer(a, b)[0].item() == pytest.approx((1 + 0 + 4 + 9) / 4)
    assert torch.autograd.gradcheck(lambda s, t: layer(s, t)[0], (a, b))


@pytest.mark.parametrize("norm, expect", [("L1", (0.5 + 1.5) / 2), ("L2", (0.25 + 2.25) / 2)])
def test_hinge_loss_by_hand(norm, expect):
    layer = make_layer(f'name: "h" type: "HingeLoss" hinge_loss_param {{ norm: {norm} }}', [(2, 3), (2,)])
    # item 0, label 0: max(0, 1 - 2) + max(0, 1 - 0.5) + max(0, 1 - 3) -> terms 0, 0.5, 0
    # item 1, label 2: max(0, 1 + 0.5) + max(0, 1 - 1) + max(0, 1 - 1) -> terms 1.5, 0, 0
    x = torch.tensor([[2.0, -0.5, -3.0], [0.5, -1.0, 1.0]], dtype=F64)
    label = torch.tensor([0.0, 2.0], dtype=F64)
    assert layer(x, label)[0].item() == pytest.approx(expect)
    x2 = torch.tensor([[0.3, 0.7, -0.2], [-0.4, 0.1, 0.6]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: layer(t, label)[0], (x2,))


# ------------------------------------------------------------------------------ SigmoidCrossEntropyLoss
def _sce_reference(x, t):
    p = torch.sigmoid(x)
    return -(t * torch.log(p) + (1 - t) * torch.log(1 - p))


def test_sigmoid_cross_entropy_default_divides_by_batch_and_is_stable():
    layer = make_layer('name: "s" type: "SigmoidCrossEntropyLoss"', [(2, 3), (2, 3)])
    x = torch.tensor([[0.5, -1.0, 2.0], [0.0, 3.0, -0.25]], dtype=F64, requires_grad=True)
    t = torch.tensor([[1.0, 0.0, 0.3], [1.0, 0.0, 0.5]], dtype=F64, requires_grad=True)
    loss = layer(x, t)[0]
    assert loss.item() == pytest.approx(_sce_reference(x.detach(), t.detach()).sum().item() / 2)
    assert torch.autograd.gradcheck(lambda a: layer(a, t)[0], (x,))
    gx, gt = torch.autograd.grad(loss, (x, t), allow_unused=True)
    assert torch.allclose(gx, (torch.sigmoid(x.detach()) - t.detach()) / 2)
    assert gt is None  # Caffe cannot back-propagate to the target
    big = layer(torch.tensor([[1000.0, -1000.0, 0.0]] * 2, dtype=torch.float32),
                torch.tensor([[0.0, 1.0, 1.0]] * 2))[0]
    assert big.item() == pytest.approx(2000 + math.log(2))


def test_sigmoid_cross_entropy_ignore_label_and_valid_normalization():
    layer = make_layer('name: "s" type: "SigmoidCrossEntropyLoss" loss_param { ignore_label: -1 '
                       'normalization: VALID }', [(2, 2), (2, 2)])
    x = torch.tensor([[0.5, -1.0], [2.0, 0.7]], dtype=F64, requires_grad=True)
    t = torch.tensor([[1.0, -1.0], [0.0, -1.0]], dtype=F64)
    loss = layer(x, t)[0]
    ref = _sce_reference(x.detach(), t)
    assert loss.item() == pytest.approx((ref[0, 0] + ref[1, 0]).item() / 2)
    (g,) = torch.autograd.grad(loss, x)
    assert g[0, 1].item() == 0.0 and g[1, 1].item() == 0.0


# ------------------------------------------------------------------------------ ContrastiveLoss
def _contrastive(extra=""):
    return make_layer(f'name: "c" type: "ContrastiveLoss" contrastive_loss_param {{ margin: 1.5 {extra} }}',
                      [(3, 2), (3, 2), (3,)])


def test_contrastive_loss_by_hand_and_caffe_backward_with_1e_4():
    layer = _contrastive()
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], dtype=F64, requires_grad=True)
    b = torch.tensor([[0.3, 0.4], [1.0, 1.0], [3.0, 4.0]], dtype=F64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.0], dtype=F64)  # similar, dissimilar inside margin, beyond margin
    loss = layer(a, b, y)[0]
    assert loss.item() == pytest.approx((0.25 + 0.5 ** 2 + 0) / 6)
    ga, gb = torch.autograd.grad(loss, (a, b))
    # similar: (a - b) / N; dissimilar: -(margin - d) / (d + 1e-4) * (a - b) / N where margin > d
    beta = -(1.5 - 1.0) / (1.0 + 1e-4) / 3
    expect = torch.tensor([[-0.3 / 3, -0.4 / 3], [0.0, beta * -1.0], [0.0, 0.0]], dtype=F64)
    assert torch.allclose(ga, expect) and torch.allclose(gb, -expect)


def test_contrastive_loss_legacy_and_similar_pairs_gradcheck():
    a = torch.randn(3, 2, dtype=F64, requires_grad=True)
    b = (a.detach() + 0.1 * torch.randn(3, 2, dtype=F64)).requires_grad_()
    y = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    legacy = _contrastive("legacy_version: true")
    loss = legacy(a, b, y)[0]
    d2 = ((a - b) ** 2).sum(1).detach()
    assert loss.item() == pytest.approx((d2[0] + (1.5 - d2[1:]).clamp(min=0).sum()).item() / 6)
    assert torch.autograd.gradcheck(lambda s, t: legacy(s, t, y)[0], (a, b))
    similar = _contrastive()
    ones = torch.ones(3, dtype=F64)
    assert torch.autograd.gradcheck(lambda s, t: similar(s, t, ones)[0], (a, b))


# ------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("text, shapes, message", [
    ('type: "SoftmaxWithLoss"', [(2, 3)], "takes 2 bottoms, got 1"),
    ('type: "InfogainLoss"', [(2, 3)] * 4, "takes 2 to 3 bottoms, got 4"),
    ('type: "SoftmaxWithLoss"', [(2, 3), (3,)], "bottom 0 shape [2, 3] and bottom 1 shape [3]"),
    ('type: "SoftmaxWithLoss"', [(2, 3, 2), (2,)], "2 labels for 4 predictions"),
    ('type: "SoftmaxWithLoss" softmax_param { axis: 2 }', [(2, 3), (2,)], "axis 2 out of range"),
    ('type: "EuclideanLoss"', [(2, 3), (2, 4)], "differ in size per item"),
    ('type: "SigmoidCrossEntropyLoss"', [(2, 3), (2, 2)], "differ in count"),
    ('type: "HingeLoss"', [(2, 3), (2, 2)], "one label per item"),
    ('type: "MultinomialLogisticLoss"', [(2, 3), (2, 3)], "one label per item"),
    ('type: "ContrastiveLoss"', [(2, 3), (2, 4), (2,)], "bottom 0 shape [2, 3] and bottom 1 shape [2, 4]"),
    ('type: "ContrastiveLoss"', [(2, 3, 2), (2, 3, 2), (2,)], "(N, C) or (N, C, 1, 1)"),
    ('type: "InfogainLoss"', [(2, 3), (2,)], "infogain_loss_param.source is required"),
    ('type: "InfogainLoss"', [(2, 3), (2,), (2, 2)], "does not hold 3x3 values"),
    ('type: "InfogainLoss" loss_param { normalize: true }', [(2, 3), (2,), (3, 3)], "normalize is deprecated"),
    ('type: "InfogainLoss" infogain_loss_param { source: "/nonexistent/H.binaryproto" }', [(2, 3), (2,)],
     "infogain_loss_param.source: /nonexistent/H.binaryproto: cannot read"),
])
def test_loss_invalid_parameters_are_one_line_errors(text, shapes, message):
    with pytest.raises(CaffeError) as e:
        make_layer(f'name: "bad" {text}', shapes)
    msg = str(e.value)
    assert message in msg and msg.startswith("layer bad (") and "\n" not in msg


def test_infogain_source_of_wrong_size_is_an_error(tmp_path):
    write_blob_file(tmp_path / "H.binaryproto", np.eye(2, dtype=np.float32))
    with pytest.raises(CaffeError, match=r"layer i \(InfogainLoss\): infogain matrix .* needs 3x3 values"):
        make_layer(f'name: "i" type: "InfogainLoss" infogain_loss_param {{ source: "{tmp_path}/H.binaryproto" }}',
                   [(2, 3), (2,)])


# -- label smoothing (extension) -------------------------------------------------------------------
SMOOTH = 'name: "loss" type: "SoftmaxWithLoss" bottom: "x" bottom: "y" top: "l" loss_param { label_smoothing: 0.1 }'


def test_label_smoothing_is_cross_entropy_with_smoothed_targets():
    torch.manual_seed(0)
    x, label = torch.randn(5, 7, dtype=F64), torch.tensor([0., 3, 6, 2, 2], dtype=F64)
    layer = make_layer(SMOOTH, [(5, 7), (5,)])
    target = torch.full((5, 7), 0.1 / 7, dtype=F64)
    target[torch.arange(5), label.long()] += 0.9
    expected = -(target * torch.log_softmax(x, 1)).sum() / 5
    assert float(layer(x, label)[0]) == pytest.approx(float(expected), rel=1e-8)
    assert float(expected) == pytest.approx(float(torch.nn.functional.cross_entropy(
        x, label.long(), label_smoothing=0.1)), rel=1e-12)


def test_label_smoothing_gradcheck_and_gradient_is_p_minus_target():
    torch.manual_seed(1)
    x = torch.randn(4, 7, dtype=F64, requires_grad=True)
    label = torch.tensor([1., 0, 6, 3], dtype=F64)
    layer = make_layer(SMOOTH, [(4, 7), (4,)])
    assert torch.autograd.gradcheck(lambda t: layer(t, label)[0], (x,))
    layer(x, label)[0].backward()
    target = torch.full((4, 7), 0.1 / 7, dtype=F64)
    target[torch.arange(4), label.long()] += 0.9
    assert torch.allclose(x.grad, (torch.softmax(x.detach(), 1) - target) / 4, atol=1e-14)


def test_label_smoothing_leaves_ignored_labels_out():
    x, label = torch.randn(3, 4, dtype=F64), torch.tensor([1., 255, 2], dtype=F64)
    layer = make_layer(SMOOTH.replace("label_smoothing: 0.1", "label_smoothing: 0.2 ignore_label: 255"),
                       [(3, 4), (3,)])
    keep = torch.tensor([0, 2])
    ref = torch.nn.functional.cross_entropy(x[keep], label[keep].long(), label_smoothing=0.2)
    assert float(layer(x, label)[0]) == pytest.approx(float(ref), rel=1e-8)


def test_label_smoothing_out_of_range_is_one_line_error():
    with pytest.raises(CaffeError, match=r"layer loss.*label_smoothing must be in \[0, 1\), found 1.5"):
        make_layer(SMOOTH.replace("0.1", "1.5"), [(2, 7), (2,)])


# -- rows of class weights as labels (extension: what a mixing Data layer makes) ----------------------
@pytest.mark.parametrize("smoothing", ["", "loss_param { label_smoothing: 0.1 }"])
def test_soft_labels_are_cross_entropy_against_the_rows(smoothing):
    """One-hot rows give the integer labels' loss and gradient; mixed rows give torch's cross entropy
    with probability targets, and the gradient p - target (gradcheck)."""
    torch.manual_seed(2)
    x = torch.randn(5, 7, dtype=F64, requires_grad=True)
    label = torch.tensor([0., 3, 6, 2, 2], dtype=F64)
    hard = make_layer(f'name: "l" type: "SoftmaxWithLoss" {smoothing}', [(5, 7), (5,)])
    soft = make_layer(f'name: "l" type: "SoftmaxWithLoss" {smoothing}', [(5, 7), (5, 7)])
    rows = torch.nn.functional.one_hot(label.long(), 7).to(F64)
    (g_hard,) = torch.autograd.grad(hard(x, label)[0], x)
    (g_soft,) = torch.autograd.grad(soft(x, rows)[0], x)
    assert float(soft(x, rows)[0].detach()) == pytest.approx(float(hard(x, label)[0].detach()), rel=1e-12)
    assert torch.allclose(g_soft, g_hard, atol=1e-15)
    mixed = 0.3 * rows + 0.7 * rows[torch.tensor([4, 2, 0, 1, 3])]
    e = 0.1 if smoothing else 0.0
    ref = torch.nn.functional.cross_entropy(x, mixed, label_smoothing=e)
    # (label_smoothing is a float in the proto: 0.1 is 0.10000000149)
    assert float(soft(x, mixed)[0].detach()) == pytest.approx(float(ref.detach()), rel=1e-8)
    assert torch.autograd.gradcheck(lambda t: soft(t, mixed)[0], (x,))


def test_soft_labels_take_no_ignore_label():
    with pytest.raises(CaffeError, match=r"^layer l \(SoftmaxWithLoss\): ignore_label does not apply to rows "):
        make_layer('name: "l" type: "SoftmaxWithLoss" loss_param { ignore_label: 255 }', [(5, 7), (5, 7)])
    with pytest.raises(CaffeError, match="35 labels for 5 predictions"):  # rows only where Caffe takes a class
        make_layer('name: "l" type: "InfogainLoss"', [(5, 7), (5, 7), (7, 7)])
