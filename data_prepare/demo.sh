#!/usr/bin/env bash
# make demo: the whole workflow on the embedded synthetic FER dataset, with no download.
set -euo pipefail
cd "$(dirname "$0")/.."

# data: synthetic FER CSV -> images, index files, LMDBs and mean.binaryproto in data/demo/
tools/_python -m fer_caffe_compat.cli.make_demo_csv --out data/demo/demo.csv
data_prepare/make_lmdb.sh data/demo/demo.csv data/demo --overwrite
