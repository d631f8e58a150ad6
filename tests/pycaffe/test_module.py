"""The module level of ``import caffe`` against real pycaffe's module reference (module.json)."""
from __future__ import annotations

import json
import re

import pytest
import torch

import caffe
import caffe.common as common
from fer_caffe_compat import log as glog
from fer_caffe_compat.net import Net
from fer_caffe_compat.proto import caffe_pb2, read_prototxt

from ..conftest import FIXTURES

REF = FIXTURES / "pycaffe" / "module"
J = json.loads((REF / "module.json").read_text())
MINE = ["NCCL", "NetSpec", "TEST", "TRAIN", "Timer", "has_nccl", "init_log", "layer_type_list", "layers", "log",
        "net_spec", "params", "proto", "set_device", "set_mode_cpu", "set_mode_gpu", "set_multiprocess",
        "set_random_seed", "set_solver_count", "set_solver_rank", "solver_count", "solver_rank", "to_proto"]
NOT_IMPLEMENTED = {"HDF5Data", "HDF5Output", "WindowData"}


@pytest.fixture
def glog_lines(tmp_path):
    """The glog lines written during the test (the package's logger, stderr kept quiet by conftest)."""
    f = glog.add_file(tmp_path / "glog.txt")
    yield lambda: (tmp_path / "glog.txt").read_text().splitlines()
    glog.remove_file(f)


@pytest.fixture(autouse=True)
def _cpu_mode_after():
    yield
    caffe.set_mode_cpu()
    common._S.device_id = 0
    common.init_log(0)


def test_names_version_phases():
    public = set(J["dir(caffe) public names"])
    assert set(MINE) <= public and set(MINE) <= set(dir(caffe))
    assert caffe.__version__ == J["caffe.__version__"] == "1.0.0"
    assert (caffe.TRAIN, caffe.TEST) == (J["caffe.TRAIN"], J["caffe.TEST"]) == (0, 1)
    assert type(caffe.TRAIN).__name__ == J["type(caffe.TRAIN)"] == "int"
    assert caffe.proto.caffe_pb2 is caffe_pb2


def test_layer_type_list_is_caffes_order_less_the_types_not_implemented():
    ref = J["caffe.layer_type_list()"]
    assert len(ref) == 61
    # the registry lists every registered type, as Caffe's does: leave out the ones tests/test_net.py registers
    # when it shares this worker process
    got = [t for t in caffe.layer_type_list() if not t.startswith("Test")]
    assert got == [t for t in ref if t not in NOT_IMPLEMENTED]  # same names, same (byte) order
    assert len(got) == 58 and "Python" in got


def test_nccl_and_solver_counts():
    assert caffe.has_nccl() is J["caffe.has_nccl()"] is False
    assert (caffe.solver_count(), caffe.solver_rank()) == (J["caffe.solver_count()"], J["caffe.solver_rank()"])
    caffe.set_solver_count(3)
    caffe.set_solver_rank(2)
    assert [caffe.solver_count(), caffe.solver_rank()] == \
        J["after set_solver_count(3), set_solver_rank(2): solver_count(), solver_rank()"]
    caffe.set_solver_count(1)
    caffe.set_solver_rank(0)
    caffe.set_multiprocess(True)
    assert common.multiprocess() is True
    caffe.set_multiprocess(False)
    caffe.NCCL(None, "")  # accepted and inert, as in a Caffe built without NCCL


def test_timer():
    t = caffe.Timer()
    assert t.ms == 0.0  # never started
    t.start()
    sum(range(10000))
    t.stop()
    assert [type(t.ms).__name__, t.ms >= 0] == J["caffe.Timer: type(ms), ms >= 0"]
    first = t.ms
    assert t.ms == first  # stopped: the reading stays


def _filler_values(seed: int) -> list[torch.Tensor]:
    caffe.set_random_seed(seed)
    net = Net(read_prototxt(REF / "convnet.prototxt", caffe_pb2.NetParameter()), caffe_pb2.TEST)
    return [p.detach().clone() for p in net.parameters()]


def test_set_random_seed_makes_fillers_repeatable():
    a, b, c = _filler_values(5), _filler_values(5), _filler_values(6)
    same = all(torch.equal(x, y) for x, y in zip(a, b))
    differs = not all(torch.equal(x, y) for x, y in zip(a, c))
    assert [same, differs] == J["set_random_seed(5) twice -> identical filler values; seed 6 differs"]


def test_gpu_mode_without_cuda_warns_once_and_stays_on_cpu(monkeypatch, glog_lines):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(common._S, "warned_no_cuda", False)
    caffe.set_mode_gpu()
    caffe.set_device(0)
    caffe.set_mode_gpu()
    assert common.device() == torch.device("cpu")
    lines = glog_lines()
    assert len(lines) == 1
    assert re.match(r"W\d{4} [\d:.]+ +\d+ common\.cpp:66\] set_mode_gpu\(\): CUDA is not available", lines[0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_mode_with_cuda_puts_new_nets_on_the_gpu():
    caffe.set_device(0)
    assert common.device() == torch.device("cpu")  # set_device alone keeps the mode
    caffe.set_mode_gpu()
    assert common.device() == torch.device("cuda", 0)
    with pytest.raises(ValueError, match=r"set_device\(99\): no such GPU"):
        caffe.set_device(99)
    caffe.set_mode_cpu()
    assert common.device() == torch.device("cpu")


def test_log_and_init_log(glog_lines):
    caffe.log("before init_log")
    caffe.init_log()
    caffe.init_log()  # a second call does not abort (Caffe's glog did)
    caffe.log("hello from caffe.log")
    caffe.init_log(1)
    caffe.log("info is hidden")
    lines = glog_lines()
    assert len(lines) == 2
    ref = J["child_processes"]["init_log(); log('hello from caffe.log')"]["stderr_lines_without_net_dump"][0]
    strip = re.compile(r"^I\d{4} [\d:.]+ +\d+ ")
    assert strip.sub("", lines[1]) == strip.sub("", ref) == "_caffe.cpp:68] hello from caffe.log"
    assert lines[0].endswith("_caffe.cpp:68] before init_log")
