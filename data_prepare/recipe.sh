#!/usr/bin/env bash
# make recipe CSV=fer2013.csv: the FER CPU-hour recipe from the CSV to PublicTest numbers.
#   1. data/fer2013/ (train_lmdb, val_lmdb, mean.binaryproto), built from the CSV when missing;
#   2. training with solvers/fer_cpu_hour_solver.prototxt (logs/fer_cpu_hour.log, snapshots/fer_cpu_hour_*);
#   3. the curves (logs/fer_cpu_hour_curves/*.png);
#   4. the final snapshot on PublicTest without and with test-time augmentation
#      (snapshots/fer_cpu_hour_iter_N_eval_<tta>/: confusion.png, roc.png, metrics.json).
# Only the Training rows train, only PublicTest is scored: the PrivateTest rows are left for a final check.
# CSV and SOLVER are paths from the caller's directory; the run itself happens in the repository root.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CSV="$(realpath -m -- "${1:?usage: recipe.sh CSV [SOLVER]}")"
SOLVER="$(realpath -m -- "${2:-$ROOT/solvers/fer_cpu_hour_solver.prototxt}")"
cd "$ROOT"
NAME="$(basename "$SOLVER" .prototxt)"; NAME="${NAME%_solver}"
LOG="logs/$NAME.log"

if [ ! -f data/fer2013/train_lmdb/data.mdb ] || [ ! -f data/fer2013/val_lmdb/data.mdb ]; then
  [ -f "$CSV" ] || { echo "recipe: $CSV: no such file (give CSV=path/to/fer2013.csv)" >&2; exit 1; }
  data_prepare/make_lmdb.sh "$CSV" data/fer2013
fi

mkdir -p logs snapshots
start=$(date +%s)
tools/train --solver "$SOLVER" --log "$LOG" --progress 2> "logs/$NAME.stderr" \
  || { tail -n 2 "logs/$NAME.stderr" >&2; exit 1; }
echo "recipe: trained in $(( ($(date +%s) - start) / 60 )) min (log: $LOG)"
tools/plot_log.sh "$LOG" "logs/${NAME}_curves"

PREFIX="$(sed -n 's/^snapshot_prefix: *"\(.*\)"/\1/p' "$SOLVER")"
WEIGHTS="$(ls "${PREFIX}"_iter_*.caffemodel 2>/dev/null | sort -V | tail -n 1 || true)"
[ -n "$WEIGHTS" ] || { echo "recipe: training left no ${PREFIX}_iter_*.caffemodel" >&2; exit 1; }
MODEL="$(sed -n 's/^net: *"\(.*\)"/\1/p' "$SOLVER")"
# none, flip and shift (the centre and four shifted windows, mirrored); tencrop only for a net that crops
TTAS="none flip shift"
if tools/_python - "$MODEL" <<'PY'
import sys
from fer_caffe_compat.net import load_net_param
sys.exit(0 if any(l.transform_param.crop_size for l in load_net_param(sys.argv[1]).layer) else 1)
PY
then TTAS="$TTAS tencrop"; fi
for tta in $TTAS; do
  tools/evaluate --model "$MODEL" --weights "$WEIGHTS" --db data/fer2013/val_lmdb --tta "$tta" \
    --out "${WEIGHTS%.caffemodel}_eval_$tta" > "${WEIGHTS%.caffemodel}_eval_$tta.txt"
done
echo "recipe: $WEIGHTS on PublicTest (data/fer2013/val_lmdb):"
for tta in $TTAS; do
  tools/_python - "${WEIGHTS%.caffemodel}_eval_$tta/metrics.json" "$tta" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f"  tta {sys.argv[2]:8s} accuracy {m['accuracy']:.4f}  macro F1 {m['report']['macro avg']['f1-score']:.4f}  "
      f"macro AUC {m['roc_auc']['macro']:.4f}")
PY
done
