"""Solver::InitTrainNet's checks name the file whose layers are wrong: the net file, not the solver."""
from __future__ import annotations

import pytest

from fer_caffe_compat.errors import CaffeError
from fer_caffe_compat.proto import caffe_pb2


@pytest.mark.parametrize("field", ["net", "train_net"])
def test_empty_net_file_names_the_net_file(tmp_path, monkeypatch, field):
    from fer_caffe_compat.solver.solver import Solver
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty_net.prototxt").write_text("")
    p = caffe_pb2.SolverParameter(base_lr=0.01, lr_policy="fixed", max_iter=1, snapshot_prefix=str(tmp_path / "x"))
    setattr(p, field, "empty_net.prototxt")
    with pytest.raises(CaffeError) as e:
        Solver(p, "solver.prototxt")
    assert str(e.value) == ("empty_net.prototxt: the train net (unnamed) has no layers in phase TRAIN "
                            "(the train net of solver.prototxt)")


def test_empty_net_param_names_the_solver(tmp_path):
    from fer_caffe_compat.solver.solver import Solver
    p = caffe_pb2.SolverParameter(base_lr=0.01, lr_policy="fixed", max_iter=1, snapshot_prefix=str(tmp_path / "x"))
    p.net_param.name = "inline"
    with pytest.raises(CaffeError, match=r"^solver.prototxt: the train net inline has no layers in phase TRAIN$"):
        Solver(p, "solver.prototxt")
