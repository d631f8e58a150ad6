"""docs/examples/confusion_matrix.py, a Caffe-era pycaffe script (`import caffe`, lmdb and numpy only), run as
a user runs it, gives tools/evaluate's confusion matrix on the same LMDB, image for image."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import torch

from fer_caffe_compat.net import Net

from ..conftest import FIXTURES, ROOT

SCRIPT = ROOT / "docs" / "examples" / "confusion_matrix.py"
DEPLOY = ROOT / "nets" / "lenet_deploy.prototxt"


def test_pycaffe_confusion_script_reproduces_tools_evaluate(tmp_path):
    db = FIXTURES / "imageset" / "gray_lmdb"
    mean = FIXTURES / "imageset" / "mean_gray.binaryproto"
    torch.manual_seed(3)
    weights = tmp_path / "lenet.caffemodel"
    Net.from_file(DEPLOY).save_caffemodel(weights)   # xavier fillers: varied, deterministic predictions

    script = subprocess.run([sys.executable, str(SCRIPT), str(DEPLOY), str(weights), str(db), str(mean)],
                            capture_output=True, text=True, check=True, cwd=tmp_path)
    rows = [[int(n) for n in line.split()] for line in script.stdout.splitlines()
            if re.fullmatch(r"[\d ]+", line.strip() or "x")]
    subprocess.run([str(ROOT / "tools" / "evaluate"), "--model", str(DEPLOY), "--weights", str(weights),
                    "--db", str(db), "--mean", str(mean), "--scale", "0.00390625", "--out", str(tmp_path / "eval")],
                   capture_output=True, text=True, check=True, cwd=tmp_path)
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())

    assert np.array_equal(np.array(rows), np.array(metrics["confusion"])), script.stdout
    accuracy = float(re.search(r"accuracy ([0-9.]+)", script.stdout).group(1))
    assert abs(accuracy - metrics["accuracy"]) < 5e-5
    assert np.array(rows).sum() == 70 and f"70 images" in script.stdout
