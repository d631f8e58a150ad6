"""A tiny FER net (Input 1x1x48x48 -> Convolution -> ReLU -> Pooling -> InnerProduct 7 -> Softmax) whose
weights are written by the test that needs them, from seeded fillers: no big fixture is committed."""
from __future__ import annotations

from pathlib import Path

import torch

from fer_caffe_compat import log
from fer_caffe_compat.net import Net, load_net_param
from fer_caffe_compat.proto import caffe_pb2

from ..conftest import FIXTURES

DEPLOY = FIXTURES / "eval" / "tiny_deploy.prototxt"
TRAIN_VAL = FIXTURES / "eval" / "tiny_train_val.prototxt"
IMAGESET = FIXTURES / "imageset"
GRAY_LMDB = IMAGESET / "gray_lmdb"
MEAN = IMAGESET / "mean_gray.binaryproto"
SCALE = 0.00390625


def deploy_param(side: int = 48) -> caffe_pb2.NetParameter:
    p = load_net_param(DEPLOY)
    p.layer[0].input_param.shape[0].dim[2:] = [side, side]
    return p


def save_weights(path: Path, side: int = 48, seed: int = 0) -> Path:
    """Seeded filler weights of the tiny net for a side x side input, saved as a .caffemodel."""
    torch.manual_seed(seed)
    old, log.quiet = log.quiet, True
    try:
        Net(deploy_param(side)).save_caffemodel(path)
    finally:
        log.quiet = old
    return path
