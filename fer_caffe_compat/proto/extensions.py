"""Which parts of a net or solver are extensions, i.e. would not load in Caffe 1.0.

Extensions are the fields numbered from ``FIRST_EXTENSION_FIELD`` in caffe.proto (Caffe 1.0's parser
refuses an unknown field in a prototxt), plus values Caffe 1.0 refuses at run time: lr policies it does
not know, and the layer types added to Caffe after 1.0 that this project's schema carries.
"""
from __future__ import annotations

from google.protobuf.message import Message

from . import caffe_pb2

FIRST_EXTENSION_FIELD = 10000
EXTENSION_LR_POLICIES = ("cosine", "onecycle")
# Layer types in this schema that Caffe 1.0 (April 2017) did not have yet.
POST_1_0_LAYER_TYPES = ("Clip", "Swish")


def extension_fields(msg: Message, path: str = "") -> list[str]:
    """Dotted paths of every extension field set in ``msg`` (searched recursively)."""
    found: list[str] = []
    for fd, value in msg.ListFields():
        here = f"{path}.{fd.name}" if path else fd.name
        if fd.number >= FIRST_EXTENSION_FIELD:
            found.append(here)
            continue
        if fd.message_type is None:
            continue
        if fd.is_repeated:
            for i, m in enumerate(value):
                found += extension_fields(m, f"{here}[{_item_name(m, i)}]")
        else:
            found += extension_fields(value, here)
    return found


def _item_name(m: Message, i: int) -> str:
    name = getattr(m, "name", "") if hasattr(m, "name") else ""
    return name if isinstance(name, str) and name else str(i)


def net_extensions(net: caffe_pb2.NetParameter) -> list[str]:
    """Extension fields and post-1.0 layer types of a net."""
    found = extension_fields(net)
    for layer in net.layer:
        if layer.type in POST_1_0_LAYER_TYPES:
            found.append(f"layer[{layer.name}].type: {layer.type} (added to Caffe after 1.0)")
    return found


def solver_extensions(solver: caffe_pb2.SolverParameter) -> list[str]:
    """Extension fields and values of the solver itself (its nets are checked with net_extensions)."""
    own = caffe_pb2.SolverParameter()
    own.CopyFrom(solver)
    for which in ("net_param", "train_net_param", "test_net_param"):
        own.ClearField(which)
    found = extension_fields(own)
    if solver.lr_policy in EXTENSION_LR_POLICIES:
        found.append(f"lr_policy: \"{solver.lr_policy}\"")
    return found


def solver_file_extensions(solver_path: str) -> list[str]:
    """Every extension a solver file and the net files it names use, each prefixed by its file."""
    from . import read_prototxt

    solver = read_prototxt(solver_path, caffe_pb2.SolverParameter())
    found = [f"{solver_path}: {x}" for x in solver_extensions(solver)]
    nets: list[tuple[str, caffe_pb2.NetParameter]] = []
    for which in ("net_param", "train_net_param"):
        if solver.HasField(which):
            nets.append((f"{solver_path} {which}", getattr(solver, which)))
    nets += [(f"{solver_path} test_net_param[{i}]", n) for i, n in enumerate(solver.test_net_param)]
    for path in [solver.net, solver.train_net, *solver.test_net]:
        if path:
            nets.append((path, read_prototxt(path, caffe_pb2.NetParameter())))
    seen: set[str] = set()
    for where, net in nets:
        if where in seen:
            continue
        seen.add(where)
        found += [f"{where}: {x}" for x in net_extensions(net)]
    return found
