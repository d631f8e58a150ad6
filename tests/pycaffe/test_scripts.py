"""BVLC's python/train.py on one device: the calls it makes (NCCL.new_uid, set_mode_gpu, set_solver_count,
NCCL(solver, uid).bcast(), solver.add_callback(nccl), net.after_backward(nccl), step(max_iter)) run, and train
as a plain solver does; several solvers are refused with one clear error (no NCCL to sum their gradients)."""
from __future__ import annotations

import pytest

import caffe

from .solver_reference import assert_weights, weights, work  # noqa: F401


@pytest.fixture()
def one_gpu_process():
    """train.py's solve() sets process-wide state; put it back for the other tests."""
    yield
    caffe.set_mode_cpu()
    caffe.set_solver_count(1)
    caffe.set_solver_rank(0)
    caffe.set_multiprocess(False)


def test_new_uid_is_opaque_bytes_without_nul():
    uid = caffe.NCCL.new_uid()
    assert isinstance(uid, bytes) and len(uid) == 128 and b"\0" not in uid  # NCCL_UNIQUE_ID_BYTES
    assert caffe.NCCL.new_uid() != uid


def test_train_py_sequence_on_one_device_trains_as_a_plain_solver(work, one_gpu_process):  # noqa: F811
    uid = caffe.NCCL.new_uid()
    caffe.set_mode_gpu()  # without CUDA: one warning, then the CPU
    caffe.set_device(0)
    caffe.set_solver_count(1)
    caffe.set_solver_rank(0)
    caffe.set_multiprocess(True)
    solver = caffe.SGDSolver("solver_sgd.prototxt")
    nccl = caffe.NCCL(solver, uid)
    nccl.bcast()
    solver.add_callback(nccl)
    assert solver.param.layer_wise_reduce  # Caffe's default: train.py also hooks the net
    solver.net.after_backward(nccl)
    solver.step(solver.param.max_iter)
    assert solver.iter == 10

    caffe.set_mode_cpu()
    plain = caffe.SGDSolver("solver_sgd.prototxt")
    plain.step(10)
    assert_weights(weights(solver.net), weights(plain.net), "train.py sequence vs plain step")


def test_several_solvers_are_refused_at_bcast(work, one_gpu_process):  # noqa: F811
    caffe.set_solver_count(2)
    caffe.set_solver_rank(1)
    nccl = caffe.NCCL(caffe.SGDSolver("solver_sgd.prototxt"), caffe.NCCL.new_uid())
    with pytest.raises(RuntimeError, match=r"caffe.NCCL: 2 solvers .* `caffe train -gpu 0,1`"):
        nccl.bcast()


def test_add_callback_with_one_argument_takes_only_an_nccl(work):  # noqa: F811
    solver = caffe.SGDSolver("solver_sgd.prototxt")
    with pytest.raises(TypeError, match="two callables"):
        solver.add_callback(lambda: None)
