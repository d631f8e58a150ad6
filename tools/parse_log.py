#!/usr/bin/env bash
exec "$(dirname "$0")/_python" -m fer_caffe_compat.cli.parse_log "$@"
