"""tools/test: `caffe test` output on the reference LeNet (Caffe's own test pass at iteration 0 scored
accuracy 0.05 and loss 1.95296 over the same two TEST batches)."""
from __future__ import annotations

from fer_caffe_compat import log

from .. import glog
from ..conftest import FIXTURES

LENET = FIXTURES / "lenet"


def test_caffe_test_prints_batches_and_means(tmp_path, monkeypatch):
    from fer_caffe_compat.cli.test import main
    monkeypatch.chdir(LENET)
    out = tmp_path / "test.log"
    assert main(["-model", "lenet_train_test.prototxt", "-weights", "lenet_iter_0.caffemodel",
                 "-iterations", "2", "--log", str(out)]) == 0
    body = [(g.src, g.msg) for g in glog.lines(out.read_text()) if g.severity == "I" and "caffe.cpp" in g.src]
    assert body == [
        ("caffe.cpp:274", "Use CPU."),
        ("caffe.cpp:280", "Running for 2 iterations."),
        ("caffe.cpp:303", "Batch 0, accuracy = 0.1"),
        ("caffe.cpp:303", "Batch 0, loss = 1.93359"),
        ("caffe.cpp:303", "Batch 1, accuracy = 0"),
        ("caffe.cpp:303", "Batch 1, loss = 1.97232"),
        ("caffe.cpp:308", "Loss: 1.95296"),
        ("caffe.cpp:320", "accuracy = 0.05"),
        ("caffe.cpp:320", "loss = 1.95296 (* 1 = 1.95296 loss)"),
    ]
    assert not log._files


def test_caffe_test_gpu_without_gpu_is_one_line_error(capsys, monkeypatch):
    import pytest

    from fer_caffe_compat.cli.common import run
    from fer_caffe_compat.cli.test import main
    monkeypatch.setattr("sys.argv", ["test", "--model", "m.prototxt", "--weights", "w.caffemodel", "--gpu", "0"])
    with pytest.raises(SystemExit) as e:
        run(main, "test")
    assert e.value.code == 1
    assert capsys.readouterr().err == ("test: error: --gpu 0: no GPU is available (CUDA not found); "
                                       "train on the CPU with --gpu cpu\n")
