"""Update rules on tiny tensors, against sequences worked out by hand from Caffe's formulas."""
import math

import pytest
import torch

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2
from fer_caffe_compat.solver.updates import (Hyper, clip_scale, compute_update, normalize, regularize,
                                             solver_type)

D = torch.float64


def _run(kind, grads, lr, hp, nhist=1):
    """Apply the rule with constant-in-time gradients; return the update values and the history."""
    hist = [torch.zeros(1, dtype=D) for _ in range(nhist)]
    ups = []
    for it, g in enumerate(grads):
        u = compute_update(kind, torch.tensor([g], dtype=D), hist, lr, hp, it)
        ups.append(round(float(u), 10))
    return ups, [float(h) for h in hist]


def test_sgd_history_is_lr_scaled_velocity():
    ups, hist = _run("SGD", [1.0, 1.0, 1.0], 0.1, Hyper(momentum=0.9))
    assert ups == [0.1, 0.19, 0.271]
    assert hist == pytest.approx([0.271])


def test_sgd_lr_change_does_not_rescale_old_velocity():
    # Caffe: v = m*v + lr*g, so after a drop of lr the old velocity keeps its size (torch.optim differs).
    h = [torch.zeros(1, dtype=D)]
    compute_update("SGD", torch.ones(1, dtype=D), h, 1.0, Hyper(momentum=0.5))
    u = compute_update("SGD", torch.ones(1, dtype=D), h, 0.1, Hyper(momentum=0.5))
    assert float(u) == pytest.approx(0.6)


def test_nesterov_steps_back_then_over():
    ups, hist = _run("Nesterov", [1.0, 1.0], 0.1, Hyper(momentum=0.9))
    # v1 = 0.1, u1 = 1.9*0.1 - 0.9*0 = 0.19; v2 = 0.19, u2 = 1.9*0.19 - 0.9*0.1 = 0.271
    assert ups == [0.19, 0.271]
    assert hist == pytest.approx([0.19])


def test_adagrad_accumulates_squares():
    ups, hist = _run("AdaGrad", [2.0, 2.0], 0.1, Hyper(delta=0.0))
    assert ups == [0.1, round(0.1 * 2 / math.sqrt(8), 10)]
    assert hist == [8.0]


def test_rmsprop_decays_squares():
    ups, hist = _run("RMSProp", [1.0, 1.0], 0.01, Hyper(rms_decay=0.75, delta=0.0))
    # h1 = 0.25, u1 = 0.01/0.5 = 0.02; h2 = 0.4375, u2 = 0.01/sqrt(0.4375)
    assert ups == [0.02, round(0.01 / math.sqrt(0.4375), 10)]
    assert hist == [0.4375]


def test_adadelta_two_history_sets():
    ups, hist = _run("AdaDelta", [1.0], 1.0, Hyper(momentum=0.5, delta=0.25), nhist=2)
    # a = 0.5; d = 1*sqrt((0+0.25)/(0.5+0.25)) = sqrt(1/3); b = 0.5*d^2 = 1/6
    assert ups == [round(math.sqrt(1 / 3), 10)]
    assert hist == pytest.approx([0.5, 1 / 6])


def test_adam_bias_correction_uses_iteration_plus_one():
    ups, hist = _run("Adam", [1.0, 1.0], 0.001, Hyper(momentum=0.9, momentum2=0.999, delta=0.0), nhist=2)
    # constant gradient: m_t/(1-b1^t) = 1 and v_t/(1-b2^t) = 1, so u = lr at every step
    assert ups == [0.001, 0.001]
    assert hist == pytest.approx([0.19, 0.001999])


def test_weight_decay_l2_l1_and_decay_mult():
    w = torch.tensor([2.0, -3.0, 0.0], dtype=D)
    assert regularize(w, torch.zeros(3, dtype=D), 0.1, 1.0, "L2").tolist() == pytest.approx([0.2, -0.3, 0.0])
    assert regularize(w, torch.zeros(3, dtype=D), 0.1, 2.0, "L1").tolist() == pytest.approx([0.2, -0.2, 0.0])
    assert regularize(w, torch.ones(3, dtype=D), 0.1, 0.0, "L2").tolist() == [1.0, 1.0, 1.0]


def test_clip_gradients_scales_joint_norm():
    g = [torch.tensor([3.0], dtype=D), torch.tensor([4.0], dtype=D)]
    assert clip_scale(g, 1.0) == (5.0, 0.2)
    assert [float(x) for x in g] == pytest.approx([0.6, 0.8])
    assert clip_scale(g, 10.0) is None and clip_scale(g, -1) is None


def test_iter_size_normalisation():
    assert normalize(torch.tensor([4.0], dtype=D), 2).tolist() == [2.0]


def test_legacy_solver_type_enum_and_caffe_checks():
    assert solver_type(caffe_pb2.SolverParameter(solver_type=caffe_pb2.SolverParameter.ADAM)) == "Adam"
    assert solver_type(caffe_pb2.SolverParameter(type="Nesterov")) == "Nesterov"
    with pytest.raises(CaffeError, match='unknown solver type "Adamax"'):
        solver_type(caffe_pb2.SolverParameter(type="Adamax"))
    with pytest.raises(CaffeError, match="momentum cannot be used with AdaGrad"):
        solver_type(caffe_pb2.SolverParameter(type="AdaGrad", momentum=0.9))
    with pytest.raises(CaffeError, match="momentum cannot be used with RMSProp"):
        solver_type(caffe_pb2.SolverParameter(type="RMSProp", momentum=0.9))


def _caffe_blob_update(kind, w, g, hist, lr, decay, reg, iter_size, hp, it):
    """One blob, Caffe's formulas written out with single-tensor ops (the reference for the fused path)."""
    g = g.clone().mul_(1.0 / iter_size)
    if decay:
        g.add_(w if reg == "L2" else torch.sign(w), alpha=decay)
    h = hist[0]
    if kind == "SGD":
        h.mul_(hp.momentum).add_(g, alpha=lr)
        u = h
    elif kind == "Nesterov":
        old = h.clone()
        h.mul_(hp.momentum).add_(g, alpha=lr)
        u = h * (1 + hp.momentum) - old * hp.momentum
    elif kind == "AdaGrad":
        h.add_(g * g)
        u = (g / (h.sqrt() + hp.delta)) * lr
    elif kind == "RMSProp":
        h.mul_(hp.rms_decay).add_(g * g, alpha=1 - hp.rms_decay)
        u = (g / (h.sqrt() + hp.delta)) * lr
    elif kind == "AdaDelta":
        m, b = hp.momentum, hist[1]
        h.mul_(m).add_(g * g, alpha=1 - m)
        d = g * ((b + hp.delta) / (h + hp.delta)).sqrt()
        b.mul_(m).add_(d * d, alpha=1 - m)
        u = d * lr
    else:
        b1, b2, v = hp.momentum, hp.momentum2, hist[1]
        h.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).add_(g * g, alpha=1 - b2)
        u = (h / (v.sqrt() + hp.delta)) * (lr * math.sqrt(1 - b2 ** (it + 1)) / (1 - b1 ** (it + 1)))
    w.sub_(u)


@pytest.mark.parametrize("kind", ["SGD", "Nesterov", "AdaGrad", "RMSProp", "AdaDelta", "Adam"])
@pytest.mark.parametrize("reg", ["L2", "L1"])
def test_fused_update_of_all_blobs_is_caffes_blob_by_blob_arithmetic_bit_for_bit(kind, reg):
    """update_all (multi-tensor ops, blobs grouped by local rate and decay) gives, bit for bit, what
    Caffe's formulas give one blob at a time: normalize -> regularize -> history and update -> w -= u."""
    from fer_caffe_compat.solver.updates import update_all

    g = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (4,), (2, 3, 5), (7,)]
    rates, decays = [0.01, 0.02, 0.01, 0.0], [0.0005, 0.0, 0.0005, 0.001]
    hp = Hyper(momentum=0.0 if kind in ("AdaGrad", "RMSProp") else 0.9, delta=1e-6, rms_decay=0.9)
    p = caffe_pb2.SolverParameter(iter_size=2, regularization_type=reg)
    sets = 2 if kind in ("AdaDelta", "Adam") else 1
    w1 = [torch.randn(s, generator=g) for s in shapes]
    h1 = [[torch.rand(s, generator=g) for s in shapes] for _ in range(sets)]
    w2, h2 = [w.clone() for w in w1], [[h.clone() for h in hs] for hs in h1]
    for it in range(3):
        grads = [torch.randn(s, generator=g) for s in shapes]
        update_all(kind, w1, [x.clone() for x in grads], h1, rates, decays, p, hp, it)
        for i in range(len(shapes)):
            _caffe_blob_update(kind, w2[i], grads[i], [hs[i] for hs in h2], rates[i], decays[i], reg, 2, hp, it)
    for a, b in zip(w1 + [h for hs in h1 for h in hs], w2 + [h for hs in h2 for h in hs]):
        assert torch.equal(a, b), f"{kind}: largest difference {(a - b).abs().max():.3g}"
