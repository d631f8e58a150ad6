"""bench_data: the data stage's speed. ``--csv fer2013.csv.gz`` times `make lmdb`'s steps (seconds, images/s);
``--data data/fer2013`` times the Data layer alone (images/s). ``make bench`` takes its rows from here.
"""
from __future__ import annotations

import os
import tempfile
import time

import cv2
import numpy as np

from .. import log
from ..data.prepare import prepare_fer
from .common import ArgumentParser, run

BATCH = 256


def _layer(source: str, mean: str, extra: str = ""):
    from ..net import Net
    from ..proto import caffe_pb2, parse_prototxt

    text = (f'layer {{ name: "data" type: "Data" top: "data" top: "label" transform_param {{ mean_file: "{mean}" '
            f'crop_size: 44 mirror: true scale: 0.00390625 }} data_param {{ source: "{source}" batch_size: {BATCH} '
            f'backend: LMDB {extra} }} }}')
    return Net(parse_prototxt(text, caffe_pb2.NetParameter()), phase=caffe_pb2.TRAIN).layers[0]


def images_per_s(layer, batches: int = 40) -> float:
    """The Data layer's rate: next_batch (prefetch thread + batched transform) ``batches`` times."""
    layer.next_batch("cpu")
    t = time.perf_counter()
    for _ in range(batches):
        layer.next_batch("cpu")
    return batches * BATCH / (time.perf_counter() - t)


def encoded_copy(source: str, dest: str, n: int = 10000, quality: int = 95) -> None:
    """The first ``n`` records of a raw LMDB as JPEG-encoded Datums (convert_imageset --encoded)."""
    from ..io.db import array_to_datum, datum_to_array, iter_records, parse_datum, write_lmdb

    def records():
        for i, (k, v) in enumerate(iter_records(source)):
            if i == n:
                break
            d = parse_datum(v)
            ok, jpg = cv2.imencode(".jpg", datum_to_array(d)[0], [cv2.IMWRITE_JPEG_QUALITY, quality])
            e = array_to_datum(np.zeros((1, 1, 1), np.uint8), d.label)
            e.data, e.encoded, e.channels, e.height, e.width = jpg.tobytes(), True, 0, 0, 0
            yield k, e.SerializeToString()
    write_lmdb(dest, records())


def decode_seconds(source: str) -> float:
    """Seconds to decode a whole LMDB into memory, as a Data layer does when it is built."""
    from ..data.batches import LmdbReader
    from ..data.records import LmdbRecords
    from ..data.transform import DataTransformer
    from ..proto import caffe_pb2

    records = LmdbRecords(source, "bench")
    reader = LmdbReader(records, DataTransformer(caffe_pb2.TransformationParameter(), caffe_pb2.TRAIN, "bench"),
                        1, (1, 1, 1))
    t = time.perf_counter()
    records.decode_all(reader.decode, 1 << 16, ("bench", time.monotonic_ns()))  # a key of its own: no sharing
    return time.perf_counter() - t


def data_path_rows(data: str, rounds: int = 3) -> list[tuple[str, float, str]]:
    """images/s of the Data layer at 48x48 -> crop 44, mirror, mean, batch 256, each the median of rounds."""
    train, mean = os.path.join(data, "train_lmdb"), os.path.join(data, "mean.binaryproto")
    with tempfile.TemporaryDirectory(prefix="bench_data_") as tmp:
        enc = os.path.join(tmp, "encoded_lmdb")
        encoded_copy(train, enc)
        build = decode_seconds(train)
        layers = {"raw LMDB, decoded once into memory": _layer(train, mean),
                  "raw LMDB, read batch by batch (cache_mb: 0)": _layer(train, mean, "cache_mb: 0")}
        layers["JPEG LMDB, decoded batch by batch (cache_mb: 0)"] = _layer(enc, mean, "cache_mb: 0")
        layers["JPEG LMDB, decoded once into memory"] = _layer(enc, mean)
        rates: dict[str, list[float]] = {k: [] for k in layers}
        for _ in range(rounds):
            for k, layer in layers.items():
                rates[k].append(images_per_s(layer))
        del layers
    rows = [(f"data path, {k}", float(np.median(v)), "images/s") for k, v in rates.items()]
    rows.append(("data path, decoding the train LMDB into memory (when its Data layer is built)", build, "s"))
    return rows


def make_lmdb_rows(csv: str) -> list[tuple[str, float | None, str]]:
    """`make lmdb`'s seconds on ``csv`` (into a temporary folder); n/a when the CSV is not there."""
    if not os.path.exists(csv):
        return [(f"make lmdb (no CSV at {csv})", None, "s")]
    with tempfile.TemporaryDirectory(prefix="bench_lmdb_", dir="data" if os.path.isdir("data") else None) as out:
        t0 = time.perf_counter()
        timings = prepare_fer(csv, os.path.join(out, "fer"), progress=False)
        total = time.perf_counter() - t0
    n = timings.steps[0][2]
    return [(f"make lmdb, {n:,} rows of {os.path.basename(csv)}", total, "s")]


def main(argv: list[str]) -> int:
    p = ArgumentParser(prog="bench_data", description=__doc__.split("\n")[0])
    p.add_argument("--csv", help="FER CSV to convert (into a temporary folder)")
    p.add_argument("--data", help="a make lmdb folder (train_lmdb, mean.binaryproto): time the Data layer")
    p.add_argument("--tmp", default=None, help="where the temporary output goes (default: data/)")
    a = p.parse_args(argv)
    if a.data:
        log.quiet = True
        for name, value, unit in data_path_rows(a.data):
            print(f"{name:<70} {value:12,.0f} {unit}")
    if a.csv:
        with tempfile.TemporaryDirectory(prefix="bench_data_", dir=a.tmp or None) as out:
            t0 = time.perf_counter()
            timings = prepare_fer(a.csv, out, progress=False)
            total = time.perf_counter() - t0
        print(f"{'step':<14} {'seconds':>8} {'images':>8} {'images/s':>10}")
        for name, secs, n in timings.steps:
            print(f"{name:<14} {secs:8.2f} {n:8d} {n / max(secs, 1e-9):10.0f}")
        n = timings.steps[0][2]
        print(f"{'total':<14} {total:8.2f} {n:8d} {n / total:10.0f}")
    return 0


if __name__ == "__main__":
    run(main, "bench_data")
