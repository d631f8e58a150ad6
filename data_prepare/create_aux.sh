#!/usr/bin/env bash
# create_aux.sh IMAGES_DIR OUT_DIR: writes OUT_DIR/train.txt, val.txt, test.txt ("3/00012.jpg 3" per
# line, paths relative to IMAGES_DIR/<split>/) for the split folders IMAGES_DIR holds.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 IMAGES_DIR OUT_DIR" >&2; exit 2; }
exec "$(dirname "$0")/../tools/_python" -m fer_caffe_compat.cli.create_aux "$1" "$2"
