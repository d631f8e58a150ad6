#!/usr/bin/env bash
# ship_pretrained.sh WEIGHTS LOG CSV [COMMAND]: put a trained recipe snapshot into nets/pretrained/ with its card.
#   1. WEIGHTS (the final snapshot's .caffemodel: the weight average the recipe tests) -> nets/pretrained/fer_cpu_hour.caffemodel;
#   2. LOG (its training log) -> docs/runs/pretrained/train.log;
#   3. tools/evaluate on every PublicTest row of CSV, as shipped (deploy net, mean.binaryproto, scale 1/256,
#      CPU float32), with --tta none, flip and shift -> docs/runs/pretrained/eval_<tta>.txt and eval_<tta>/metrics.json;
#   4. tools/model_card -> nets/pretrained/model.json, README.md, confusion.png.
# COMMAND is the command that trained WEIGHTS, as the card shows it (default: make recipe CSV=<CSV's name>).
# nets/pretrained/mean.binaryproto must be the mean that run trained with (data/fer2013/mean.binaryproto).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WEIGHTS="$(realpath -- "${1:?usage: ship_pretrained.sh WEIGHTS LOG CSV [COMMAND]}")"
LOG="$(realpath -- "${2:?usage: ship_pretrained.sh WEIGHTS LOG CSV [COMMAND]}")"
CSV="$(realpath -- "${3:?usage: ship_pretrained.sh WEIGHTS LOG CSV [COMMAND]}")"
COMMAND="${4:-make recipe CSV=$(basename "$CSV")}"
cd "$ROOT"
P=nets/pretrained
RUNS=docs/runs/pretrained
mkdir -p "$RUNS"
cp -- "$WEIGHTS" "$P/fer_cpu_hour.caffemodel.tmp" && mv -- "$P/fer_cpu_hour.caffemodel.tmp" "$P/fer_cpu_hour.caffemodel"
cp -- "$LOG" "$RUNS/train.log.tmp" && mv -- "$RUNS/train.log.tmp" "$RUNS/train.log"
for tta in none flip shift; do
  tools/evaluate --model "$P/deploy.prototxt" --weights "$P/fer_cpu_hour.caffemodel" --mean "$P/mean.binaryproto" \
    --scale 0.00390625 --csv "$CSV" --usage PublicTest --tta "$tta" --out "$RUNS/eval_$tta" > "$RUNS/eval_$tta.txt"
  rm -f "$RUNS/eval_$tta/roc.png"  # the card keeps the numbers; roc.png is in eval_<tta>.txt as AUCs
done
tools/model_card --command "$COMMAND" --log "$RUNS/train.log" --csv "$CSV" \
  "$RUNS"/eval_none/metrics.json "$RUNS"/eval_flip/metrics.json "$RUNS"/eval_shift/metrics.json
rm -f "$RUNS"/eval_*/confusion.png  # nets/pretrained/confusion.png is the card's copy
