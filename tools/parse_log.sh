#!/usr/bin/env bash
# Usage: parse_log.sh caffe.log
# Writes two whitespace-aligned tables into the current directory, as Caffe's tools/extra/parse_log.sh:
#     caffe.log.test  (columns: '#Iters Seconds TestAccuracy TestLoss')
#     caffe.log.train (columns: '#Iters Seconds TrainingLoss LearningRate')
# Seconds are counted from the "Solving" line (tools/extract_seconds reads both glog prefixes).
set -euo pipefail
DIR="$(cd "$(dirname "$0")" && pwd -P)"
if [ "$#" -lt 1 ]; then
  echo "Usage: parse_log.sh /path/to/your.log" >&2
  exit 2
fi
if [ ! -r "$1" ]; then
  echo "parse_log.sh: error: $1: cannot read" >&2
  exit 1
fi
if ! grep -q '] Solving ' "$1"; then
  echo "parse_log.sh: error: $1: not a Caffe training log: expected glog lines from caffe train or" \
       "tools/train, such as 'I1122 01:55:04.056345 12345 solver.cpp:289] Solving FER_LeNet' and then" \
       "'Iteration N (...), loss = X'" >&2
  exit 1
fi
LOG="$(basename "$1")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Test passes: "Iteration N, Testing net (#0)" then "Test net output #0/#1".
grep 'Iteration .*, Testing net' "$1" | sed 's/.*Iteration \([[:digit:]]*\).*/\1/' > "$tmp/iters" || true
grep 'Test net output #0' "$1" | awk '{print $11}' > "$tmp/acc" || true
grep 'Test net output #1' "$1" | awk '{print $11}' > "$tmp/loss" || true
{ grep '] Solving ' "$1"; grep 'Testing net' "$1" || true; } > "$tmp/times_in"
"$DIR/extract_seconds" "$tmp/times_in" "$tmp/secs" --year "$(date -r "$1" +%Y)"
{ echo '#Iters Seconds TestAccuracy TestLoss'
  paste "$tmp/iters" "$tmp/secs" "$tmp/acc" "$tmp/loss" | column -t; } > "$tmp/test"
mv "$tmp/test" "$LOG.test"

# Training: "Iteration N (... iter/s, ...), loss = X" (and the last "Iteration N, loss = X"), "lr = Y".
{ grep '] Solving ' "$1"; grep ', loss = ' "$1" || true; } > "$tmp/times_in"
grep ', loss = ' "$1" | sed 's/.*Iteration \([[:digit:]]*\).*/\1/' > "$tmp/iters" || true
grep ', loss = ' "$1" | sed 's/.*, loss = \([^ ]*\).*/\1/' > "$tmp/loss" || true
grep ', lr = ' "$1" | awk '{print $NF}' > "$tmp/lr" || true
"$DIR/extract_seconds" "$tmp/times_in" "$tmp/secs" --year "$(date -r "$1" +%Y)"
{ echo '#Iters Seconds TrainingLoss LearningRate'
  paste "$tmp/iters" "$tmp/secs" "$tmp/loss" "$tmp/lr" | column -t; } > "$tmp/train"
mv "$tmp/train" "$LOG.train"
