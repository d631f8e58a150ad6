"""Inverse-frequency class weights (Keras' ``class_weight="balanced"``) as an InfogainLoss H matrix.

Keras multiplies sample i's cross-entropy by ``w[y_i]`` and averages over the batch. Caffe's InfogainLoss
computes ``-sum_j H[y_i, j] log p_ij``, normalised by the batch (VALID, no ignore_label), so a diagonal
``H = diag(w)`` gives exactly Keras' weighted loss. ``w_k = n / (K * n_k)`` is scikit-learn's
``compute_class_weight("balanced")``, which Keras' own "balanced" follows.
"""
from __future__ import annotations

import os

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from ..errors import CaffeError
from ..io import db as lmdb_io
from ..io.blob import write_blob_file


def db_labels(db: str | os.PathLike) -> np.ndarray:
    """The label of every Datum of an LMDB, in key order (images are not decoded)."""
    labels = [lmdb_io.parse_datum(value, f"{db}: record {key!r}").label for key, value in lmdb_io.iter_records(db)]
    if not labels:
        raise CaffeError(f"{db}: the database is empty")
    return np.asarray(labels, dtype=np.int64)


def balanced_weights(labels: np.ndarray, num_classes: int | None = None, source: str = "labels") -> np.ndarray:
    """``n / (K * n_k)`` for k in 0..K-1 (K: ``num_classes``, else the largest label + 1), float64."""
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if labels.size == 0:
        raise CaffeError(f"{source}: no labels")
    if labels.min() < 0:
        raise CaffeError(f"{source}: negative label {int(labels.min())}")
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if labels.max() >= k:
        raise CaffeError(f"{source}: label {int(labels.max())} is outside {k} classes")
    counts = np.bincount(labels, minlength=k)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise CaffeError(f"{source}: class {int(empty[0])} has no sample, so its inverse-frequency weight "
                         f"is undefined")
    return compute_class_weight("balanced", classes=np.arange(k), y=labels)


def infogain_matrix(weights: np.ndarray) -> np.ndarray:
    """The K x K InfogainLoss matrix that weights class k's cross-entropy by ``weights[k]``."""
    return np.diag(np.asarray(weights, dtype=np.float32))


def write_infogain(path: str | os.PathLike, h: np.ndarray) -> None:
    """H as a BlobProto of shape 1 x 1 x K x K (how Caffe's InfogainLoss examples store it), atomically."""
    write_blob_file(path, np.asarray(h, dtype=np.float32).reshape(1, 1, *h.shape))
