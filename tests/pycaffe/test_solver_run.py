"""pycaffe solvers against real pycaffe (fixtures/pycaffe/solvers), beyond single steps: solve() with and
without a resume file, add_callback's order and state, the test net's own weights until the solver tests,
apply_update() after a Python forward/backward, base_lr written through solver.param, bad solver files."""
from __future__ import annotations

import numpy as np
import pytest

import caffe
from fer_caffe_compat.errors import CaffeError

from .solver_reference import (J, assert_weights, diffs, glog_lines, reference_weights, weights,  # noqa: F401
                               without_iter_s, work)


def _sgd(path: str = "solver_sgd.prototxt"):
    s = caffe.get_solver(path)
    s.net.copy_from("init.caffemodel")
    return s


def test_solve_runs_to_max_iter_snapshots_and_logs_as_pycaffe(work):
    ref = J["solve"]
    s = _sgd()
    with glog_lines(work / "solve.log") as lines:
        assert s.solve() is None
    assert s.iter == ref["iter after solve()"] == 10
    assert sorted(str(p.relative_to(work)) for p in (work / "snap").glob("sgd_iter_10.*")) == ref["new files"]
    assert without_iter_s([x for x in lines if x[1].startswith(("solver", "sgd_solver"))]) == \
        without_iter_s(ref["glog"])
    np.testing.assert_allclose(float(s.net.blobs["loss"].data),
                               ref["loss blob after solve() (the extra forward after the last update)"], rtol=1e-5)
    w = weights(s.net)
    with glog_lines(work / "again.log") as lines:
        s.solve()  # at max_iter already: no step, the snapshot again, one more forward
    assert s.iter == ref["second solve() at iter 10: iter"]
    assert without_iter_s([x for x in lines if x[1].startswith(("solver", "sgd_solver"))]) == \
        without_iter_s(ref["second solve() glog"])
    assert all(np.array_equal(w[k], v) for k, v in weights(s.net).items())


def test_solve_with_a_resume_file_restores_first(work):
    s = caffe.get_solver("solver_sgd.prototxt")
    with glog_lines(work / "resume.log") as lines:
        s.solve("snap/sgd_iter_3.solverstate")
    assert s.iter == J["solve"]["solve('snap/sgd_iter_3.solverstate'): iter after"]
    ours = [x for x in lines if x[1].startswith(("solver", "sgd_solver"))][:4]
    assert ours == without_iter_s(J["solve"]["solve(resume) glog (first 6 lines)"])


def test_callbacks_run_in_caffes_order_with_caffes_state(work):
    ref = [e for e in J["callbacks"]["trace"] if "solver.iter" in e]
    s = _sgd()
    trace = []

    def state(tag):
        net = s.net
        trace.append({"event": tag, "solver.iter": s.iter, "loss_blob": float(net.blobs["loss"].data),
                      "sum|param diffs|": float(sum(np.abs(b.diff).sum() for bl in net.params.values() for b in bl)),
                      "conv1/0[0,0,0,0]": float(net.params["conv1"][0].data[0, 0, 0, 0])})

    s.add_callback(lambda: state("cb1.on_start"), lambda: state("cb1.on_gradients_ready"))
    s.add_callback(lambda: state("cb2.on_start"), lambda: state("cb2.on_gradients_ready"))
    state("before step(1)")
    s.step(1)
    state("after step(1)")
    s.step(1)
    state("after step(1) #2")
    assert [e["event"] for e in trace] == [e["event"] for e in ref]
    for got, want in zip(trace, ref):
        assert got["solver.iter"] == want["solver.iter"], got["event"]
        for k in ("loss_blob", "sum|param diffs|", "conv1/0[0,0,0,0]"):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-4, atol=1e-6, err_msg=f"{got['event']}: {k}")


def test_net_forward_callbacks_run_inside_a_step(work):
    want = [e["event"] for e in J["callbacks"]["trace"] if e["event"].startswith("net.") and "forward" in e["event"]]
    s = _sgd()
    names, trace = list(s.net._layer_names), []
    s.net.before_forward(lambda i: trace.append(f"net.before_forward({i}) {names[i]}"))
    s.net.after_forward(lambda i: trace.append(f"net.after_forward({i}) {names[i]}"))
    s.step(1)
    assert trace == want


def test_net_backward_callbacks_run_per_layer_inside_a_step_and_change_no_value(work):
    """Net::BackwardFromTo calls them around each layer, last to first; the step then runs layer by layer."""
    want = [e["event"] for e in J["callbacks"]["trace"] if e["event"].startswith("net.")]
    s, plain = _sgd(), _sgd()
    names, trace = list(s.net._layer_names), []
    for kind in ("before_forward", "after_forward", "before_backward", "after_backward"):
        getattr(s.net, kind)(lambda i, kind=kind: trace.append(f"net.{kind}({i}) {names[i]}"))
    s.step(2)
    plain.step(2)
    assert trace[:len(want)] == want and len(trace) == 2 * len(want)
    for k, v in weights(plain.net).items():
        np.testing.assert_allclose(weights(s.net)[k], v, rtol=1e-5, atol=1e-7, err_msg=k)
    assert float(s.net.blobs["loss"].data) == pytest.approx(float(plain.net.blobs["loss"].data), rel=1e-5)


def test_an_exception_in_a_callback_reaches_the_caller_and_the_iteration_is_not_counted(work):
    s = caffe.get_solver("solver_sgd.prototxt")
    w = weights(s.net)

    def bad():
        raise ValueError("boom")
    s.add_callback(bad, lambda: None)
    with pytest.raises(ValueError, match="^boom$"):
        s.step(1)
    assert s.iter == 0  # "survived, iter 0" in pycaffe
    assert all(np.array_equal(w[k], v) for k, v in weights(s.net).items())


def test_test_net_keeps_its_own_weights_until_the_solver_tests(work):
    ref = J["solver_types"]["SGD"]
    s = _sgd()
    tn = s.test_nets[0]
    assert not np.array_equal(tn.params["ip1"][0].data, s.net.params["ip1"][0].data)  # copy_from: train net only
    tn.copy_from("testnet_initial.caffemodel")  # Caffe's fillers of the test net (ours draw other numbers)
    s.step(5)
    out = {k: float(v) for k, v in s.test_nets[0].forward().items()}
    want = ref["test_nets[0].forward() (test net still has its filler weights)"]
    assert sorted(out) == sorted(want)
    np.testing.assert_allclose([out[k] for k in sorted(want)], [want[k] for k in sorted(want)], rtol=1e-5)
    tn = s.test_nets[0]
    tn.share_with(s.net)
    out = {k: float(v) for k, v in tn.forward().items()}
    want = ref["test_nets[0].forward() after test_nets[0].share_with(solver.net)"]
    np.testing.assert_allclose([out[k] for k in sorted(want)], [want[k] for k in sorted(want)], rtol=1e-5)


def test_the_solvers_own_test_shares_the_train_weights(work):
    ref = J["test_interval_sharing"]
    s = _sgd("solver_sgd_testint.prototxt")
    shares = lambda: bool(np.shares_memory(s.test_nets[0].params["ip1"][0].data,  # noqa: E731
                                           s.net.params["ip1"][0].data))
    assert shares() is ref["before any test: test net shares memory with train net"]
    with glog_lines(work / "testint.log") as lines:
        s.step(3)  # test_interval 2: a test at the start of iteration 2
    assert shares() is ref["after step(3) (a test ran at iter 2): test net shares memory with train net"]
    assert without_iter_s([x for x in lines if x[1].startswith(("solver", "sgd_solver"))]) == \
        without_iter_s(ref["glog of step(3)"])


def test_apply_update_after_a_python_forward_backward(work):
    ref = J["misc"]
    s = _sgd()
    s.param.base_lr = 0.05
    assert [s.param.base_lr, s.lr] == ref["after s.param.base_lr = 0.05: s.param.base_lr, s.lr"]
    s.net.clear_param_diffs()
    s.net.forward()
    s.net.backward()
    g, w0 = diffs(s.net), weights(s.net)
    assert_weights(g, reference_weights("apply_update/grad/"), "gradients before apply_update")
    s.apply_update()
    assert s.iter == ref["apply_update(): iter after"] == 1
    w1, d1 = weights(s.net), diffs(s.net)
    assert all(np.array_equal(w0[k] - d1[k], w1[k]) for k in w1)
    assert_weights(w1, reference_weights("apply_update/w_after/"), "weights after apply_update")


def test_share_weights_gives_a_net_the_solvers_weights(work):
    s = _sgd()
    net = caffe.Net("solver_net.prototxt", caffe.TEST)
    s.share_weights(net)
    s.step(1)
    assert np.array_equal(net.params["conv1"][0].data, s.net.params["conv1"][0].data)


@pytest.mark.parametrize("make, text, message", [
    (lambda: caffe.get_solver("missing.prototxt"), None, "missing.prototxt: cannot read"),
    (lambda: caffe.SGDSolver("missing.prototxt"), None, "missing.prototxt: cannot read"),
    (lambda: caffe.get_solver("nope.prototxt"), 'type: "SGD"', 'unknown solver type "Nope" (known types: SGD, '
                                                             'Nesterov, AdaGrad, RMSProp, AdaDelta, Adam)'),
    (lambda: caffe.AdaGradSolver("solver_sgd.prototxt"), None, "momentum cannot be used with AdaGrad"),
], ids=["get_solver_missing", "class_missing", "unknown_type", "adagrad_momentum"])
def test_bad_solver_files_raise_one_clear_error(work, make, text, message):
    """Real pycaffe aborts the process (glog CHECK); here one CaffeError names the file and the fault."""
    if text is not None:
        (work / "nope.prototxt").write_text((work / "solver_sgd.prototxt").read_text().replace(text, 'type: "Nope"'))
    with pytest.raises(CaffeError, match=None) as e:
        make()
    assert message in str(e.value)


def test_solver_base_class_cannot_be_built():
    with pytest.raises(TypeError):
        caffe.solver.Solver("solver_sgd.prototxt")
