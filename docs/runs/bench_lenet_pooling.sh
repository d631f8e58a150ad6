#!/bin/bash
# alternate the baseline tree (056483f) and main's HEAD: LeNet-FER ms/iter (train section), 2 threads
for r in 1 2 3; do
  for t in /work/speed_base /work/main; do
    cd $t && OMP_NUM_THREADS=2 PYTHONPATH=$t timeout 600 /work/main/.venv/bin/python -m fer_caffe_compat.cli.bench --only train --rounds 1 --iters 20 --json /tmp/sc.json 2>&1 | grep "LeNet-FER: tools/train" | sed "s|^|$t r$r |"
  done
done
