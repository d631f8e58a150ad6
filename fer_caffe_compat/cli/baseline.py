"""baseline: a classic FER baseline (PCA, LBP or HOG features into an SVC, Random Forest or gradient boosting).

    tools/baseline --csv fer2013.csv --features pca|lbp|hog --model svc|rf|gbm [--out DIR]

Trains on the CSV's Training rows (the SVC on a stratified subsample of 10,000 by default, to stay within
10 minutes on 2 cores; --train-samples changes it) and scores the PublicTest rows (--usage). Prints accuracy,
macro F1, the per-class report and the confusion matrix, and writes confusion.png, roc.png and metrics.json
into --out (default: logs/baseline/<features>_<model>/), as tools/evaluate does.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..data.fer_csv import USAGES, read_fer_csv
from ..errors import CaffeError
from ..eval import metrics, plots
from ..eval.baseline import FEATURES, MODELS, BaselineConfig, run_baseline
from ..eval.labels import FER_CLASSES, read_labels
from ..fsutil import write_text_atomic
from .common import ArgumentParser, run


def parse(argv: list[str]):
    p = ArgumentParser(prog="baseline", description=__doc__.split("\n")[0])
    p.add_argument("--csv", required=True, help="FER CSV (emotion,pixels,Usage), plain or .gz")
    p.add_argument("--features", required=True, choices=FEATURES)
    p.add_argument("--model", required=True, choices=MODELS)
    p.add_argument("--usage", default="PublicTest", choices=USAGES[1:], help="rows to score (PublicTest)")
    p.add_argument("--train-samples", type=int,
                   help="train on a stratified random subsample of this many Training rows "
                        "(default: 10,000 for svc, all for rf and gbm)")
    p.add_argument("--pca-components", type=int, default=100, help="pca: components kept (100)")
    p.add_argument("--svc-c", type=float, default=1.0, help="svc: C (1)")
    p.add_argument("--svc-gamma", default="scale", help="svc: RBF gamma, scale, auto (1/n_features) or a number")
    p.add_argument("--no-scale", dest="scale", action="store_false",
                   help="svc: do not standardise the features first")
    p.add_argument("--trees", type=int, default=200, help="rf: number of trees (200)")
    p.add_argument("--jobs", type=int, default=2, help="rf: worker threads (2)")
    p.add_argument("--gbm-iters", type=int, default=100, help="gbm: boosting rounds (100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--labels", help="class names, one per line (default: FER's seven)")
    p.add_argument("--out", help="folder for confusion.png, roc.png, metrics.json")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    start, start_cpu = time.perf_counter(), time.process_time()
    a = parse(argv)
    if a.svc_gamma not in ("scale", "auto"):
        try:
            if float(a.svc_gamma) <= 0:
                raise ValueError
        except ValueError:
            raise CaffeError(f"--svc-gamma {a.svc_gamma}: expected scale, auto or a positive number") from None
    cfg = BaselineConfig(a.features, a.model, train_samples=a.train_samples, pca_components=a.pca_components,
                         svc_c=a.svc_c, svc_gamma=a.svc_gamma, scale=a.scale, trees=a.trees, gbm_iters=a.gbm_iters,
                         seed=a.seed, jobs=a.jobs)
    data = read_fer_csv(a.csv, progress=a.progress)
    train, test = data.usage == 0, data.usage == USAGES.index(a.usage)
    if not train.any():
        raise CaffeError(f"{a.csv}: no Training rows to train on")
    if not test.any():
        raise CaffeError(f"{a.csv}: no {a.usage} rows to score")
    names = read_labels(a.labels) if a.labels else list(FER_CLASSES)
    k = len(names)
    if data.labels.max() >= k:
        raise CaffeError(f"{a.csv}: label {int(data.labels.max())} is outside the {k} classes")
    res = run_baseline(cfg, data.images[train], data.labels[train], data.images[test], k, a.progress)
    y = data.labels[test]
    result = metrics.evaluate(y, res.scores, names)
    n_train = int(train.sum())
    result.update(
        data=str(a.csv), usage=a.usage, features=a.features, model=a.model,
        scores="decision values (one vs rest)" if a.model == "svc" else "probabilities",
        train_rows=res.train_rows, training_rows_available=n_train, seconds=res.seconds,
        config=dict(vars(cfg)))
    sub = (f"a stratified subsample of {res.train_rows} of the {n_train} Training rows"
           if res.train_rows < n_train else f"all {n_train} Training rows")
    print(f"{a.features} + {a.model}: trained on {sub}; scored {int(test.sum())} {a.usage} rows "
          f"({res.seconds['total']:.0f} s: features {res.seconds['features']:.0f} s, fit {res.seconds['fit']:.0f} s)")
    print(f"accuracy: {result['accuracy']:.4f}")
    print(f"macro F1: {result['report']['macro avg']['f1-score']:.4f}")
    print()
    print(metrics.report_text(y, res.scores.argmax(1), names).rstrip())
    print()
    print(metrics.confusion_text(np.asarray(result["confusion"]), names))
    out = Path(a.out) if a.out else Path("logs") / "baseline" / f"{a.features}_{a.model}"
    out.mkdir(parents=True, exist_ok=True)
    plots.plot_confusion(out / "confusion.png", np.asarray(result["confusion"]), names,
                         title=f"{a.features} + {a.model}: confusion (rows normalised)")
    what = "decision values" if a.model == "svc" else "probabilities"
    plots.plot_roc(out / "roc.png", metrics.roc_curves(y, res.scores), names,
                   title=f"{a.features} + {a.model}: ROC, one class vs rest (from {what})")
    # the whole tool (CSV, features, fit, PNGs): wall time, and CPU time over all its threads
    result["seconds"].update(wall=time.perf_counter() - start, cpu=time.process_time() - start_cpu)
    write_text_atomic(out / "metrics.json", json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'confusion.png'}, {out / 'roc.png'}, {out / 'metrics.json'}")
    return 0


if __name__ == "__main__":
    run(main, "baseline")
