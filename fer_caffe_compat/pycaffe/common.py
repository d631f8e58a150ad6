"""The module level of ``import caffe``: mode and device, seeds, the layer list, logging, solver counts.

Caffe kept these as process-wide state in its ``Caffe`` singleton (``Caffe::set_mode``, ``set_device``,
``set_random_seed``, ``solver_count``...). Here they are module state the rest of pycaffe reads:
pycaffe's Net builds on ``device()``, so ``caffe.set_mode_gpu()`` makes nets built afterwards run on the
GPU. Where CUDA is missing Caffe's CPU-only build aborted at first use; here ``set_mode_gpu()`` /
``set_device()`` print one warning line and everything runs on the CPU.
"""
from __future__ import annotations

import random
import secrets
import time

import numpy as np
import torch

from fer_caffe_compat import log as glog
from fer_caffe_compat.layers import known_types
from .proto import caffe_pb2

__all__ = ["TRAIN", "TEST", "__version__", "set_mode_cpu", "set_mode_gpu", "set_device", "device",
           "set_random_seed", "layer_type_list", "init_log", "log", "has_nccl", "solver_count",
           "set_solver_count", "solver_rank", "set_solver_rank", "set_multiprocess", "multiprocess", "Timer",
           "NCCL"]

__version__ = "1.0.0"
TRAIN: int = caffe_pb2.TRAIN  # plain ints, as pycaffe's (caffe.TRAIN == 0, caffe.TEST == 1)
TEST: int = caffe_pb2.TEST


class _State:
    mode = "CPU"
    device_id = 0
    warned_no_cuda = False
    solver_count = 1
    solver_rank = 0
    multiprocess = False
    min_log_level = 0  # glog's FLAGS_minloglevel for caffe.log(): 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL


_S = _State()


def _warn_no_cuda(what: str) -> None:
    if not _S.warned_no_cuda:
        _S.warned_no_cuda = True
        glog.warning("common.cpp:66", f"{what}: CUDA is not available here (no GPU or no CUDA build of "
                     "PyTorch); running on the CPU")


def set_mode_cpu() -> None:
    _S.mode = "CPU"


def set_mode_gpu() -> None:
    """Nets built from now on run on GPU ``device_id`` (``set_device``); without CUDA, on the CPU."""
    _S.mode = "GPU"
    if not torch.cuda.is_available():
        _warn_no_cuda("set_mode_gpu()")


def set_device(device_id: int) -> None:
    """The GPU that GPU-mode nets use (Caffe's ``Caffe::SetDevice``); it does not switch the mode."""
    device_id = int(device_id)
    if not torch.cuda.is_available():
        _warn_no_cuda(f"set_device({device_id})")
    elif not 0 <= device_id < torch.cuda.device_count():
        raise ValueError(f"set_device({device_id}): no such GPU ({torch.cuda.device_count()} visible)")
    else:
        torch.cuda.set_device(device_id)
    _S.device_id = device_id


def device() -> torch.device:
    """Where a net built now runs: ``cuda:<device_id>`` in GPU mode with CUDA present, else the CPU."""
    if _S.mode == "GPU" and torch.cuda.is_available():
        return torch.device("cuda", _S.device_id)
    return torch.device("cpu")


def set_random_seed(seed: int) -> None:
    """Seed the generators Caffe's RNG stood for: fillers and dropout (torch, CPU and CUDA) and the data
    layers' crops and mirrors (drawn from torch, numpy and random), as a solver's ``random_seed`` does."""
    seed = int(seed)
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def layer_type_list() -> list[str]:
    """The registered layer type names in Caffe's order (its registry's std::map: byte order).

    "Python" is listed as in a WITH_PYTHON_LAYER build; types the project does not implement (HDF5Data,
    HDF5Output, WindowData) are not.
    """
    return sorted(set(known_types()) | {"Python"}, key=lambda s: s.encode("utf-8"))


def init_log(level: int = 0, stderr: bool = True) -> None:
    """glog's setup: ``level`` is the least severity ``caffe.log`` prints (0 INFO ... 3 FATAL). Calling
    it again only changes the level (Caffe aborted on a second InitGoogleLogging). Lines always go to
    stderr, as every tool of the project writes them."""
    _S.min_log_level = int(level)


def log(message: str) -> None:
    """One INFO line in glog's format, as pycaffe's ``caffe.log`` (``LOG(INFO) << s``)."""
    if _S.min_log_level <= 0:
        glog.info("_caffe.cpp:68", str(message))


def has_nccl() -> bool:
    """False: multi-GPU runs go through torch.distributed (tools/caffe train -gpu 0,1), not NCCL objects."""
    return False


class NCCL:
    """Caffe's NCCL for the one-solver run BVLC's python/train.py makes with ``--gpus 0``.

    A Caffe built without NCCL had no ``new_uid``/``bcast``, so train.py failed at its first line. With one
    solver there is nothing to broadcast or reduce, so here ``new_uid()`` gives an opaque session id (bytes,
    as Caffe's Python 3 binding), ``bcast()`` does nothing, and the object is accepted where train.py hands
    it to ``solver.add_callback(nccl)`` and ``net.after_backward(nccl)``. Several solvers (solver_count > 1,
    ``--gpus 0 1``) would each train alone without the gradient sum, so ``bcast()`` refuses them: multi-GPU
    training is ``caffe train -gpu 0,1`` (torch.distributed).
    """

    def __init__(self, solver: object, uid: bytes | str) -> None:
        self.solver, self.uid = solver, uid

    @staticmethod
    def new_uid() -> bytes:
        """A fresh session id of NCCL_UNIQUE_ID_BYTES (128) bytes, with no NUL (Caffe's bytes stop at one)."""
        return secrets.token_hex(64).encode("ascii")

    def bcast(self) -> None:
        """NCCL::Broadcast of rank 0's weights: nothing to do for one solver."""
        if _S.solver_count > 1:
            raise RuntimeError(f"caffe.NCCL: {_S.solver_count} solvers (set_solver_count) need NCCL, which this "
                               "build lacks; train on several GPUs with `caffe train -gpu 0,1` instead")

    # The Solver::Callback and Net after_backward hooks NCCL was: with one solver no gradients to sum.
    def on_start(self) -> None:
        pass

    def on_gradients_ready(self) -> None:
        pass

    def __call__(self, layer: int) -> None:
        pass


def solver_count() -> int:
    return _S.solver_count


def set_solver_count(count: int) -> None:
    _S.solver_count = int(count)


def solver_rank() -> int:
    return _S.solver_rank


def set_solver_rank(rank: int) -> None:
    _S.solver_rank = int(rank)


def set_multiprocess(value: bool) -> None:
    _S.multiprocess = bool(value)


def multiprocess() -> bool:
    return _S.multiprocess


class Timer:
    """Caffe's Timer: ``start()``, ``stop()``, ``ms`` (milliseconds between them; 0 before any run). On the
    GPU the CUDA work is waited for at both ends, as Caffe's event timer measured it."""

    def __init__(self) -> None:
        self._start = self._stop = 0.0
        self._running = self._ran = False

    def _sync(self) -> None:
        if device().type == "cuda":
            torch.cuda.synchronize()

    def start(self) -> None:
        if not self._running:
            self._sync()
            self._start, self._running, self._ran = time.perf_counter(), True, True

    def stop(self) -> None:
        if self._running:
            self._sync()
            self._stop, self._running = time.perf_counter(), False

    @property
    def ms(self) -> float:
        if not self._ran:
            return 0.0
        self.stop()
        return (self._stop - self._start) * 1000.0
