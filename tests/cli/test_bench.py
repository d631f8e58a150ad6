"""make bench: its table and JSON, the data-path rows on a small LMDB, and the CAFFE_BIN rounds (a fake caffe)."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from fer_caffe_compat.cli import bench
from fer_caffe_compat.proto import caffe_pb2, read_prototxt

from ..conftest import FIXTURES, ROOT

IMAGESET = FIXTURES / "imageset"
CAFFE_LINES = """I1202 12:00:00.000001 4242 solver.cpp:239] Iteration 0 (0 iter/s, 0.012s/5 iters), loss = 1.94
I1202 12:00:00.100000 4242 solver.cpp:239] Iteration 5 (50 iter/s, 0.1s/5 iters), loss = 1.9
I1202 12:00:00.225000 4242 solver.cpp:239] Iteration 10 (40 iter/s, 0.125s/5 iters), loss = 1.8
"""


def test_caffe_ms_per_iter_reads_the_last_display_interval():
    assert bench.caffe_ms_per_iter(CAFFE_LINES) == pytest.approx(25.0)
    with pytest.raises(Exception, match="fewer than two"):
        bench.caffe_ms_per_iter(CAFFE_LINES.splitlines()[0])


def test_caffe_rounds_run_caffe_train_on_the_solver_without_tests_or_snapshots(tmp_path, monkeypatch):
    fake = tmp_path / "caffe"
    fake.write_text(f"#!{sys.executable}\nimport sys\nassert sys.argv[1] == 'train', sys.argv\n"
                    f"open({str(tmp_path / 'args')!r}, 'w').write(sys.argv[2])\n"
                    f"sys.stderr.write({CAFFE_LINES!r})\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.chdir(ROOT)
    measure = bench.caffe_stepper(str(fake), bench.CASES[0], 5, str(tmp_path))
    assert measure() == pytest.approx(25.0)
    flag = (tmp_path / "args").read_text()
    assert flag.startswith("--solver=")
    p = read_prototxt(flag.split("=", 1)[1], caffe_pb2.SolverParameter())
    assert (p.max_iter, p.display, p.test_interval, len(p.test_iter), p.snapshot) == (10, 5, 0, 0, 0)
    assert p.net == "nets/lenet_train_test.prototxt" and p.solver_mode == caffe_pb2.SolverParameter.CPU
    fake.write_text("#!/bin/sh\necho 'F1202 boom' >&2\nexit 3\n")
    with pytest.raises(Exception, match=r"caffe train --solver=.* exited with 3: F1202 boom"):
        measure()


def _data_dir(tmp_path):
    d = tmp_path / "fer"
    d.mkdir()
    for name, target in (("train_lmdb", "gray_lmdb"), ("val_lmdb", "gray_lmdb"),
                         ("mean.binaryproto", "mean_gray.binaryproto")):
        os.symlink(IMAGESET / target, d / name)
    return d


def test_bench_data_rows_table_and_json(tmp_path):
    out = tmp_path / "bench.json"
    p = subprocess.run([sys.executable, "-m", "fer_caffe_compat.cli.bench", "--only", "data,lmdb", "--rounds", "1",
                        "--data", str(_data_dir(tmp_path)), "--csv", str(tmp_path / "none.csv"), "--json", str(out)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert p.returncode == 0, p.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    names = [r["measurement"] for r in rows]
    assert "data path, raw LMDB, decoded once into memory" in names
    assert "data path, JPEG LMDB, decoded batch by batch (cache_mb: 0)" in names
    assert all(r["value"] > 0 for r in rows if r["unit"] == "images/s")
    assert {"measurement": f"make lmdb (no CSV at {tmp_path / 'none.csv'})", "value": None, "unit": "s"} in rows
    table = [line for line in p.stdout.splitlines() if line.startswith("| ")]
    assert table[0].split("|")[1].strip() == "measurement" and len(table) == len(rows) + 2


def test_bench_without_the_lmdbs_says_so_in_one_line(tmp_path):
    p = subprocess.run([sys.executable, "-m", "fer_caffe_compat.cli.bench", "--data", str(tmp_path / "nope")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stderr.count("\n") == 1
    assert "train_lmdb is missing" in p.stderr and "make lmdb CSV=" in p.stderr


def test_part_rows_take_one_iteration_apart():
    from fer_caffe_compat.cli.bench_parts import PARTS, part_rows
    from fer_caffe_compat.proto import parse_prototxt
    from fer_caffe_compat.solver.solver import Solver

    net = parse_prototxt("""layer { name: "d" type: "DummyData" top: "data" top: "label"
      dummy_data_param { data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 1 }
        shape { dim: 4 dim: 3 } shape { dim: 4 } } }
    layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
      inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.1 } } }
    layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }""",
                         caffe_pb2.NetParameter())
    param = caffe_pb2.SolverParameter(net_param=net, base_lr=0.1, lr_policy="fixed", max_iter=100, display=0,
                                      snapshot_after_train=False, random_seed=1)
    solvers = []
    rows = part_rows("Tiny", lambda: solvers.append(Solver(param, "tiny")) or solvers[0], rounds=2, iters=2)
    names = [n for n, _, _ in rows]
    assert names[:len(PARTS)] == [f"Tiny: part: {k}" for k in PARTS]
    assert names[-2] == "Tiny: part: rest of Solver.step (step - parts)" and names[-1].startswith("Tiny: Solver.step")
    assert all(v > 0 for n, v, _ in rows if "rest" not in n) and {u for _, _, u in rows} == {"ms/iter"}
    assert solvers[0].iter == 2 + 2 + 2 * (2 + 2)  # the parts advance the iteration as Solver.step does
