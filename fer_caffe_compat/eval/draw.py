"""A NetParameter as a graphviz picture, as Caffe's python/draw_net.py drew it.

Layers are boxes (coloured by type: convolution red, pooling orange, inner product purple, in-place
neurons green, others blue) labelled with name and type (and kernel/stride/pad for convolution and pooling);
blobs are grey octagons; edges run bottom -> layer -> top, labelled with num_output or the batch size.
"""
from __future__ import annotations

import os
import shutil
import subprocess

from ..errors import CaffeError
from ..fsutil import atomic_path
from ..proto import caffe_pb2

RANKDIRS = ("LR", "TB", "BT", "RL")
DPI = 96  # PNG pixels per inch; graphviz pads the drawing by 4 points on each side
_COLOURS = {"Convolution": "#FF5050", "Deconvolution": "#FF5050", "Pooling": "#FF9900",
            "InnerProduct": "#CC33FF"}
_NEURON = "#90EE90"
_DEFAULT = "#6495ED"
_BLOB = "#E0E0E0"


def _q(s: str) -> str:
    # DOT's \n escape is a centred line break (Caffe's labels use it between name, type and params)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _first(values, default: int) -> int:
    return int(values[0]) if len(values) else default


def layer_label(layer: caffe_pb2.LayerParameter, rankdir: str) -> str:
    sep = " " if rankdir in ("TB", "BT") else "\n"
    if layer.type in ("Convolution", "Deconvolution"):
        p = layer.convolution_param
        k = _first(p.kernel_size, p.kernel_h or 1)
        s = _first(p.stride, p.stride_h or 1)
        pad = _first(p.pad, p.pad_h)
        return f"{layer.name}{sep}({layer.type}){sep}kernel size: {k}{sep}stride: {s}{sep}pad: {pad}"
    if layer.type == "Pooling":
        p = layer.pooling_param
        pool = caffe_pb2.PoolingParameter.PoolMethod.Name(p.pool)
        k, s, pad = p.kernel_size or p.kernel_h, p.stride or p.stride_h or 1, p.pad or p.pad_h
        return f"{layer.name}{sep}({pool} {layer.type}){sep}kernel size: {k}{sep}stride: {s}{sep}pad: {pad}"
    return f"{layer.name}{sep}({layer.type})"


def edge_label(layer: caffe_pb2.LayerParameter) -> str:
    if layer.type == "Data":
        return f"Batch {layer.data_param.batch_size}"
    if layer.type in ("Convolution", "Deconvolution"):
        return str(layer.convolution_param.num_output)
    if layer.type == "InnerProduct":
        return str(layer.inner_product_param.num_output)
    return ""


def in_phase(layer: caffe_pb2.LayerParameter, phase: int | None) -> bool:
    """draw_net.py's --phase test: only the phase of include/exclude rules is looked at."""
    if phase is None:
        return True
    if layer.include and layer.exclude:
        raise CaffeError(f"layer {layer.name}: has both include and exclude rules")
    if layer.include:
        return any(r.phase == phase for r in layer.include)
    return not any(r.phase == phase for r in layer.exclude)


def to_dot(net: caffe_pb2.NetParameter, rankdir: str = "LR", phase: int | None = None,
           label_edges: bool = True) -> str:
    """The graph in graphviz's DOT language."""
    if rankdir not in RANKDIRS:
        raise CaffeError(f"rankdir {rankdir!r}: expected one of {', '.join(RANKDIRS)}")
    nodes: dict[str, str] = {}
    edges: list[str] = []
    for layer in net.layer:
        if not in_phase(layer, phase):
            continue
        node = _q(f"{layer.name}_{layer.type}")
        inplace = len(layer.bottom) == 1 and len(layer.top) == 1 and layer.bottom[0] == layer.top[0]
        colour = _NEURON if inplace else _COLOURS.get(layer.type, _DEFAULT)
        nodes[node] = f'{node} [label={_q(layer_label(layer, rankdir))}, shape=record, style=filled, ' \
                      f'fillcolor="{colour}"];'
        for b in layer.bottom:
            blob = _q(b + "_blob")
            nodes.setdefault(blob, f'{blob} [label={_q(b)}, shape=octagon, style=filled, fillcolor="{_BLOB}"];')
            edges.append(f"{blob} -> {node};")
        label = edge_label(layer) if label_edges else ""
        for t in layer.top:
            blob = _q(t + "_blob")
            nodes.setdefault(blob, f'{blob} [label={_q(t)}, shape=octagon, style=filled, fillcolor="{_BLOB}"];')
            edges.append(f"{node} -> {blob}" + (f" [label={_q(label)}];" if label else ";"))
    name = _q(net.name or "Net")
    return "\n".join([f"digraph {name} {{", f"rankdir={rankdir};", f"dpi={DPI};", *nodes.values(), *edges, "}", ""])


def render(net: caffe_pb2.NetParameter, out: str | os.PathLike, rankdir: str = "LR",
           phase: int | None = None) -> None:
    """Write the picture; the format is the file's extension (png, svg, pdf, ...; .dot/.raw give DOT text)."""
    dot_text = to_dot(net, rankdir, phase)
    ext = os.path.splitext(os.fspath(out))[1].lstrip(".").lower() or "png"
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    if ext in ("dot", "raw", "gv"):
        with atomic_path(out) as tmp:
            tmp.write_text(dot_text, encoding="utf-8")
        return
    exe = shutil.which("dot")
    if exe is None:
        raise CaffeError("graphviz's `dot` program is not installed (apt-get install graphviz, or make system-deps)")
    with atomic_path(out) as tmp:
        proc = subprocess.run([exe, f"-T{ext}", "-o", str(tmp)], input=dot_text.encode("utf-8"),
                              capture_output=True)
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CaffeError(f"{out}: dot failed: {err[0] if err else 'exit ' + str(proc.returncode)}")
