"""The .solverstate: Caffe's files read, ours written the same way, mismatches refused."""
from __future__ import annotations

import numpy as np
import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2, read_binary
from fer_caffe_compat.solver.state import SolverState, read_state, write_state

from ..conftest import FIXTURES

LENET_SHAPES = [(20, 1, 5, 5), (20,), (50, 20, 5, 5), (50,), (50, 4050), (50,), (7, 50), (7,)]


def test_reads_caffes_lenet_solverstate():
    st = read_state(FIXTURES / "lenet" / "lenet_iter_15.solverstate", LENET_SHAPES)
    assert (st.iter, st.learned_net, st.current_step) == (15, "lenet_iter_15.caffemodel", 1)
    assert [h.shape for h in st.history] == LENET_SHAPES


def test_written_state_has_caffes_layout_and_round_trips(tmp_path):
    hist = [np.full(s, i, dtype=np.float32) for i, s in enumerate(LENET_SHAPES)]
    write_state(tmp_path / "x.solverstate", SolverState(7, "x_iter_7.caffemodel", hist, 2))
    msg = read_binary(tmp_path / "x.solverstate", caffe_pb2.SolverState())
    assert (msg.iter, msg.learned_net, msg.current_step, len(msg.history)) == (7, "x_iter_7.caffemodel", 2, 8)
    assert list(msg.history[4].shape.dim) == [50, 4050] and not msg.history[4].HasField("num")
    back = read_state(tmp_path / "x.solverstate", LENET_SHAPES)
    assert all(np.array_equal(a, b) for a, b in zip(back.history, hist))
    # byte layout equal to Caffe's file for the same content
    caffe = read_binary(FIXTURES / "lenet" / "lenet_iter_15.solverstate", caffe_pb2.SolverState())
    write_state(tmp_path / "y.solverstate", SolverState(
        15, "lenet_iter_15.caffemodel", read_state(FIXTURES / "lenet" / "lenet_iter_15.solverstate").history, 1))
    assert (tmp_path / "y.solverstate").read_bytes() == caffe.SerializeToString()


def test_history_count_mismatch_is_refused():
    with pytest.raises(CaffeError, match="8 history blobs, the net and solver need 16"):
        read_state(FIXTURES / "lenet" / "lenet_iter_15.solverstate", LENET_SHAPES * 2)


def test_history_shape_mismatch_names_the_blob():
    shapes = list(LENET_SHAPES)
    shapes[4] = (40, 4050)
    with pytest.raises(CaffeError, match=r"history\[4\] has shape \(50, 4050\).*\(40, 4050\)"):
        read_state(FIXTURES / "lenet" / "lenet_iter_15.solverstate", shapes)
