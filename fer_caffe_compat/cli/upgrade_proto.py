"""Caffe's upgrade tools: ``upgrade_net_proto_text IN OUT``, ``upgrade_net_proto_binary IN OUT``,
``upgrade_solver_proto_text IN OUT``.

The nets are upgraded by net_upgrade (what the project applies to every net it loads): V1 ``layers {}``
with enum types become ``layer {}`` with type strings, V1 data layers' transformation fields move to
``transform_param``, net ``input`` fields become an Input layer, BatchNorm's three ParamSpecs get zero
multipliers. A solver's ``solver_type`` enum becomes the ``type`` string. The output is written as Caffe's
C++ writes it (text: cpp_text; binary: the serialized message), atomically.

Exit status, as Caffe's: 0 written (also when the input needed no upgrade: "File already in latest proto
format"), 1 wrong argument count, 2 input unreadable or not a NetParameter / SolverParameter. A file
Caffe's upgrade refuses (``layer`` and ``layers`` both, ``solver_type`` and ``type`` both) and a V0 net
(``layers { layer {} }``, Caffe's 2013 format, not implemented) end in one error line, exit 1, no output.
"""
from __future__ import annotations

import sys
from typing import Callable

from .. import log
from ..errors import CaffeError
from ..fsutil import write_bytes_atomic, write_text_atomic
from ..net_upgrade import SOLVER_TYPE_NAMES, upgrade_net_param
from ..proto import caffe_pb2, read_binary, read_prototxt
from ..proto.cpp_text import to_text
from .common import run

NET_FORMAT = "latest proto format"


def net_needs_upgrade(p: caffe_pb2.NetParameter) -> bool:
    """NetNeedsUpgrade: V0 or V1 layers, input fields, or BatchNorm layers with three ParamSpecs."""
    return (len(p.layers) > 0 or len(p.input) > 0
            or any(lp.type == "BatchNorm" and len(lp.param) == 3 for lp in p.layer))


def upgrade_net(p: caffe_pb2.NetParameter, source: str) -> None:
    if any(v1.HasField("layer") for v1 in p.layers):
        raise CaffeError(f"{source}: a V0 net (layers {{ layer {{ ... }} }}, Caffe's 2013 format): upgrading it "
                         "is not supported; upgrade it with a Caffe of 2014-2017 (upgrade_net_proto_text)")
    upgrade_net_param(p, source)


def upgrade_solver(p: caffe_pb2.SolverParameter, source: str) -> None:
    """UpgradeSolverAsNeeded: the solver_type enum becomes the type string."""
    log.info("upgrade_proto.cpp:1067", "Attempting to upgrade input file specified using deprecated "
             f"'solver_type' field (enum)': {source}")
    if p.HasField("type"):
        raise CaffeError(f"{source}: Failed to upgrade solver: old solver_type field (enum) and new type field "
                         "(string) cannot be both specified in solver proto text.")
    p.type = SOLVER_TYPE_NAMES[p.solver_type]
    p.ClearField("solver_type")
    log.info("upgrade_proto.cpp:1074", "Successfully upgraded file specified using deprecated 'solver_type' "
             "field (enum) to 'type' field (string).")
    log.warning("upgrade_proto.cpp:1076", "Note that future Caffe releases might remove 'solver_type' field "
                "(enum) and only support 'type' field (string) for solver type.")


def _tool(tool: str, argv: list[str], usage: str, message, read: Callable, needs: Callable[..., bool],
          upgrade: Callable, write: Callable, wrote: str, already: str) -> int:
    """The upgrade tools' common main: read IN, upgrade if needed, write OUT."""
    cpp = f"{tool}.cpp"
    if len(argv) != 2:
        log.error(f"{cpp}:22", f"Usage: {tool} {usage}")
        return 1
    src, dst = argv
    kind = "text" if read is read_prototxt else "binary"
    try:
        param = read(src, message)
    except CaffeError as e:
        log.error(f"{cpp}:30", f"Failed to parse input {kind} file as {message.DESCRIPTOR.name}: {e}")
        return 2
    if needs(param):
        upgrade(param, src)
    else:
        log.error(f"{cpp}:44", f"File already in {already}: {src}")
    write(dst, param)
    (log.error if kind == "binary" else log.info)(f"{cpp}:54", f"{wrote} to {dst}")
    return 0


def _net_text(argv: list[str]) -> int:
    return _tool("upgrade_net_proto_text", argv, "v0_net_proto_file_in net_proto_file_out",
                 caffe_pb2.NetParameter(), read_prototxt, net_needs_upgrade, upgrade_net,
                 lambda path, p: write_text_atomic(path, to_text(p)),
                 "Wrote upgraded NetParameter text proto", NET_FORMAT)


def _net_binary(argv: list[str]) -> int:
    return _tool("upgrade_net_proto_binary", argv, "v0_net_proto_file_in net_proto_file_out",
                 caffe_pb2.NetParameter(), read_binary, net_needs_upgrade, upgrade_net,
                 lambda path, p: write_bytes_atomic(path, p.SerializeToString()),
                 "Wrote upgraded NetParameter binary proto", NET_FORMAT)


def _solver_text(argv: list[str]) -> int:
    return _tool("upgrade_solver_proto_text", argv, "old_solver_proto_file_in solver_proto_file_out",
                 caffe_pb2.SolverParameter(), read_prototxt, lambda p: p.HasField("solver_type"),
                 upgrade_solver, lambda path, p: write_text_atomic(path, to_text(p)),
                 "Wrote upgraded SolverParameter text proto", NET_FORMAT)


def net_text() -> None:
    run(_net_text, "upgrade_net_proto_text")


def net_binary() -> None:
    run(_net_binary, "upgrade_net_proto_binary")


def solver_text() -> None:
    run(_solver_text, "upgrade_solver_proto_text")


TOOLS = {"upgrade_net_proto_text": net_text, "upgrade_net_proto_binary": net_binary,
         "upgrade_solver_proto_text": solver_text}

if __name__ == "__main__":  # tools/<tool> runs ``-m fer_caffe_compat.cli.upgrade_proto <tool> IN OUT``
    TOOLS[sys.argv.pop(1)]()
