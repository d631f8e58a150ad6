"""nets/ and solvers/: every solver parses, names an existing net, passes Caffe's checks; every net builds with
the shapes its comments state (Data layers swapped for DummyData, so no LMDB is needed)."""
from __future__ import annotations

import pytest

from fer_caffe_compat.proto import caffe_pb2, read_prototxt
from fer_caffe_compat.proto.extensions import solver_extensions
from fer_caffe_compat.solver.lr_policy import check_policy
from fer_caffe_compat.solver.updates import solver_type

from ..conftest import ROOT

SOLVERS = sorted((ROOT / "solvers").glob("*.prototxt"))


@pytest.mark.parametrize("path", SOLVERS, ids=[p.name for p in SOLVERS])
def test_solver_file_is_valid(path):
    p = read_prototxt(path, caffe_pb2.SolverParameter())
    check_policy(p, str(path))
    kind = solver_type(p, str(path))
    assert (ROOT / p.net).is_file(), p.net
    assert p.snapshot_prefix.startswith("snapshots/")
    assert len(p.test_iter) == 1 and p.test_interval > 0
    if not solver_extensions(p):  # the original project's Caffe solvers; the recipes use extensions
        assert kind == "SGD" and p.lr_policy == "step"


def test_original_projects_alexnet_solvers():
    get = lambda n: read_prototxt(ROOT / "solvers" / n, caffe_pb2.SolverParameter())  # noqa: E731
    a, b, c = get("alexnet_solver.prototxt"), get("alexnet_256_size_solver.prototxt"), \
        get("alexnet_gamma0.95_solver.prototxt")
    assert [x.max_iter for x in (a, b, c)] == [50000] * 3
    assert (round(a.gamma, 6), round(b.gamma, 6), round(c.gamma, 6)) == (0.1, 0.1, 0.95)
    batch = lambda s: next(lp.data_param.batch_size for lp in  # noqa: E731
                           read_prototxt(ROOT / s.net, caffe_pb2.NetParameter()).layer
                           if lp.type == "Data" and lp.include[0].phase == caffe_pb2.TRAIN)
    assert (batch(a), batch(b), batch(c)) == (100, 256, 100)


def _shapes(net_file, batch):
    from fer_caffe_compat.cli.bench_options import _dummy_train_net
    from fer_caffe_compat.net import Net
    net = Net(_dummy_train_net(str(ROOT / net_file), batch), phase=caffe_pb2.TRAIN)
    return net.blob_shapes


def test_lenet_shapes_at_48x48():
    s = _shapes("nets/lenet_train_test.prototxt", 2)
    assert s["conv1"] == (2, 20, 44, 44) and s["pool2"] == (2, 50, 9, 9) and s["ip2"] == (2, 7)


def test_alexnet_pads_give_these_shapes_at_48x48():
    s = _shapes("nets/alexnet_train_val.prototxt", 2)
    assert [s[k][1:] for k in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5", "fc6", "fc8")] == [
        (96, 12, 12), (96, 6, 6), (256, 6, 6), (256, 3, 3), (256, 3, 3), (256, 1, 1), (4096,), (7,)]


@pytest.mark.parametrize("name,out", [("lenet_deploy.prototxt", "prob"), ("alexnet_deploy.prototxt", "prob")])
def test_deploy_nets_end_in_softmax_over_7(name, out):
    from fer_caffe_compat.net import Net
    net = Net.from_file(ROOT / "nets" / name, phase=caffe_pb2.TEST)
    assert net.output_names == [out] and net.blob_shapes[out] == (1, 7)
