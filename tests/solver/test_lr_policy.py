"""lr policies against the rates Caffe printed ("Iteration N, lr = X", 6 significant digits)."""
import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2
from fer_caffe_compat.solver.lr_policy import check_policy, learning_rate


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
    with pytest.raises(CaffeError, match='unknown lr_policy "cosine"'):
        check_policy(_param(lr_policy="cosine"))
    with pytest.raises(CaffeError, match="unknown lr_policy"):
        learning_rate(_param(lr_policy="cosine"), 0)


def test_negative_gamma_refused_as_caffe_does():
    with pytest.raises(CaffeError, match="gamma >= 0"):
        check_policy(_param(lr_policy="sigmoid", gamma=-0.5, stepsize=10))
