#!/usr/bin/env bash
# Usage: plot_log.sh LOG [OUT_DIR]
# Training curves of a Caffe/tools/train log as PNGs in OUT_DIR (default: LOG without .log + _curves/):
#   OUT_DIR/LOG.train, LOG.test            the tables of tools/parse_log.sh
#   OUT_DIR/gnuplot/*.png                  tools/plot_log.gnuplot (needs gnuplot-nox: make system-deps)
#   OUT_DIR/*.png                          tools/plot_training_log (matplotlib)
# Charts: training loss vs iterations and vs seconds, test accuracy and test loss vs iterations,
# learning rate vs iterations.
set -euo pipefail
tools="$(cd "$(dirname "$0")" && pwd -P)"
if [ "$#" -lt 1 ]; then echo "Usage: plot_log.sh LOG [OUT_DIR]" >&2; exit 2; fi
log="$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")"
[ -r "$log" ] || { echo "plot_log.sh: error: $1: cannot read" >&2; exit 1; }
out="${2:-${1%.log}_curves}"
mkdir -p "$out/gnuplot"
out="$(cd "$out" && pwd -P)"
(cd "$out" && "$tools/parse_log.sh" "$log")
if command -v gnuplot >/dev/null; then
  gnuplot -e "log='$out/$(basename "$log")'; out='$out/gnuplot'; name='$(basename "$log")'" "$tools/plot_log.gnuplot"
else
  echo "plot_log.sh: gnuplot not found (apt-get install gnuplot-nox); only the matplotlib charts" >&2
fi
"$tools/plot_training_log" "$log" --out "$out" >/dev/null
echo "$out"
