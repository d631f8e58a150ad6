"""The ONNX file of a traced deploy net: torch.onnx's exporter, our missing translations, Caffe's blob
names on the graph's inputs and outputs, and the preprocessing as metadata."""
from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from typing import Iterator, Mapping

import onnx
import onnx_ir as ir
import torch

from ..errors import CaffeError
from ..fsutil import write_bytes_atomic
from .onnx_ops import TRANSLATIONS

OPSET = 20
_PROTO_LIMIT = 2**31 - 1  # one protobuf message; larger models would need ONNX external data
_NODE = re.compile(r"call_function\[target=(?:torch\.ops\.)?([\w.]+)\]")


def export_onnx(program: torch.export.ExportedProgram, path: str | os.PathLike, input_names: list[str],
                output_names: list[str], metadata: Mapping[str, str] | None = None, opset: int = OPSET,
                layer_of=None) -> None:
    """Convert ``program`` (see program.trace) and write one self-contained .onnx file atomically.

    ``layer_of(node)`` names the layer an FX node came from, for the one-line error when an op has no
    ONNX translation."""
    try:
        with quiet():
            prog = torch.onnx.export(program, (), dynamo=True, opset_version=opset, optimize=True,
                                     custom_translation_table=TRANSLATIONS, verbose=False)
    except Exception as e:
        raise CaffeError(_conversion_error(e, program, layer_of)) from None
    _name_io(prog.model.graph, input_names, output_names)
    model = prog.model_proto
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=str(v))
    model.producer_name = "fer_caffe_compat"
    if model.ByteSize() > _PROTO_LIMIT:
        raise CaffeError(f"{path}: the model is {model.ByteSize() / 2**30:.1f} GiB, over ONNX's 2 GiB "
                         "single-file limit")
    onnx.checker.check_model(model, full_check=True)  # full: ONNX's own shape inference agrees with ours
    write_bytes_atomic(path, model.SerializeToString())


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """The tracer's and the exporter's notes (progress, guards, optimiser) are not the user's business."""
    loggers = [logging.getLogger(n) for n in ("onnx_ir", "onnxscript", "torch.onnx", "torch.fx", "torch.export",
                                              "torch._export", "torch._dynamo")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def _conversion_error(e: Exception, program, layer_of) -> str:
    """One line: the layer whose op has no translation (found through the failing FX node), else the
    exporter's own summary."""
    text = "\n".join(str(x) for x in (e, e.__cause__) if x is not None)
    m = _NODE.search(text)
    if m and layer_of is not None:
        target = m.group(1)
        for node in program.graph.nodes:
            if node.op == "call_function" and str(node.target).replace("aten::", "aten.") == target:
                where = layer_of(node)
                if where:
                    return f"layer {where}: cannot be exported to ONNX: no ONNX translation of {target}"
    summary = [ln for ln in text.splitlines() if "No ONNX function" in ln or "Error when translating" in ln]
    first = (summary or text.strip().splitlines() or [type(e).__name__])[0]
    return f"cannot be exported to ONNX: {first.strip()}"


def _name_io(graph: ir.Graph, inputs: list[str], outputs: list[str]) -> None:
    """Give the graph's inputs and outputs Caffe's blob names. torch names values after the ops that make
    them ("exp", "relu"); one of those may already hold a wanted name, so it is renamed first. An output
    that is an input, an initializer (a Parameter layer) or another output gets its own Identity node."""
    seen: set[int] = {id(v) for v in graph.inputs}
    for i, v in enumerate(list(graph.outputs)):
        if id(v) in seen or v.is_initializer():
            node = ir.Node("", "Identity", inputs=[v], num_outputs=1)
            graph.append(node)
            node.outputs[0].shape, node.outputs[0].type = v.shape, v.type
            graph.outputs[i] = node.outputs[0]
        seen.add(id(graph.outputs[i]))
    wanted = list(zip(graph.inputs, inputs)) + list(zip(graph.outputs, outputs))
    mine = {id(v) for v, _ in wanted}
    taken = {n for _, n in wanted}
    values = [*graph.inputs, *graph.initializers.values(), *(o for n in graph for o in n.outputs)]
    names = {v.name for v in values}
    for v in values:
        if id(v) not in mine and v.name in taken:
            k = 1
            while f"{v.name}__{k}" in names or f"{v.name}__{k}" in taken:
                k += 1
            v.name = f"{v.name}__{k}"
            names.add(v.name)
    for v, n in wanted:
        v.name = n
