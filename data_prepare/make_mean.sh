#!/usr/bin/env bash
# make_mean.sh TRAIN_LMDB MEAN_FILE: the mean image of the training LMDB (Caffe's compute_image_mean).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 TRAIN_LMDB MEAN_FILE" >&2; exit 2; }
exec "$(dirname "$0")/../tools/compute_image_mean" "$1" "$2"
