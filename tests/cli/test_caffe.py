"""The caffe binary (cli/caffe): dispatch to tools/train, test and time with Caffe's flags, its checks and
exit statuses, device_query; real runs on the LeNet fixture."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from fer_caffe_compat.cli import caffe
from fer_caffe_compat.cli.common import run

from .. import glog
from ..conftest import FIXTURES, ROOT
from . import train_process
from .train_workspace import workspace, write_solver

LENET = FIXTURES / "lenet"


def brew(monkeypatch, capsys, *argv: str) -> tuple[int, str, str]:
    """``caffe argv`` in this process: exit status, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["caffe", *argv])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        run(caffe.brew, "caffe")
    out, err = capsys.readouterr()
    return e.value.code, out, err


@pytest.fixture
def calls(monkeypatch):
    """The argv each of tools/train, test and time would be given."""
    from fer_caffe_compat.cli import test, time, train

    seen: list[tuple[str, list[str]]] = []
    for name, mod in (("train", train), ("test", test), ("time", time)):
        monkeypatch.setattr(mod, "main", lambda argv, name=name: seen.append((name, argv)) or 0)
    return seen


@pytest.mark.parametrize("argv,expected", [
    (["train", "-solver", "s.prototxt"],
     ["--solver=s.prototxt", "--level=0", "--stage=", "--sigint_effect=stop", "--sighup_effect=snapshot"]),
    (["--solver=s.prototxt", "-weights=a.caffemodel,b.caffemodel", "train", "--stage", "x,y", "-level=2",
      "-sigint_effect", "snapshot", "-sighup_effect=none"],
     ["--solver=s.prototxt", "--level=2", "--stage=x,y", "--sigint_effect=snapshot", "--sighup_effect=none",
      "--weights=a.caffemodel,b.caffemodel"]),
    (["train", "-solver=s", "-snapshot", "s_iter_5.solverstate"],
     ["--solver=s", "--level=0", "--stage=", "--sigint_effect=stop", "--sighup_effect=snapshot",
      "--snapshot=s_iter_5.solverstate"]),
])
def test_train_flags_reach_tools_train(monkeypatch, capsys, calls, argv, expected):
    assert brew(monkeypatch, capsys, *argv)[0] == 0
    assert calls == [("train", expected)]


def test_test_and_time_flags(monkeypatch, capsys, calls):
    brew(monkeypatch, capsys, "test", "-model", "m.prototxt", "-weights", "w.caffemodel", "-iterations", "3")
    brew(monkeypatch, capsys, "time", "-model=m.prototxt", "-phase", "TEST", "-stage=deploy")
    brew(monkeypatch, capsys, "time", "-model=m.prototxt")
    assert calls == [
        ("test", ["--model=m.prototxt", "--weights=w.caffemodel", "--iterations=3", "--level=0", "--stage="]),
        ("time", ["--model=m.prototxt", "--iterations=50", "--phase=TEST", "--level=0", "--stage=deploy"]),
        ("time", ["--model=m.prototxt", "--iterations=50", "--phase=TRAIN", "--level=0", "--stage="]),
    ]


def test_gpu_without_cuda_warns_once_and_runs_on_the_cpu(monkeypatch, capsys, calls):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("fer_caffe_compat.log.quiet", False)
    code, _, err = brew(monkeypatch, capsys, "train", "-solver", "s", "-gpu", "0,1")
    assert code == 0 and calls[0][1][-1] == "--gpu=cpu"
    assert [g.msg for g in glog.lines(err)] == ["-gpu 0,1: no CUDA device is available on this machine; "
                                                "running on the CPU"]
    brew(monkeypatch, capsys, "test", "-model", "m", "-weights", "w", "-gpu", "all")
    assert not any(a.startswith("--gpu") for a in calls[1][1])


def test_test_and_time_use_the_first_gpu_only(monkeypatch, capsys, calls):
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 3)
    monkeypatch.setattr("fer_caffe_compat.log.quiet", False)
    code, _, err = brew(monkeypatch, capsys, "time", "-model", "m", "-gpu", "all")
    assert code == 0 and calls[0][1][-1] == "--gpu=0"
    assert [g.msg for g in glog.lines(err)] == ["Not using GPU #2 for single-GPU function",
                                                "Not using GPU #1 for single-GPU function"]


@pytest.mark.parametrize("argv,line", [
    (["train"], "caffe: error: Need a solver definition to train."),
    (["train", "-solver", "s", "-weights", "w", "-snapshot", "x"],
     "caffe: error: Give a snapshot to resume training or weights to finetune but not both."),
    (["train", "-solver", "s", "-sigint_effect", "pause"], 'caffe: error: Invalid signal effect "pause" was specified'),
    (["test", "-weights", "w"], "caffe: error: Need a model definition to score."),
    (["test", "-model", "m"], "caffe: error: Need model weights to score."),
    (["time"], "caffe: error: Need a model definition to time."),
    (["time", "-model", "m", "-phase", "test"], 'caffe: error: phase must be "TRAIN" or "TEST"'),
    (["-level", "x", "train"], "ERROR: illegal value 'x' specified for int32 flag 'level'"),
    (["train", "-solver"], "ERROR: flag 'solver' is missing its argument; flag description: "
                           "The solver definition protocol buffer text file."),
    (["-nosuch", "train"], "ERROR: unknown command line flag 'nosuch'"),
])
def test_caffe_checks_are_one_line_and_exit_1(monkeypatch, capsys, calls, argv, line):
    code, out, err = brew(monkeypatch, capsys, *argv)
    assert (code, out, err) == (1, "", line + "\n")
    assert calls == []


def test_usage_and_version(monkeypatch, capsys):
    code, out, err = brew(monkeypatch, capsys)
    assert (code, err) == (0, "") and out == caffe.usage()  # Caffe: no command, usage, exit 0
    assert brew(monkeypatch, capsys, "train", "test")[:2] == (0, caffe.usage())
    assert brew(monkeypatch, capsys, "--help")[:2] == (1, caffe.usage())  # gflags exits 1 after --help
    assert brew(monkeypatch, capsys, "-version")[:2] == (0, "caffe version 1.0.0\n")


def test_unknown_action_lists_the_actions(monkeypatch, capsys):
    monkeypatch.setattr("fer_caffe_compat.log.quiet", False)
    code, out, err = brew(monkeypatch, capsys, "trian")
    assert (code, out) == (1, "")
    assert [g.msg for g in glog.lines(err)] == ["Available caffe actions:", "\tdevice_query", "\ttest", "\ttime",
                                                "\ttrain"]
    assert err.splitlines()[-1] == "caffe: error: Unknown action: trian"


def test_device_query(monkeypatch, capsys):
    monkeypatch.setattr("fer_caffe_compat.log.quiet", False)
    code, out, err = brew(monkeypatch, capsys, "device_query")
    assert code == 0 and [g.msg for g in glog.lines(err)] == ["Querying GPUs "]
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    code, out, err = brew(monkeypatch, capsys, "device_query", "-gpu", "0")
    assert (code, out) == (1, "No cuda device present.\n")


def test_signal_status_passes_through(monkeypatch, capsys, calls):
    from fer_caffe_compat.cli import train
    monkeypatch.setattr(train, "main", lambda argv: 128 + signal.SIGHUP)
    assert brew(monkeypatch, capsys, "train", "-solver", "s")[0] == 129


def test_tools_caffe_exit_statuses():
    """The real executable (no torch imported on these paths)."""
    tool = str(ROOT / "tools" / "caffe")
    p = subprocess.run([tool], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, caffe.usage(), "")
    p = subprocess.run([tool, "nope"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and p.stderr.splitlines()[-1] == "caffe: error: Unknown action: nope"
    p = subprocess.run([tool, "train", "-bogus"], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stderr) == (1, "ERROR: unknown command line flag 'bogus'\n")


def test_test_and_time_on_lenet(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(LENET)
    monkeypatch.setattr("fer_caffe_compat.log.quiet", False)
    code, _, err = brew(monkeypatch, capsys, "test", "-model", "lenet_train_test.prototxt",
                        "-weights=lenet_iter_0.caffemodel", "--iterations", "2")
    lines = [g.msg for g in glog.lines(err) if "caffe.cpp" in g.src]
    assert code == 0 and lines[-3:] == ["Loss: 1.95296", "accuracy = 0.05", "loss = 1.95296 (* 1 = 1.95296 loss)"]
    code, _, err = brew(monkeypatch, capsys, "time", "--model=lenet_train_test.prototxt", "-iterations=1",
                        "-phase", "TEST")
    assert code == 0 and "*** Benchmark ends ***" in err and "conv1\tforward: " in err


def test_train_a_few_iterations_and_a_missing_solver(tmp_path):
    run_dir = workspace(tmp_path)
    write_solver(run_dir, max_iter=2, policy="fixed")
    tool = str(ROOT / "tools" / "caffe")
    p = subprocess.run([tool, "train", "--solver=solver.prototxt", "-weights", "lenet_iter_0.caffemodel"],
                       cwd=run_dir, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "caffe.cpp:250] Optimization Done." in p.stderr
    assert (run_dir / "lenet_iter_2.caffemodel").exists() and (run_dir / "lenet_iter_2.solverstate").exists()
    p = subprocess.run([tool, "train", "-solver", "absent.prototxt"], cwd=run_dir, capture_output=True,
                       text=True, timeout=180)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert p.stderr.splitlines()[-1].startswith("caffe: error: absent.prototxt: ")


def test_sighup_stop_ends_the_run_with_status_129(tmp_path, monkeypatch):
    """-sighup_effect stop: the run ends at the next iteration; status 128 + SIGHUP (Caffe: 0)."""
    fake = tmp_path / "root"
    (fake / "tools").mkdir(parents=True)
    front = fake / "tools" / "train"  # train_process starts <ROOT>/tools/train; here it is caffe train
    front.write_text(f'#!/usr/bin/env bash\nexec "{ROOT}/tools/caffe" train "$@"\n')
    front.chmod(0o755)
    monkeypatch.setattr(train_process, "ROOT", fake)
    run_dir = workspace(tmp_path)
    write_solver(run_dir, max_iter=100000)
    t = train_process.TrainProcess(run_dir, "-solver", "solver.prototxt", "-sighup_effect", "stop")
    t.wait_for_line(lambda x: "] Iteration 1 (" in x)
    t.signal(signal.SIGHUP)
    p = t.finish()
    assert p.returncode == 128 + signal.SIGHUP, p.stderr[-2000:]
    assert "Traceback" not in p.stderr


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "caffe").exists(), reason="console scripts not installed")
def test_console_script_caffe():
    """A Caffe-era script runs with only the binary's path changed: .venv/bin/caffe is the same front."""
    p = subprocess.run([str(ROOT / ".venv" / "bin" / "caffe"), "time"], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stderr) == (1, "caffe: error: Need a model definition to time.\n")
