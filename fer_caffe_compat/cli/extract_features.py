"""Caffe's extract_features tool (tools/extract_features.cpp):

    extract_features pretrained_net_param feature_extraction_proto_file \\
        extract_feature_blob_name1[,name2,...] save_feature_dataset_name1[,name2,...] \\
        num_mini_batches db_type [CPU/GPU] [DEVICE_ID=0]

Runs the TEST-phase net ``num_mini_batches`` times (its data layers read their source) and writes each
named blob, one record per image, into its own new database: a Datum with channels/height/width of the
blob's legacy shape (Blob::channels(), height(), width(): 1 past its axes) and the image's values in
``float_data``, under the key ``%010d`` (caffe::format_int(i, 10)), committed every 1000 records. The
bytes are those Caffe writes. As in Caffe, only the ERROR lines reach stderr (glog's stderrthreshold);
GLOG_logtostderr=1 or GLOG_alsologtostderr=1 shows the rest (the net's construction).

Exit status: 0 done; 1 too few arguments (Caffe's usage, as Caffe) or bad input, one line (Caffe aborts on
a failed CHECK). Departures: ``db_type`` leveldb is refused (the project has no LevelDB); layers of the net
that the weights file does not hold keep their fillers as in Caffe, but are named in a warning; GPU on a
machine without CUDA runs on the CPU after one warning line. Outputs appear only complete (temporary names,
renamed at the end).
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
from typing import Iterator

import numpy as np
import torch

from .. import log
from ..errors import CaffeError
from ..io.blob import legacy_shape
from ..io.db import lmdb_writer
from ..proto import caffe_pb2
from .common import run

SRC = "extract_features.cpp"
USAGE = ("This program takes in a trained network and an input data layer, and then extract features of the "
         "input data produced by the net.\n"
         "Usage: extract_features  pretrained_net_param  feature_extraction_proto_file  "
         "extract_feature_blob_name1[,name2,...]  save_feature_dataset_name1[,name2,...]  num_mini_batches  "
         "db_type  [CPU/GPU] [DEVICE_ID=0]\n"
         "Note: you can extract multiple features in one pass by specifying multiple feature blob names and "
         "dataset names seperated by ','. The names cannot contain white space characters and the number of "
         "blobs and datasets must be equal.")


def _atoi(text: str) -> int:
    """C's atoi: the leading integer, 0 when there is none."""
    m = re.match(r"\s*[+-]?\d+", text)
    return int(m.group()) if m else 0


def _info_shown() -> bool:
    return any(os.environ.get(v, "0").lower() not in ("", "0", "false")
               for v in ("GLOG_logtostderr", "GLOG_alsologtostderr"))


@contextlib.contextmanager
def _info_hidden() -> Iterator[None]:
    """glog's default: INFO lines of the block go to glog's log file only, not to stderr."""
    old = log.quiet
    log.quiet = old or not _info_shown()
    try:
        yield
    finally:
        log.quiet = old


def _device(argv: list[str]) -> torch.device:
    if len(argv) > 6 and argv[6] == "GPU":
        log.error(f"{SRC}:46", "Using GPU")
        device_id = _atoi(argv[7]) if len(argv) > 7 else 0
        if device_id < 0:
            raise CaffeError(f"DEVICE_ID {argv[7]}: must be >= 0")
        log.error(f"{SRC}:52", f"Using Device_id={device_id}")
        if not torch.cuda.is_available():
            log.warning(f"{SRC}:53", "GPU: no CUDA device is available on this machine; running on the CPU")
            return torch.device("cpu")
        if device_id >= torch.cuda.device_count():
            raise CaffeError(f"DEVICE_ID {device_id}: no such CUDA device ({torch.cuda.device_count()} available)")
        return torch.device(f"cuda:{device_id}")
    log.error(f"{SRC}:56", "Using CPU")
    return torch.device("cpu")


def feature_records(blob: np.ndarray, first: int) -> Iterator[tuple[bytes, bytes]]:
    """One (key, serialized Datum) per image of a blob, numbered from ``first``."""
    try:
        num, channels, height, width = legacy_shape(blob.shape)
    except ValueError as e:
        raise CaffeError(str(e)) from None
    rows = np.asarray(blob, dtype=np.float32).reshape(num, -1)
    for n in range(num):
        d = caffe_pb2.Datum(channels=channels, height=height, width=width)
        d.float_data.extend(rows[n].tolist())
        yield f"{first + n:010d}".encode(), d.SerializeToString()


def extract(argv: list[str]) -> int:
    if len(argv) < 6:
        log.error(f"{SRC}:36", USAGE)
        return 1
    device = _device(argv)
    weights, proto, blob_list, db_list, batches, db_type = argv[:6]
    blob_names, db_names = blob_list.split(","), db_list.split(",")
    if len(blob_names) != len(db_names):
        raise CaffeError(f"{len(blob_names)} blob names ({blob_list}) and {len(db_names)} dataset names "
                         f"({db_list}): the number of blob names and dataset names must be equal")
    from ..net import Net
    from ..net_weights import load_weights

    with _info_hidden():
        net = Net.from_file(proto, phase=caffe_pb2.TEST).to(device)
        missing = load_weights(net, weights, allow_missing=True)  # CopyTrainedLayersFrom
    if missing:  # Caffe leaves them at their fillers without a word
        log.warning("net.cpp:781", f"Layers left at their initial values (not in {weights}): {', '.join(missing)}")
    known = {t for tops in net.top_names for t in tops}
    for name in blob_names:
        if name not in known:
            raise CaffeError(f"Unknown feature blob name {name} in the network {proto}")
    if db_type == "leveldb":
        raise CaffeError("db_type leveldb: not supported (this project writes LMDB only); use lmdb")
    if db_type != "lmdb":
        raise CaffeError(f"Unknown database backend {db_type} (lmdb or leveldb)")
    for path in db_names:
        if os.path.lexists(path):
            raise CaffeError(f"mkdir {path} failed: it already exists (extract_features writes new databases)")
    _extract(net, blob_names, db_names, _atoi(batches))
    log.error(f"{SRC}:167", "Successfully extracted the features!")
    return 0


def _extract(net, blob_names: list[str], db_names: list[str], batches: int) -> None:
    """The forward passes, writing each feature blob into its own new database (io/db.lmdb_writer)."""
    with contextlib.ExitStack() as stack:
        writers = []
        for path, name in zip(db_names, blob_names):
            with _info_hidden():
                log.info(f"{SRC}:121", f"Opening dataset {path}")
            writers.append(stack.enter_context(lmdb_writer(path, on_commit=functools.partial(_committed, name))))
        log.error(f"{SRC}:128", "Extacting Features")  # sic: Caffe's spelling
        for _ in range(batches):
            with torch.no_grad():
                blobs = net.forward()
            for w, name in zip(writers, blob_names):
                for key, value in feature_records(blobs[name].detach().cpu().numpy(), w.count):
                    w.put(key, value)
        for w, name in zip(writers, blob_names):
            w.finish()
            log.error(f"{SRC}:163", f"Extracted features of {w.count} query images for feature blob {name}")


def _committed(name: str, count: int) -> None:
    log.error(f"{SRC}:152", f"Extracted features of {count} query images for feature blob {name}")


def main() -> None:
    """Console script ``extract_features`` and tools/extract_features."""
    run(extract, "extract_features")


if __name__ == "__main__":
    main()
