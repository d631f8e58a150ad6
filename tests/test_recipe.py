"""The FER CPU-hour recipe and its GPU variant: they build, train a few iterations with every extension
they use, and their deploy nets compute what their train_val nets compute."""
from __future__ import annotations

import os
import re
import subprocess

import numpy as np
import pytest
import torch

from fer_caffe_compat.data.demo import write_demo_csv
from fer_caffe_compat.net import Net, load_net_param
from fer_caffe_compat.proto import caffe_pb2, read_prototxt
from fer_caffe_compat.proto.extensions import solver_file_extensions

from .cli.train_workspace import train
from .conftest import FIXTURES, ROOT

RECIPES = {"fer_cpu_hour": "nets/fer_cpu_hour", "fer_gpu": "nets/fer_gpu"}


@pytest.fixture
def workspace(tmp_path):
    """<tmp> with the repository's nets/ and solvers/, and no data yet."""
    for sub in ("nets", "solvers"):
        os.symlink(ROOT / sub, tmp_path / sub)
    return tmp_path


@pytest.fixture
def fer_dir(workspace):
    """The workspace with data/fer2013 laid out as `make lmdb` writes it, from the fixture image set (70 gray
    faces)."""
    d = workspace / "data" / "fer2013"
    d.mkdir(parents=True)
    for name in ("train_lmdb", "val_lmdb"):
        os.symlink(FIXTURES / "imageset" / "gray_lmdb", d / name)
    os.symlink(FIXTURES / "imageset" / "mean_gray.binaryproto", d / "mean.binaryproto")
    return workspace


def _short_solver(tmp_path, name: str) -> str:
    text = (ROOT / "solvers" / f"{name}_solver.prototxt").read_text()
    for field, value in (("max_iter", 4), ("test_interval", 2), ("test_iter", 1), ("display", 1),
                         ("snapshot", 0), ("solver_mode", "CPU")):
        text = re.sub(rf"^{field}: .*$", f"{field}: {value}", text, flags=re.M)
    text = re.sub(r'^snapshot_prefix: .*$', 'snapshot_prefix: "out/recipe"', text, flags=re.M)
    (tmp_path / "short_solver.prototxt").write_text(text)
    return "short_solver.prototxt"


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_trains_with_its_extensions_and_the_deploy_net_agrees(fer_dir, name):
    proc = train(fer_dir, "--solver", _short_solver(fer_dir, name), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stderr.splitlines() if "Extensions in use" in x)
    for ext in ('lr_policy: "onecycle"', "ema_decay", "precision", "layer[data].transform_param.augment",
                "layer[data].data_param.shuffle", "layer[loss].loss_param.label_smoothing"):
        assert ext in line, (ext, line)
    losses = [float(m) for m in re.findall(r"Iteration \d+ .*loss = ([-\d.e+naif]+)", proc.stderr)]
    assert len(losses) >= 3 and all(np.isfinite(losses)), losses
    weights = fer_dir / "out" / "recipe_iter_4.caffemodel"
    assert weights.exists()
    # the deploy net, fed the TEST net's centre-cropped batch, gives the TEST net's scores
    os.chdir(fer_dir)
    test_net = Net(load_net_param(ROOT / f"{RECIPES[name]}_train_val.prototxt"), phase=caffe_pb2.TEST)
    test_net.copy_trained_layers_from(str(weights))
    deploy = load_net_param(ROOT / f"{RECIPES[name]}_deploy.prototxt")
    deploy.layer[0].input_param.shape[0].dim[0] = 97
    deploy_net = Net(deploy, phase=caffe_pb2.TEST)
    deploy_net.copy_trained_layers_from(str(weights))
    with torch.no_grad():
        out = test_net.forward()
        prob = deploy_net.forward({"data": out["data"]})["prob"]
    torch.testing.assert_close(prob, torch.softmax(out["fc7"], 1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_deploy_nets_are_plain_caffe_and_solvers_say_what_they_extend(fer_dir, name):
    os.chdir(fer_dir)
    found = solver_file_extensions(f"solvers/{name}_solver.prototxt")
    assert found and not [x for x in found if "_deploy" in x]
    assert read_prototxt(ROOT / f"{RECIPES[name]}_deploy.prototxt", caffe_pb2.NetParameter()).layer[0].type == "Input"


def test_recipe_script_builds_trains_plots_and_scores_the_last_snapshot(workspace):
    """data_prepare/recipe.sh (what `make recipe` runs) end to end on a 4-iteration copy of the CPU-hour
    solver, called from another directory with paths relative to it: the LMDBs built from the CSV, the
    training log, the curves, and one PublicTest evaluation per TTA with its summary line. The net has no
    crop_size, so there is no tencrop."""
    for sub in ("data_prepare", "tools", "fer_caffe_compat", ".venv"):
        if (ROOT / sub).exists():
            os.symlink(ROOT / sub, workspace / sub)
    _short_solver(workspace, "fer_cpu_hour")
    caller = workspace / "caller"
    caller.mkdir()
    write_demo_csv(caller / "faces.csv", 40, 12, 5, seed=3)
    proc = subprocess.run(["bash", str(workspace / "data_prepare" / "recipe.sh"), "faces.csv",
                           "../short_solver.prototxt"], cwd=caller, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    assert [len(list((workspace / "data" / "fer2013" / "images" / s).rglob("*.jpg"))) for s in ("train", "val")] \
        == [40, 12]
    assert (workspace / "logs" / "short.log").exists()
    assert list((workspace / "logs" / "short_curves").glob("*.png"))
    ttas = ["none", "flip", "shift"]
    summary = proc.stdout[proc.stdout.index("on PublicTest"):]
    assert re.findall(r"tta (\w+) +accuracy 0\.\d{4}", summary) == ttas, summary
    for tta in ttas:
        assert (workspace / "out" / f"recipe_iter_4_eval_{tta}" / "confusion.png").exists()
