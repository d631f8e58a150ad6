"""lr policies against the rates Caffe printed ("Iteration N, lr = X", 6 significant digits)."""
import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2
from fer_caffe_compat.solver.lr_policy import check_policy, learning_rate, momentum


def _param(**kw) -> caffe_pb2.SolverParameter:
    return caffe_pb2.SolverParameter(base_lr=0.01, max_iter=20, **kw)


def _rates(p, n=20):
    out, step = [], 0
    for it in range(n):
        r, step = learning_rate(p, it, step)
        out.append(f"{r:g}")
    return out


CAFFE_RATES = {
    "fixed": (dict(lr_policy="fixed"), ["0.01"] * 20),
    "step": (dict(lr_policy="step", gamma=0.5, stepsize=5),
             ["0.01"] * 5 + ["0.005"] * 5 + ["0.0025"] * 5 + ["0.00125"] * 5),
    "exp": (dict(lr_policy="exp", gamma=0.9),
            "0.01 0.009 0.0081 0.00729 0.006561 0.0059049 0.00531441 0.00478297 0.00430467 0.0038742 "
            "0.00348678 0.0031381 0.00282429 0.00254186 0.00228768 0.00205891 0.00185302 0.00166772 "
            "0.00150095 0.00135085".split()),
    "inv": (dict(lr_policy="inv", gamma=0.1, power=0.75),
            "0.01 0.00931012 0.00872196 0.00821377 0.00776969 0.00737788 0.00702927 0.00671681 "
            "0.00643496 0.00617924 0.00594604 0.00573239 0.00553583 0.00535432 0.00518611 0.00502973 "
            "0.00488394 0.00474763 0.00461989 0.00449989".split()),
    "multistep": (dict(lr_policy="multistep", gamma=0.5, stepvalue=[5, 12]),
                  ["0.01"] * 5 + ["0.005"] * 7 + ["0.0025"] * 8),
    "poly": (dict(lr_policy="poly", power=2),
             "0.01 0.009025 0.0081 0.007225 0.0064 0.005625 0.0049 0.004225 0.0036 0.003025 0.0025 "
             "0.002025 0.0016 0.001225 0.0009 0.000625 0.0004 0.000225 0.0001 2.5e-05".split()),
    "sigmoid": (dict(lr_policy="sigmoid", gamma=0.5, stepsize=10),
                "6.69285e-05 0.000109869 0.000179862 0.000293122 0.000474259 0.000758582 0.00119203 "
                "0.00182426 0.00268941 0.00377541 0.005 0.00622459 0.00731059 0.00817574 0.00880797 "
                "0.00924142 0.00952574 0.00970688 0.00982014 0.00989013".split()),
}


@pytest.mark.parametrize("name", sorted(CAFFE_RATES))
def test_lr_policy_sequence_matches_caffe_log(name):
    kw, expected = CAFFE_RATES[name]
    assert _rates(_param(**kw)) == expected


def test_multistep_current_step_is_state_and_advances_once_per_call():
    p = _param(lr_policy="multistep", gamma=0.1, stepvalue=[2, 3])
    assert learning_rate(p, 0, 0)[1] == 0
    # Resuming at iteration 10 with current_step 0: Caffe advances one step per call, not all at once.
    assert learning_rate(p, 10, 0) == (pytest.approx(0.001), 1)
    assert learning_rate(p, 11, 1) == (pytest.approx(0.0001), 2)


def test_step_sets_current_step_to_iter_over_stepsize():
    p = _param(lr_policy="step", gamma=0.5, stepsize=10)
    assert learning_rate(p, 25, 0) == (pytest.approx(0.0025), 2)


def test_unknown_lr_policy_is_one_line_error():
    with pytest.raises(CaffeError, match='unknown lr_policy "triangular"'):
        check_policy(_param(lr_policy="triangular"))
    with pytest.raises(CaffeError, match="unknown lr_policy"):
        learning_rate(_param(lr_policy="triangular"), 0)


@pytest.mark.parametrize("policy", ["step", "exp", "inv", "multistep", "sigmoid"])
@pytest.mark.parametrize("gamma", [-0.5, 0.0])
def test_gamma_the_policy_uses_must_be_positive(policy, gamma):
    with pytest.raises(CaffeError, match=rf'lr_policy "{policy}" needs gamma > 0, got {gamma:g}'):
        check_policy(_param(lr_policy=policy, gamma=gamma, stepsize=10))


@pytest.mark.parametrize("policy", ["step", "sigmoid"])
@pytest.mark.parametrize("stepsize", [-1, 0])
def test_stepsize_the_policy_uses_must_be_positive(policy, stepsize):
    with pytest.raises(CaffeError, match=rf'lr_policy "{policy}" needs stepsize > 0'):
        check_policy(_param(lr_policy=policy, gamma=0.5, stepsize=stepsize))


def test_gamma_and_stepsize_a_policy_does_not_use_are_not_checked():
    check_policy(_param(lr_policy="fixed", gamma=-1, stepsize=-1))
    check_policy(_param(lr_policy="poly", power=1, gamma=0))


# -- extensions (not in Caffe 1.0): literal sequences, worked out by hand ---------------------------------
def _seq(n, **kw):
    p = caffe_pb2.SolverParameter(**kw)
    check_policy(p)
    return [f"{learning_rate(p, it, 0)[0]:.6g}" for it in range(n)]


def test_cosine_goes_from_base_lr_to_min_lr():
    # min_lr + (base - min) (1 + cos(pi it / max_iter)) / 2
    assert _seq(9, base_lr=0.1, lr_policy="cosine", max_iter=8, min_lr=0.01) == \
        "0.1 0.0965746 0.0868198 0.0722208 0.055 0.0377792 0.0231802 0.0134254 0.01".split()


def test_warmup_ramps_linearly_in_front_of_a_caffe_policy():
    # (0.2 + 0.8 it / 4) * step rate, then Caffe's step policy unchanged
    assert _seq(9, base_lr=0.1, lr_policy="step", gamma=0.5, stepsize=4, warmup_iter=4,
                warmup_start_factor=0.2) == "0.02 0.04 0.06 0.08 0.05 0.05 0.05 0.05 0.025".split()


def test_onecycle_rate_and_momentum_match_torch_onecycle():
    p = caffe_pb2.SolverParameter(base_lr=0.1, lr_policy="onecycle", max_iter=10, momentum=0.95,
                                  min_momentum=0.85)
    rates = [f"{learning_rate(p, it, 0)[0]:.6g}" for it in range(10)]
    moms = [f"{momentum(p, it):.6g}" for it in range(10)]
    # torch.optim.lr_scheduler.OneCycleLR(max_lr=0.1, total_steps=10, pct_start=0.3,
    #                                     base_momentum=0.85, max_momentum=0.95) gives the same
    assert rates == "0.004 0.052 0.1 0.0950485 0.0811746 0.0611262 0.0388742 0.0188258 0.00495194 4e-07".split()
    assert moms == "0.95 0.9 0.85 0.854952 0.868826 0.888874 0.911126 0.931174 0.945048 0.95".split()


def test_momentum_is_caffes_constant_without_onecycle():
    p = _param(lr_policy="step", gamma=0.5, stepsize=5, momentum=0.9)
    assert all(momentum(p, it) == pytest.approx(0.9) for it in range(20))


@pytest.mark.parametrize("kw, msg", [
    (dict(lr_policy="cosine", max_iter=0), r"lr_policy \"cosine\" needs max_iter > 0"),
    (dict(lr_policy="cosine", min_lr=0.5), r"min_lr must be in \[0, base_lr\]"),
    (dict(lr_policy="onecycle", onecycle_pct_start=1.0), r"onecycle_pct_start must be in \(0, 1\)"),
    (dict(lr_policy="step", stepsize=2, gamma=0.5, min_momentum=0.8), "min_momentum is only used by"),
    (dict(lr_policy="fixed", warmup_iter=-1), "warmup_iter must be >= 0"),
])
def test_extension_policy_errors_are_one_line(kw, msg):
    p = caffe_pb2.SolverParameter(base_lr=0.1, max_iter=kw.pop("max_iter", 10), momentum=0.9, **kw)
    with pytest.raises(CaffeError, match=msg):
        check_policy(p, "s.prototxt")
