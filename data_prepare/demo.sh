#!/usr/bin/env bash
# make demo: the whole workflow on the embedded synthetic FER dataset, with no download.
set -euo pipefail
cd "$(dirname "$0")/.."

# data: synthetic FER CSV -> images, index files, LMDBs and mean.binaryproto in data/demo/
tools/_python -m fer_caffe_compat.cli.make_demo_csv --out data/demo/demo.csv --preview data/demo/faces.png
data_prepare/make_lmdb.sh data/demo/demo.csv data/demo --overwrite

# ---------------------------------------------------------------- training (issue 4)
# LeNet on data/demo for a few minutes on the CPU: glog to logs/lenet_demo.log, snapshots in snapshots/,
# then its curves as PNGs (training loss vs iterations and seconds, test accuracy and loss, learning rate)
# in logs/lenet_demo_curves/ (matplotlib) and logs/lenet_demo_curves/gnuplot/ (gnuplot).
mkdir -p logs snapshots
rm -f logs/lenet_demo.log snapshots/lenet_demo_iter_*
tools/train --solver solvers/lenet_demo_solver.prototxt --gpu cpu --log logs/lenet_demo.log --progress \
  2> logs/lenet_demo.stderr || { tail -n 2 logs/lenet_demo.stderr >&2; exit 1; }
grep -E "Test net output" logs/lenet_demo.log | tail -n 2
tools/plot_log.sh logs/lenet_demo.log logs/lenet_demo_curves

# ---------------------------------------------------------------- evaluation (issue 5)
# The trained demo net (its last snapshot) on data/demo/val_lmdb: accuracy, top-2, per-class report, confusion
# matrix and ROC AUCs on stdout; confusion.png, roc.png and metrics.json in snapshots/lenet_demo_iter_N_eval/.
# The model is the train/val prototxt, so its TEST data layer's mean file and scale are the preprocessing.
DEMO_WEIGHTS="$(ls snapshots/lenet_demo_iter_*.caffemodel 2>/dev/null | sort -V | tail -n 1 || true)"
[ -n "$DEMO_WEIGHTS" ] || { echo "demo: training left no snapshots/lenet_demo_iter_*.caffemodel" >&2; exit 1; }
tools/evaluate --model nets/lenet_demo_train_test.prototxt --weights "$DEMO_WEIGHTS" --db data/demo/val_lmdb
