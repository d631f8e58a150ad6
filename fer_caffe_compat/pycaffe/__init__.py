"""pycaffe's interface (``import caffe``) over this project's Net and Solver.

Installed under the import name ``caffe`` (setup.py's package_dir mapping). A front only: the numerics
live in ``fer_caffe_compat.net``, ``solver/``, ``io/`` and ``eval/``.
"""
from . import io  # noqa: E402  caffe.io (Transformer, load_image, Datum/BlobProto helpers)
from .common import (NCCL, TEST, TRAIN, Timer, __version__, has_nccl, init_log,  # noqa: E402,F401
                     layer_type_list, log, set_device, set_mode_cpu, set_mode_gpu, set_multiprocess,
                     set_random_seed, set_solver_count, set_solver_rank, solver_count, solver_rank)
from .net_spec import NetSpec, layers, params, to_proto  # noqa: E402,F401
from .blob import Blob  # noqa: E402,F401
from .layer import Layer  # noqa: E402,F401
from .net import Net  # noqa: E402,F401
from .classifier import Classifier  # noqa: E402,F401
from .detector import Detector  # noqa: E402,F401
from .solver import (AdaDeltaSolver, AdaGradSolver, AdamSolver, NesterovSolver, RMSPropSolver,  # noqa: E402,F401
                     SGDSolver, get_solver)
