"""The .solverstate file (SolverState): iteration, learned_net, history blobs, current_step.

History is one BlobProto per learnable blob in the net's learnable order; AdaDelta and Adam keep two
sets (all first-set blobs, then all second-set blobs), exactly as Caffe's SGDSolver::history_.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import CaffeError
from ..io.blob import array_to_blob, blob_shape, blob_to_array
from ..proto import caffe_pb2, read_binary, write_binary


@dataclass
class SolverState:
    iter: int = 0
    learned_net: str = ""
    history: list[np.ndarray] = field(default_factory=list)
    current_step: int = 0
    raw_weights: list[np.ndarray] = field(default_factory=list)  # extension: see SolverState.raw_weights


def write_state(path: str | os.PathLike, state: SolverState) -> None:
    """Write a .solverstate atomically, as SGDSolver::SnapshotSolverStateToBinaryProto."""
    msg = caffe_pb2.SolverState(iter=state.iter, learned_net=state.learned_net,
                                current_step=state.current_step)
    for h in state.history:
        msg.history.append(array_to_blob(np.asarray(h, dtype=np.float32)))
    for w in state.raw_weights:
        msg.raw_weights.append(array_to_blob(np.asarray(w, dtype=np.float32)))
    write_binary(path, msg)


def read_state(path: str | os.PathLike, shapes: Sequence[tuple[int, ...]] | None = None) -> SolverState:
    """Read a .solverstate; with ``shapes`` (the expected history shapes) check that it fits the net.

    Caffe checks only the number of blobs ("Incorrect length of history blobs") and silently reshapes;
    here a blob whose element count differs is also an error, naming the blob.
    """
    msg = read_binary(path, caffe_pb2.SolverState())
    hist = [blob_to_array(b, f"{path}: history[{i}]") for i, b in enumerate(msg.history)]
    if shapes is not None:
        if len(hist) != len(shapes):
            raise CaffeError(f"{path}: solverstate has {len(hist)} history blobs, the net and solver "
                             f"need {len(shapes)}: it does not match this net/solver type")
        for i, (h, want) in enumerate(zip(hist, shapes)):
            if h.size != int(np.prod(want)):
                raise CaffeError(f"{path}: history[{i}] has shape {blob_shape(msg.history[i])}, "
                                 f"the net's learnable blob {i} has shape {tuple(want)}")
            hist[i] = h.reshape(want)
    raw = [blob_to_array(b, f"{path}: raw_weights[{i}]") for i, b in enumerate(msg.raw_weights)]
    return SolverState(iter=msg.iter, learned_net=msg.learned_net, history=hist,
                       current_step=msg.current_step, raw_weights=raw)
