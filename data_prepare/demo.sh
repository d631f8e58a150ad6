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

# ---------------------------------------------------------------- a pycaffe script (issue 21)
# The same snapshot through a Caffe-era script that knows only `import caffe`, numpy and lmdb: the classic LMDB
# confusion-matrix loop on the deploy net (docs/examples/confusion_matrix.py). Its accuracy must be
# tools/evaluate's, image for image.
tools/_python docs/examples/confusion_matrix.py nets/lenet_deploy.prototxt "$DEMO_WEIGHTS" data/demo/val_lmdb \
  data/demo/mean.binaryproto | tee logs/lenet_demo_pycaffe.txt
tools/_python - "${DEMO_WEIGHTS%.caffemodel}_eval/metrics.json" logs/lenet_demo_pycaffe.txt <<'PY'
import json, re, sys
evaluate = json.load(open(sys.argv[1]))["accuracy"]
pycaffe = float(re.search(r"accuracy ([0-9.]+)", open(sys.argv[2]).read()).group(1))
same = abs(evaluate - pycaffe) < 5e-5
print(f"demo: pycaffe accuracy {pycaffe:.4f}, tools/evaluate {evaluate:.4f}: {'the same' if same else 'DIFFERENT'}")
sys.exit(0 if same else 1)
PY

# ---------------------------------------------------------------- a real photo through the shipped model (issue 22)
# scikit-image's astronaut (in the installed package, no download) through nets/pretrained, the FER model the
# recipe trained: the faces found and their top emotion.
tools/classify --sample > /dev/null
