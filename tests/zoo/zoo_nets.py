"""Helpers for the nets/zoo tests: the folder listing, and a zoo net rewired to test inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_caffe_compat.io.blob import write_blob_file
from fer_caffe_compat.net import load_net_param
from fer_caffe_compat.proto import caffe_pb2, read_prototxt

from ..conftest import ROOT

ZOO_DIR = ROOT / "nets" / "zoo"
MODELS = sorted(p.name for p in ZOO_DIR.iterdir() if p.is_dir())


def solver_param(name: str) -> caffe_pb2.SolverParameter:
    return read_prototxt(ZOO_DIR / name / "solver.prototxt", caffe_pb2.SolverParameter())


def train_val(name: str) -> caffe_pb2.NetParameter:
    return load_net_param(ZOO_DIR / name / "train_val.prototxt")


def with_infogain(net: caffe_pb2.NetParameter, h_file: Path, classes: int) -> caffe_pb2.NetParameter:
    """InfogainLoss layers read ``h_file`` (written as the identity when missing)."""
    for lp in net.layer:
        if lp.type == "InfogainLoss":
            if not h_file.exists():
                write_blob_file(h_file, np.eye(classes, dtype=np.float32)[None, None])
            lp.infogain_loss_param.source = str(h_file)
    return net


def with_inputs(net: caffe_pb2.NetParameter, chw: tuple[int, int, int], batch: int) -> caffe_pb2.NetParameter:
    """Both Data layers become one Input layer of (batch, *chw) data and (batch,) labels (no LMDB)."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    del out.layer[:]
    done = False
    for lp in net.layer:
        if lp.type != "Data":
            out.layer.add().CopyFrom(lp)
        elif not done:
            inp = out.layer.add(name=lp.name, type="Input", top=list(lp.top))
            inp.input_param.shape.add(dim=[batch, *chw])
            inp.input_param.shape.add(dim=[batch])
            done = True
    return out


def demo_lmdb(folder: Path, chw: tuple[int, int, int], n: int, seed: int = 0) -> tuple[Path, Path]:
    """An LMDB of ``n`` demo faces (fer_caffe_compat.data.demo) resized to (C, H, W), and its mean file."""
    import cv2

    from fer_caffe_compat.data.demo import make_demo
    from fer_caffe_compat.data.mean import compute_image_mean
    from fer_caffe_compat.io.db import array_to_datum, write_lmdb

    images, labels, _ = make_demo(n_train=n, n_val=0, n_test=0, seed=seed)
    c, h, w = chw

    def records():
        for i, (img, lab) in enumerate(zip(images, labels)):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) if (h, w) != img.shape else img
            chw_img = np.repeat(img[None], c, axis=0)
            yield f"{i:08d}".encode(), array_to_datum(chw_img, int(lab)).SerializeToString()
    db = folder / "demo_lmdb"
    write_lmdb(db, records())
    mean = folder / "demo_mean.binaryproto"
    compute_image_mean(db, str(mean), progress=False)
    return db, mean


def on_demo_data(net: caffe_pb2.NetParameter, db: Path, mean: Path, batch: int) -> caffe_pb2.NetParameter:
    """The net's Data layers read ``db`` (both phases) with ``mean``, ``batch`` records a batch."""
    out = caffe_pb2.NetParameter()
    out.CopyFrom(net)
    for lp in out.layer:
        if lp.type == "Data":
            lp.data_param.source = str(db)
            lp.data_param.batch_size = batch
            lp.transform_param.mean_file = str(mean)
    return out
