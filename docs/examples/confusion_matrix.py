#!/usr/bin/env python
"""A Caffe-era pycaffe script, as the FER write-ups' confusion_matrix.py was: it uses nothing but `import caffe`,
numpy and lmdb, and runs unchanged on real pycaffe.

Every Datum of an LMDB goes through a deploy net, one forward_all() per batch; the script prints the accuracy and
the confusion matrix (rows: true label, columns: prediction). `make demo` runs it on the demo LeNet and compares
its accuracy with tools/evaluate's.

usage: confusion_matrix.py DEPLOY_PROTOTXT WEIGHTS LMDB MEAN_BINARYPROTO [SCALE] [BATCH]
"""
import sys

import lmdb
import numpy as np

import caffe
from caffe.proto import caffe_pb2


def main(deploy, weights, db, mean_file, scale=0.00390625, batch=100):
    caffe.set_mode_cpu()
    net = caffe.Net(deploy, weights, caffe.TEST)
    blob = caffe_pb2.BlobProto()
    with open(mean_file, "rb") as f:
        blob.ParseFromString(f.read())
    mean = caffe.io.blobproto_to_array(blob)[0]          # (channels, height, width)
    classes = net.blobs[net.outputs[-1]].data.shape[1]
    confusion = np.zeros((classes, classes), dtype=np.int64)

    def run(images, labels):
        out = net.forward_all(data=(np.asarray(images) - mean) * scale)
        for label, p in zip(labels, out[net.outputs[-1]].argmax(axis=1)):
            confusion[label, p] += 1

    images, labels = [], []
    with lmdb.open(db, readonly=True, lock=False) as env, env.begin() as txn:
        for _, value in txn.cursor():
            datum = caffe_pb2.Datum()
            datum.ParseFromString(value)
            images.append(caffe.io.datum_to_array(datum).astype(np.float32))
            labels.append(datum.label)
            if len(images) == batch:
                run(images, labels)
                images, labels = [], []
    if images:
        run(images, labels)

    total = confusion.sum()
    print(f"pycaffe: {total} images, accuracy {np.trace(confusion) / total:.4f}")
    print("confusion matrix (rows: true label, columns: prediction):")
    for row in confusion:
        print(" ".join(f"{n:5d}" for n in row))


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (4, 5, 6):
        sys.exit(__doc__.strip().splitlines()[-1])
    main(*args[:4], *(float(a) for a in args[4:5]), *(int(a) for a in args[5:6]))
