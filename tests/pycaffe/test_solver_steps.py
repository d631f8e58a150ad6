"""caffe.get_solver and the six solver classes against real pycaffe (fixtures/pycaffe/solvers): per step the
iteration, the loss blob, solver.lr, the display lines and the weights; param diffs holding the applied update;
snapshot(); restore() (the Data cursor is not part of a snapshot); the class constructors."""
from __future__ import annotations

import numpy as np
import pytest

import caffe
from fer_caffe_compat.proto import caffe_pb2, read_binary

from .solver_reference import (J, TYPES, assert_weights, diffs, glog_lines, reference_weights, weights,  # noqa: F401
                               without_iter_s, work)


def _solver(t: str, cls=None):
    path = f"solver_{t.lower()}.prototxt"
    s = cls(path) if cls is not None else caffe.get_solver(path)
    s.net.copy_from("init.caffemodel")
    return s


@pytest.mark.parametrize("t", TYPES)
def test_five_steps_match_pycaffe(work, t):
    ref = J["solver_types"][t]
    s = _solver(t)
    assert type(s).__name__ == ref["type(get_solver(path))"] and s.iter == 0
    assert isinstance(s.test_nets, list) and len(s.test_nets) == ref["len(solver.test_nets)"]
    assert {k: getattr(s.param, k) for k in ref["solver.param"]} == ref["solver.param"]
    for i, want in enumerate(ref["steps"]):
        before = weights(s.net)
        with glog_lines(work / "step.log") as lines:
            s.step(1)
        assert s.iter == want["iter_after"]
        np.testing.assert_allclose(float(s.net.blobs["loss"].data), want["loss_blob_after"], rtol=1e-5,
                                   err_msg=f"{t} step {i + 1} loss")
        assert s.lr == want["solver.lr_after"]
        assert without_iter_s(lines) == without_iter_s(want["glog"]), f"{t} step {i + 1}"
        after, d = weights(s.net), diffs(s.net)
        assert_weights(after, reference_weights(f"{t}/step{i + 1}/w/"), f"{t} step {i + 1}")
        # Caffe's diff holds the update it applied: w_before - diff == w_after, to the bit
        assert all(np.array_equal(before[k] - d[k], after[k]) for k in after), f"{t} step {i + 1} diffs"


@pytest.mark.parametrize("t", TYPES)
def test_snapshot_then_restore_continues_as_pycaffe(work, t):
    ref = J["solver_types"][t]
    s = _solver(t)
    s.step(3)
    assert_weights(weights(s.net), reference_weights(f"{t}/step3/w/"), f"{t} step(3)")
    with glog_lines(work / "snap.log") as lines:
        assert s.snapshot() is None
    prefix = f"snap/{t.lower()}_iter_3"
    assert lines == [["I", "solver.cpp:464", f"Snapshotting to binary proto file {prefix}.caffemodel"],
                     ["I", "sgd_solver.cpp:284", f"Snapshotting solver state to binary proto file "
                                                 f"{prefix}.solverstate"]]
    st = read_binary(f"{prefix}.solverstate", caffe_pb2.SolverState())
    assert {"iter": st.iter, "learned_net": st.learned_net, "current_step": st.current_step,
            "history_shapes": [list(h.shape.dim) for h in st.history]} == ref["iter3 solverstate"]
    # a fresh solver restored from it reads its data from the first record again (Caffe saves no cursor)
    r = caffe.get_solver(f"solver_{t.lower()}.prototxt")
    with glog_lines(work / "restore.log") as lines:
        r.restore(f"{prefix}.solverstate")
    assert [x for x in lines if x[1].startswith("sgd_solver")] == without_iter_s(ref["restore() glog"])
    assert r.iter == ref["iter after restore"]
    losses = []
    for _ in range(2):
        r.step(1)
        losses.append(float(r.net.blobs["loss"].data))
    np.testing.assert_allclose(losses, ref["restore+2 steps: losses (iter 4,5)"], rtol=1e-5)
    # three forward passes move the cursor where the uninterrupted run was: the same weights at step 5
    r = caffe.get_solver(f"solver_{t.lower()}.prototxt")
    r.restore(f"{prefix}.solverstate")
    for _ in range(3):
        r.net.forward()
    for _ in range(2):
        r.step(1)
    assert_weights(weights(r.net), reference_weights(f"{t}/step5/w/"), f"{t} restore + 3 forwards + 2 steps")


@pytest.mark.parametrize("t", ["SGD", "Adam"])
def test_restores_caffes_own_solverstate(work, t):
    """The .solverstate (and its .caffemodel) real pycaffe wrote at iteration 3 resumes here."""
    r = caffe.get_solver(f"solver_{t.lower()}.prototxt")
    r.restore(f"snap/{t.lower()}_iter_3.solverstate")
    assert r.iter == 3
    for _ in range(3):
        r.net.forward()
    r.step(2)
    assert r.iter == 5
    assert_weights(weights(r.net), reference_weights(f"{t}/step5/w/"), f"{t} from Caffe's iter-3 state")


def test_snapshot_after_five_steps_names_iteration_five(work):
    ref = J["solver_types"]["SGD"]
    s = _solver("SGD")
    s.step(5)
    s.snapshot()
    assert sorted(str(p.relative_to(work)) for p in (work / "snap").glob("sgd_iter_5.*")) == ref["snapshot() new files"]
    st = read_binary("snap/sgd_iter_5.solverstate", caffe_pb2.SolverState())
    assert (st.iter, st.learned_net, st.current_step) == (5, "snap/sgd_iter_5.caffemodel", 1)


@pytest.mark.parametrize("t", TYPES)
def test_type_class_constructor_runs_its_own_rule(work, t):
    s = _solver(t, getattr(caffe, f"{t}Solver"))
    assert type(s).__name__ == f"{t}Solver"
    s.step(1)
    assert_weights(weights(s.net), reference_weights(f"{t}/step1/w/"), f"{t}Solver(path) step 1")


def test_sgd_solver_on_an_adam_file_runs_sgd(work):
    s = caffe.SGDSolver("solver_adam.prototxt")
    s.net.copy_from("init.caffemodel")
    w0 = weights(s.net)
    s.step(1)
    assert type(s).__name__ == "SGDSolver"
    got, adam = weights(s.net), reference_weights("Adam/step1/w/")
    assert any(not np.allclose(got[k], adam[k], rtol=1e-4, atol=1e-6) for k in adam)
    # plain SGD from zero history: w1 = w0 - lr * lr_mult * (g + wd * decay_mult * w0), lr 0.01 (the file's)
    d = diffs(s.net)
    assert all(np.array_equal(w0[k] - d[k], got[k]) for k in got)
    assert s.param.type == "SGD"


def test_every_class_has_the_solver_interface(work):
    s = caffe.get_solver("solver_nesterov.prototxt")
    assert isinstance(s, caffe.NesterovSolver) and isinstance(s, caffe.SGDSolver)
    for name in ("net", "test_nets", "iter", "param", "lr", "step", "solve", "snapshot", "restore",
                 "apply_update", "add_callback", "share_weights"):
        assert hasattr(s, name), name
