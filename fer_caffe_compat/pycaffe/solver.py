"""caffe.get_solver and the solver classes (SGDSolver ... AdamSolver) over the project's own Solver.

A pycaffe solver is a front: every iteration is ``fer_caffe_compat.solver.Solver.step``, the loop tools/train
runs, with its arithmetic, its glog lines (parse_log.sh reads a pycaffe run's log) and its extensions.
What Caffe's _caffe.cpp exposes is here: ``net``, ``test_nets``, ``iter``, ``param``, ``lr``, ``step(n)``,
``solve(resume_file=None)``, ``snapshot()``, ``restore(path)``, ``apply_update()``, ``add_callback(on_start,
on_gradients_ready)``, ``share_weights(net)``.

As in Caffe: ``get_solver(path)`` returns the class of the file's type; ``<X>Solver(path)`` runs X whatever
the file says (SGDSolver on an Adam file runs SGD). The solver runs on the device of ``caffe.set_mode_*``
(the file's solver_mode is for the ``caffe`` tool, as in Caffe). A solver's test net keeps the weights it
was built with until the solver itself runs a test (test_interval), which shares the train net's weights.
Unlike Caffe, a bad solver file raises one CaffeError naming the file instead of aborting the process.
"""
from __future__ import annotations

import os

from fer_caffe_compat.proto import caffe_pb2, read_prototxt
from fer_caffe_compat.solver import updates
from fer_caffe_compat.solver.solver import Solver as CoreSolver

from .common import NCCL, device
from .net import Net

__all__ = ["Solver", "SGDSolver", "NesterovSolver", "AdaGradSolver", "RMSPropSolver", "AdaDeltaSolver",
           "AdamSolver", "get_solver", "NetVec"]


class NetVec(list):
    """Caffe's NetVec (solver.test_nets): a list of Nets."""


def _read_param(filename) -> tuple[caffe_pb2.SolverParameter, str]:
    path = os.fspath(filename)
    return read_prototxt(path, caffe_pb2.SolverParameter()), path


class Solver:
    """Caffe's Solver as pycaffe binds it; build one with ``get_solver`` or a ``<Type>Solver`` class."""

    _type: str | None = None  # the update rule a class runs, whatever the file's type

    def __init__(self, filename):
        if self._type is None:
            raise TypeError("caffe.Solver cannot be built directly: use caffe.get_solver(path) or a "
                            "<Type>Solver(path) class")
        param, path = _read_param(filename)
        # The class's rule replaces the file's, as each C++ constructor does (the legacy enum goes too).
        param.ClearField("solver_type")
        param.type = self._type
        self._build(param, path)

    def _build(self, param: caffe_pb2.SolverParameter, path: str) -> None:
        self._core = CoreSolver(param, path, device=device())
        self._wrappers: dict[int, tuple[tuple[int, ...], Net]] = {}

    @classmethod
    def _from_param(cls, param: caffe_pb2.SolverParameter, path: str) -> "Solver":
        solver = cls.__new__(cls)
        solver._build(param, path)
        return solver

    # -- the nets ------------------------------------------------------------------------------------------
    def _wrap(self, core_net) -> Net:
        """One caffe.Net per core net, made again when the core net's parameters were replaced (the solver's
        test shares the train net's parameters into its test nets)."""
        key = tuple(id(b) for layer in core_net.layers for b in layer.blobs)
        cached = self._wrappers.get(id(core_net))
        if cached is None or cached[0] != key:
            cached = self._wrappers[id(core_net)] = (key, Net._from_core(core_net))
        return cached[1]

    @property
    def net(self) -> Net:
        return self._wrap(self._core.net)

    @property
    def test_nets(self) -> NetVec:
        return NetVec(self._wrap(n) for n in self._core.test_nets)

    @property
    def iter(self) -> int:
        return self._core.iter

    @property
    def param(self) -> caffe_pb2.SolverParameter:
        """The solver's own SolverParameter: writing ``base_lr`` changes the next update, as in pycaffe."""
        return self._core.param

    @property
    def lr(self) -> float:
        """The learning rate at the current iteration (SGDSolver::GetLearningRate)."""
        return float(self._core.learning_rate)

    # -- running -------------------------------------------------------------------------------------------
    def step(self, iters: int) -> None:
        self._core.step(int(iters))

    def solve(self, resume_file: str | None = None) -> None:
        self._core.solve(os.fspath(resume_file) if resume_file is not None else None)

    def snapshot(self) -> None:
        self._core.snapshot()

    def restore(self, state_file) -> None:
        """Weights, history and iter from a .solverstate; the Data layers read on from where they are."""
        self._core.restore(os.fspath(state_file))

    def apply_update(self) -> None:
        """ApplyUpdate on the diffs the net holds (after net.forward() / net.backward()), then ++iter, as
        Caffe master's ApplyUpdate; the diffs then hold the update applied."""
        p = self._core.param
        self._core.update(bool(p.display) and self._core.iter % p.display == 0)

    def add_callback(self, on_start, on_gradients_ready=None) -> None:
        """Called with no arguments in every iteration: ``on_start`` before the forward pass,
        ``on_gradients_ready`` before the update. ``add_callback(nccl)`` (one argument, a caffe.NCCL) adds
        that NCCL's hooks, as train.py does."""
        if on_gradients_ready is None and isinstance(on_start, NCCL):
            on_start, on_gradients_ready = on_start.on_start, on_start.on_gradients_ready
        if not (callable(on_start) and callable(on_gradients_ready)):
            raise TypeError("add_callback(on_start, on_gradients_ready) takes two callables")
        self._core.add_callback(on_start, on_gradients_ready)

    def share_weights(self, net: Net) -> None:
        """``net`` takes this solver's train net weights (Net::ShareTrainedLayersWith)."""
        net.share_with(self.net)


class SGDSolver(Solver):
    _type = "SGD"


class NesterovSolver(SGDSolver):
    _type = "Nesterov"


class AdaGradSolver(SGDSolver):
    _type = "AdaGrad"


class RMSPropSolver(SGDSolver):
    _type = "RMSProp"


class AdaDeltaSolver(SGDSolver):
    _type = "AdaDelta"


class AdamSolver(SGDSolver):
    _type = "Adam"


_CLASSES = {cls._type: cls for cls in (SGDSolver, NesterovSolver, AdaGradSolver, RMSPropSolver, AdaDeltaSolver,
                                       AdamSolver)}


def get_solver(filename) -> Solver:
    """The solver the file describes, as an instance of its type's class (SolverRegistry::CreateSolver)."""
    param, path = _read_param(filename)
    return _CLASSES[updates.solver_type(param, path)]._from_param(param, path)
