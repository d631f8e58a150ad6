#!/usr/bin/env bash
# make_lmdb.sh CSV OUT_DIR [--overwrite]: FER CSV -> OUT_DIR/images/<split>/<class>/<row>.jpg,
# OUT_DIR/{train,val,test}.txt, OUT_DIR/{train,val,test}_lmdb and OUT_DIR/mean.binaryproto.
# One pass that gives the same files as these steps (tested to be byte-identical):
#   tools/csv_to_images --csv CSV --out OUT_DIR/images
#   data_prepare/create_aux.sh OUT_DIR/images OUT_DIR
#   tools/convert_imageset --gray OUT_DIR/images/train/ OUT_DIR/train.txt OUT_DIR/train_lmdb   (and val, test)
#   data_prepare/make_mean.sh OUT_DIR/train_lmdb OUT_DIR/mean.binaryproto
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 CSV OUT_DIR [--overwrite]" >&2; exit 2; }
exec "$(dirname "$0")/../tools/_python" -m fer_caffe_compat.cli.make_lmdb "$@"
