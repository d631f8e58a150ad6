#!/usr/bin/env bash
# make demo: the whole workflow on the embedded synthetic FER dataset, with no download.
set -euo pipefail
cd "$(dirname "$0")/.."

# data: synthetic FER CSV -> images, index files, LMDBs and mean.binaryproto in data/demo/
tools/_python -m fer_caffe_compat.cli.make_demo_csv --out data/demo/demo.csv
data_prepare/make_lmdb.sh data/demo/demo.csv data/demo --overwrite

# ---------------------------------------------------------------- evaluation (issue 5)
# The trained demo net on data/demo/val_lmdb: accuracy, top-2, per-class report and confusion matrix on
# stdout; confusion.png, roc.png and metrics.json in <weights>_eval/ beside the snapshot. The model is the
# train/val prototxt, so its TEST data layer's scale, mean and crop are the preprocessing; DEMO_MODEL and
# DEMO_WEIGHTS override the choice (default: the newest snapshot).
DEMO_MODEL="${DEMO_MODEL:-nets/lenet_train_test.prototxt}"
DEMO_WEIGHTS="${DEMO_WEIGHTS:-$(ls -t snapshots/*.caffemodel 2>/dev/null | head -n 1 || true)}"
if [ -z "$DEMO_WEIGHTS" ] || [ ! -f "$DEMO_MODEL" ]; then
  echo "demo: no trained net to evaluate (need $DEMO_MODEL and a snapshot in snapshots/); skipping evaluation" >&2
else
  mean_args=()
  if grep -q mean_file "$DEMO_MODEL"; then mean_args=(--mean data/demo/mean.binaryproto); fi
  tools/evaluate --model "$DEMO_MODEL" --weights "$DEMO_WEIGHTS" --db data/demo/val_lmdb "${mean_args[@]}"
fi
