"""make zoo-results: train each 48x48 model of nets/zoo for a fixed budget, score it on PublicTest, write the
results (nets/zoo/results.json) and the tables of docs/zoo.md (the model zoo and the classic baselines).

    python -m fer_caffe_compat.cli.zoo_results [--models mlp,cnn2x2] [--precision bf16] [--force]
    python -m fer_caffe_compat.cli.zoo_results --tables-only

One model at a time: its solver with max_iter set to the budget (BUDGETS, in epochs of the training LMDB),
test_initialization off and one snapshot at the end, goes to logs/zoo/<model>/solver.prototxt; tools/train
runs it (logs/zoo/<model>/train.log, snapshots/zoo/<model>_iter_N.caffemodel), then tools/evaluate scores
that last snapshot on data/fer2013/val_lmdb (logs/zoo/<model>/eval/: metrics.json, confusion.png, roc.png).
The last snapshot is scored, not the best test pass: choosing on PublicTest would flatter the number (the
best pass is reported beside it). A model whose logs/zoo/<model>/result.json has the same budget is not
trained again unless --force. The classic baselines' rows come from logs/baseline/*/metrics.json
(make baseline-results).
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from .. import log
from ..curves.parse import created_year, parse_log, read_lines
from ..errors import CaffeError
from ..eval.baseline import FEATURES, MODELS
from ..eval.labels import FER_CLASSES
from ..eval.results_table import markdown_table, replace_block
from ..fsutil import write_text_atomic
from ..io.db import count_records
from ..net import load_net_param
from ..proto import caffe_pb2, read_prototxt, write_prototxt
from .common import ArgumentParser, run

ROOT = Path(__file__).resolve().parents[2]
ZOO = Path("nets/zoo")
DATA = Path("data/fer2013")
LOGS = Path("logs/zoo")
RESULTS = ZOO / "results.json"
TABLES_DOC = Path("docs/zoo.md")  # holds the zoo-results and baseline-results blocks
# Budgets, in epochs of the 28,709 Training faces (an epoch is the solver's test_interval): about 5-15 minutes
# each on the shared 2-core machine they were measured on. The deep BN CNN gets 20 epochs (its solver's early
# stopping may end it sooner), to give it the chance to reach its write-up's 58%: 8 epochs gave 56.3%.
# The minutes each run took are in the results.
BUDGETS = {"mlp": 20, "cnn2x2": 10, "cnn2x2_weighted": 10, "tang_svm": 5, "base_cnn": 2, "resnet48": 3,
           "deep_bn_cnn": 20}
WRITE_UPS = {
    "mlp": "Keras MLP", "cnn2x2": "Keras 2x2 CNN", "cnn2x2_weighted": "Keras 2x2 CNN, balanced class weights",
    "base_cnn": "Keras base CNN", "deep_bn_cnn": "Keras deep BN CNN (about 58%)",
    "resnet48": "PyTorch residual net (about 61%)", "tang_svm": "Tang 2013, L2-SVM top (71.16% PrivateTest)",
    "jh_v5": "jh_v5, 8-class grey set", "resnet50_227": "Caffe ResNet-50 at 227",
    "googlenet_227": "Caffe GoogLeNet at 227",
}
# The write-up's per-class AUCs (computed from hard labels there), label order; None: not given.
WRITE_UP_AUC = {
    "mlp": [0.54, 0.50, 0.50, 0.69, None, None, None],
    "cnn2x2_weighted": [0.68, 0.54, 0.61, 0.88, 0.70, 0.86, 0.74],
}
AUC_MODELS = ("mlp", "cnn2x2", "cnn2x2_weighted")


def _train_data_layer(net: caffe_pb2.NetParameter) -> caffe_pb2.LayerParameter:
    return next(lp for lp in net.layer if lp.type == "Data" and lp.include[0].phase == caffe_pb2.TRAIN)


def fer48_models() -> list[str]:
    """The zoo models that train on data/fer2013 (48x48 FER2013)."""
    names = []
    for d in sorted(p for p in ZOO.iterdir() if p.is_dir()):
        if _train_data_layer(load_net_param(d / "train_val.prototxt")).data_param.source == str(DATA / "train_lmdb"):
            names.append(d.name)
    return names


def _run(cmd: list[str], out: Path) -> float:
    """Run a tool with its stdout and stderr in ``out``; minutes taken."""
    t = time.perf_counter()
    with open(out, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    if rc:
        raise CaffeError(f"{' '.join(cmd[:3])} ... failed (exit {rc}); see {out}")
    return (time.perf_counter() - t) / 60


def train_and_evaluate(name: str, epochs: float, precision: str | None, n_train: int) -> dict:
    folder = LOGS / name
    if folder.exists():
        shutil.rmtree(folder)  # a fresh log: tools/train --log appends
    folder.mkdir(parents=True)
    solver = read_prototxt(ZOO / name / "solver.prototxt", caffe_pb2.SolverParameter())
    batch = _train_data_layer(load_net_param(ZOO / name / "train_val.prototxt")).data_param.batch_size
    iters = round(epochs * math.ceil(n_train / batch))  # whole epochs of the solvers' test_interval
    solver.max_iter, solver.snapshot, solver.snapshot_after_train = iters, 0, True
    solver.test_initialization = False
    solver.snapshot_prefix = f"snapshots/zoo/{name}"
    solver_file = folder / "solver.prototxt"
    write_prototxt(solver_file, solver)
    Path("snapshots/zoo").mkdir(parents=True, exist_ok=True)
    train_log = folder / "train.log"
    cmd = [str(ROOT / "tools" / "train"), "--solver", str(solver_file), "--gpu", "cpu", "--log", str(train_log)]
    if precision:
        cmd += ["--precision", precision]
    log.info("zoo_results.py:93", f"{name}: training {epochs:g} epochs = {iters} iterations of {batch} "
             f"({' '.join(cmd[1:])})")
    minutes = _run(cmd, folder / "train.out")
    lines = read_lines(train_log)
    snaps = [m.group(1) for m in map(re.compile(r"Snapshotting to binary proto file (\S+\.caffemodel)").search,
                                     lines) if m]
    if not snaps:
        raise CaffeError(f"{train_log}: no snapshot written")
    _, tests = parse_log(lines, created_year(train_log), str(train_log))
    best = max(tests, key=lambda r: r.get("accuracy", -1.0)) if tests else None
    eval_dir = folder / "eval"
    log.info("zoo_results.py:104", f"{name}: evaluating {snaps[-1]} on {DATA / 'val_lmdb'}")
    _run([str(ROOT / "tools" / "evaluate"), "--model", str(ZOO / name / "train_val.prototxt"),
          "--weights", snaps[-1], "--db", str(DATA / "val_lmdb"), "--out", str(eval_dir)], folder / "evaluate.out")
    m = json.loads((eval_dir / "metrics.json").read_text())
    result = {
        "model": name, "epochs": epochs, "iterations": iters, "batch": batch, "precision": precision or "float32",
        "threads": os.environ.get("OMP_NUM_THREADS", "torch's default"),
        "minutes": round(minutes, 1), "weights": snaps[-1], "accuracy": m["accuracy"],
        "macro_f1": m["report"]["macro avg"]["f1-score"], "auc": m["roc_auc"]["per_class"],
        "macro_auc": m["roc_auc"]["macro"],
        "best_test_accuracy": best["accuracy"] if best else None,
        "best_test_iteration": int(best["NumIters"]) if best else None,
    }
    write_text_atomic(folder / "result.json", json.dumps(result, indent=2) + "\n")
    log.info("zoo_results.py:120", f"{name}: PublicTest accuracy {result['accuracy']:.4f}, macro F1 "
             f"{result['macro_f1']:.4f}, {minutes:.1f} min")
    return result


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def zoo_tables(results: dict[str, dict]) -> str:
    rows = []
    fer48 = fer48_models()
    for name in sorted(p.name for p in ZOO.iterdir() if p.is_dir()):
        r = results.get(name)
        if r is None:
            why = ("not trained yet (make zoo-results)" if name in fer48
                   else "shapes and a training smoke only (tests/zoo)")
            rows.append([f"`{name}`", WRITE_UPS.get(name, ""), why, "-", "-", "-", "-"])
            continue
        best = (f"{_pct(r['best_test_accuracy'])} (iter {r['best_test_iteration']})"
                if r["best_test_accuracy"] is not None else "-")
        rows.append([f"`{name}`", WRITE_UPS.get(name, ""),
                     f"{r['epochs']:g} epochs = {r['iterations']:,} iters of {r['batch']}, {r['precision']}",
                     f"{r['minutes']:.1f}", _pct(r["accuracy"]), f"{r['macro_f1']:.4f}", best])
    text = markdown_table(["model", "write-up", "budget", "minutes", "PublicTest accuracy", "macro F1",
                           "best test pass"], rows, right=(3, 4, 5))
    auc_rows = []
    for name in AUC_MODELS:
        if name in results:
            auc = results[name]["auc"]
            auc_rows.append([f"`{name}` (ours, from probabilities)",
                             *[f"{auc[c]:.3f}" if auc.get(c) is not None else "-" for c in FER_CLASSES]])
        if name in WRITE_UP_AUC:
            auc_rows.append([f"{WRITE_UPS[name]}: write-up (hard labels)",
                             *[f"{v:.2f}" if v is not None else "-" for v in WRITE_UP_AUC[name]]])
    if auc_rows:
        text += "\nPer-class ROC AUC on PublicTest:\n\n" + markdown_table(["", *FER_CLASSES], auc_rows,
                                                                           right=range(1, 8))
    return text


def baseline_table() -> str:
    """A row per logs/baseline/*/metrics.json: the nine combinations first, then any other runs."""
    order = {f"{f}_{mdl}": i for i, (f, mdl) in enumerate((f, mdl) for f in FEATURES for mdl in MODELS)}
    paths = sorted(Path("logs/baseline").glob("*/metrics.json"),
                   key=lambda p: (order.get(p.parent.name, len(order)), p.parent.name))
    rows = []
    for path in paths:
        m = json.loads(path.read_text())
        f, mdl, cfg = m["features"], m["model"], m["config"]
        sub = (f"{m['train_rows']:,} of {m['training_rows_available']:,}"
               if m["train_rows"] < m["training_rows_available"] else f"all {m['train_rows']:,}")
        extra = ""
        if mdl == "svc" and (cfg["svc_gamma"] != "scale" or not cfg["scale"]):
            extra = f" (gamma {cfg['svc_gamma']}{', unscaled' if not cfg['scale'] else ''})"
        sec = m["seconds"]
        cpu = f"{sec['cpu'] / 60:.1f}" if "cpu" in sec else "-"
        rows.append([f"{f} + {mdl}{extra}", sub, _pct(m["accuracy"]), f"{m['report']['macro avg']['f1-score']:.4f}",
                     f"{sec.get('wall', sec['total']) / 60:.1f}", cpu])
    return markdown_table(["features + model", "Training rows used", "PublicTest accuracy", "macro F1",
                           "minutes (wall)", "CPU minutes"], rows, right=(2, 3, 4, 5))


def write_tables(results: dict[str, dict]) -> None:
    write_text_atomic(RESULTS, json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    replace_block(TABLES_DOC, "zoo-results", zoo_tables(results))
    replace_block(TABLES_DOC, "baseline-results", baseline_table())
    print(f"wrote {RESULTS} and the tables of {TABLES_DOC}")


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="zoo_results", description=__doc__.split("\n")[0])
    p.add_argument("--models", help="comma list (default: every 48x48 zoo model)")
    p.add_argument("--precision", choices=("float32", "bf16", "fp16"),
                   help="tools/train --precision (default: the solvers' own)")
    p.add_argument("--epochs", type=float, help="train every model this many epochs instead of its budget "
                                                 "(a quick check of the pipeline)")
    p.add_argument("--force", action="store_true", help="train again models that already have results")
    p.add_argument("--tables-only", action="store_true", help="only rewrite results.json and the tables of docs/zoo.md")
    a = p.parse_args(argv)
    known = fer48_models()
    names = a.models.split(",") if a.models else known
    bad = [n for n in names if n not in known]
    if bad:
        raise CaffeError(f"--models: {', '.join(bad)} is not a 48x48 zoo model (known: {', '.join(known)})")
    missing = [n for n in names if n not in BUDGETS]
    if missing:
        raise CaffeError(f"no budget for {', '.join(missing)}: add it to BUDGETS in {__file__}")
    results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    for done in sorted(LOGS.glob("*/result.json")):  # this machine's runs are the newer word
        results[done.parent.name] = json.loads(done.read_text())
    if not a.tables_only:
        for need in ("train_lmdb", "val_lmdb", "mean.binaryproto"):
            if not (DATA / need).exists():
                raise CaffeError(f"{DATA / need}: missing; build it with make lmdb CSV=fer2013.csv NAME=fer2013")
        if not (DATA / "class_weights.binaryproto").exists():
            subprocess.run([str(ROOT / "tools" / "class_weights"), "--db", str(DATA / "train_lmdb")], check=True)
        n_train = count_records(DATA / "train_lmdb")
        for name in names:
            epochs = a.epochs or BUDGETS[name]
            done = LOGS / name / "result.json"
            if done.is_file() and not a.force:
                r = json.loads(done.read_text())
                if r["epochs"] == epochs and r["precision"] == (a.precision or "float32"):
                    log.info("zoo_results.py:209", f"{name}: already done ({done}); --force trains it again")
                    results[name] = r
                    continue
            results[name] = train_and_evaluate(name, epochs, a.precision, n_train)
            write_tables(results)
    write_tables(results)
    return 0


if __name__ == "__main__":
    run(main, "zoo_results")
