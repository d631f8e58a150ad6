"""A NetParameter as a graphviz picture, exactly as Caffe's python/caffe/draw.py drew it.

Layers are record boxes labelled with name and type (and kernel/stride/pad for convolution and pooling,
optionally the learning rate multipliers), coloured by type (convolution red, pooling orange, inner product
purple, in-place layers green, others blue); blobs that some layer reads are grey octagons, blobs only
written are plain ellipses; edges run bottom -> layer -> top, the top edge labelled with num_output or
the Data batch size. The DOT text is character for character what Caffe's pydot 4 graph printed
(``to_string``), and pictures come from graphviz's ``dot -T<ext>`` as pydot's ``create`` made them, so
caffe.draw and tools/draw_net give Caffe's files without pydot.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from ..errors import CaffeError
from ..fsutil import atomic_path
from ..proto import caffe_pb2

RANKDIRS = ("LR", "TB", "BT", "RL")
DPI = 96  # graphviz's default PNG resolution (Caffe's graph sets none); pads the drawing by 4 points a side
_LAYER = {"shape": "record", "fillcolor": "#6495ED", "style": "filled"}
_NEURON = {"shape": "record", "fillcolor": "#90EE90", "style": "filled"}
_BLOB = {"shape": "octagon", "fillcolor": "#E0E0E0", "style": "filled"}
_COLOURS = {"Convolution": "#FF5050", "Deconvolution": "#FF5050", "Pooling": "#FF9900",
            "InnerProduct": "#CC33FF"}
_LEARNING = ("Convolution", "Deconvolution", "InnerProduct")

# pydot's rules for when an ID or attribute value may stay unquoted in DOT text
_KEYWORDS = ("graph", "subgraph", "digraph", "node", "edge", "strict")
_NUMERIC = re.compile(r"^([0-9]+\.?[0-9]*|[0-9]*\.[0-9]+)$")
_QUOTED = re.compile(r'^".*"$', re.S)
_HTML = re.compile(r"^<.*>$", re.S)
_ALNUM_ID = re.compile(r"^[_a-zA-Z][a-zA-Z0-9_]*$")


class DrawError(CaffeError, ValueError):
    """Bad input to the drawing (a ValueError, as Caffe's draw.py raised; one line from tools/draw_net)."""


def _quoted(s: str) -> str:
    return '"' + s.replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def _plain(s: str) -> bool | None:
    """True/False when the text alone decides whether ``s`` may stay unquoted; None when undecided."""
    if s.isdigit():
        return True
    if s.isalnum():
        return not s[0].isdigit()
    if any(ord(c) > 0x7F or c == "\0" for c in s):
        return bool(_QUOTED.match(s) or _HTML.match(s))
    if _NUMERIC.match(s) or _QUOTED.match(s) or _HTML.match(s):
        return True
    return None


def quote_id(s: str) -> str:
    """A node or graph name as DOT text. Keywords are always quoted (pydot left a node named ``node``
    bare, which DOT reads as the default-node statement)."""
    if not s:
        return '""'
    if s.lower() in _KEYWORDS:
        return _quoted(s)
    plain = _plain(s)
    return s if plain or (plain is None and _ALNUM_ID.match(s)) else _quoted(s)


def quote_attr(s: str) -> str:
    if s == "":
        return '""'
    if s.lower() in _KEYWORDS:
        return _quoted(s)
    return s if _plain(s) else _quoted(s)


def _attrs(attrs: dict[str, str]) -> str:
    return " [" + ", ".join(f"{k}={quote_attr(v)}" for k, v in attrs.items()) + "]" if attrs else ""


@dataclass
class Node:
    name: str
    attrs: dict[str, str] = field(default_factory=dict)

    def get_name(self) -> str:
        return self.name

    def to_string(self) -> str:
        return f"{quote_id(self.name)}{_attrs(self.attrs)};"


@dataclass
class Edge:
    src: str
    dst: str
    attrs: dict[str, str] = field(default_factory=dict)

    def get_source(self) -> str:
        return self.src

    def get_destination(self) -> str:
        return self.dst

    def to_string(self) -> str:
        return f"{quote_id(self.src)} -> {quote_id(self.dst)}{_attrs(self.attrs)};"


@dataclass
class Dot:
    """The graph Caffe built with pydot: the same DOT text (``to_string``) and pictures (``create``)."""
    name: str
    rankdir: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def get_name(self) -> str:
        return self.name

    def get_nodes(self) -> list[Node]:
        return list(self.nodes)

    def get_edges(self) -> list[Edge]:
        return list(self.edges)

    def to_string(self) -> str:
        lines = [f"digraph {quote_id(self.name)} {{", f"rankdir={quote_attr(self.rankdir)};"]
        lines += [n.to_string() for n in self.nodes] + [e.to_string() for e in self.edges]
        return "\n".join(lines) + "\n}\n"

    def create(self, format: str = "ps", prog: str = "dot") -> bytes:  # noqa: A002 (pydot's keyword)
        """The picture as graphviz writes it (``dot -T<format>``); ``raw`` is the DOT text itself."""
        text = self.to_string().encode("utf-8")
        if format == "raw":
            return text
        exe = shutil.which(prog)
        if exe is None:
            raise CaffeError(f"graphviz's `{prog}` program is not installed "
                             "(apt-get install graphviz, or make system-deps)")
        proc = subprocess.run([exe, f"-T{format}"], input=text, capture_output=True)
        if proc.returncode != 0:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise CaffeError(f"{prog} -T{format} failed: {err[0] if err else 'exit ' + str(proc.returncode)}")
        return proc.stdout

    def write(self, path: str | os.PathLike, prog: str = "dot", format: str = "raw") -> bool:  # noqa: A002
        data = self.create(format, prog)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)
        return True


def _lr_mults(layer: caffe_pb2.LayerParameter) -> tuple[float, float]:
    if len(layer.param) > 2:
        raise DrawError(f"layer {layer.name}: could not parse the learning rate multipliers "
                        f"({len(layer.param)} param specs)")
    mults = [p.lr_mult for p in layer.param] + [1.0, 1.0]
    return mults[0], mults[1]


def layer_label(layer: caffe_pb2.LayerParameter, rankdir: str, display_lrm: bool = False) -> str:
    # vertical graphs have room across: one line; horizontal graphs stack the parts (DOT's \n)
    sep = " " if rankdir in ("TB", "BT") else "\\n"
    parts = [layer.name]
    if layer.type == "Pooling":
        pool = caffe_pb2.PoolingParameter.PoolMethod.Name(layer.pooling_param.pool)
        parts.append(f"({layer.type} {pool})")
    else:
        parts.append(f"({layer.type})")
    if layer.type == "Pooling":
        p = layer.pooling_param
        k, s, pad = p.kernel_size, p.stride, p.pad
    elif layer.type in ("Convolution", "Deconvolution"):
        p = layer.convolution_param
        k = p.kernel_size[0] if len(p.kernel_size) else 1
        s = p.stride[0] if len(p.stride) else 1
        pad = p.pad[0] if len(p.pad) else 0
    if layer.type in ("Pooling", "Convolution", "Deconvolution"):
        parts.append(sep.join([f"kernel size: {k}", f"stride: {s}", f"pad: {pad}"]))
    if display_lrm and layer.type in _LEARNING:
        lrm0, lrm1 = _lr_mults(layer)
        if lrm0 or lrm1:
            parts.append(f"lr mult: {lrm0:.1f}, {lrm1:.1f}")
    return '"' + sep.join(parts) + '"'  # already quoted: the colons stay text


def edge_label(layer: caffe_pb2.LayerParameter) -> str:
    if layer.type == "Data":
        return f"Batch {layer.data_param.batch_size}"
    if layer.type in ("Convolution", "Deconvolution"):
        return str(layer.convolution_param.num_output)
    if layer.type == "InnerProduct":
        return str(layer.inner_product_param.num_output)
    return '""'


def in_phase(layer: caffe_pb2.LayerParameter, phase: int | None) -> bool:
    """draw.py's phase test: only the rules' phase is read, and a rule without one counts as TRAIN."""
    if phase is None:
        return True
    if layer.include and layer.exclude:
        raise DrawError(f"layer {layer.name} has both include and exclude specified.")
    included = not layer.include or any(r.phase == phase for r in layer.include)
    return included and not any(r.phase == phase for r in layer.exclude)


def get_graph(net: caffe_pb2.NetParameter, rankdir: str = "LR", label_edges: bool = True,
              phase: int | None = None, display_lrm: bool = False) -> Dot:
    """The graph of ``net``'s layers (those of ``phase``; all when None)."""
    if rankdir not in RANKDIRS:
        raise DrawError(f"rankdir {rankdir!r}: expected one of {', '.join(RANKDIRS)}")
    # one node per key, in the order keys first appear; a later layer's node replaces an earlier one
    # (a blob read after it was written becomes an octagon)
    nodes: dict[str, Node] = {}
    edges: list[tuple[str, str, str]] = []
    for layer in net.layer:
        if not in_phase(layer, phase):
            continue
        key = f"{layer.name}_{layer.type}"
        inplace = len(layer.bottom) == 1 and len(layer.top) == 1 and layer.bottom[0] == layer.top[0]
        style = _NEURON if inplace else dict(_LAYER, fillcolor=_COLOURS.get(layer.type, _LAYER["fillcolor"]))
        nodes[key] = Node(layer_label(layer, rankdir, display_lrm), dict(style))
        for b in layer.bottom:
            nodes[b + "_blob"] = Node(b, dict(_BLOB))
            edges.append((b + "_blob", key, '""'))
        for t in layer.top:
            nodes[t + "_blob"] = Node(t)
            edges.append((key, t + "_blob", edge_label(layer) if label_edges else '""'))
    return Dot(net.name or "Net", rankdir, list(nodes.values()),
               [Edge(nodes[s].name, nodes[d].name, {"label": lab}) for s, d, lab in edges])


def to_dot(net: caffe_pb2.NetParameter, rankdir: str = "LR", phase: int | None = None,
           label_edges: bool = True, display_lrm: bool = False) -> str:
    """The graph in graphviz's DOT language (Caffe's ``get_pydot_graph(...).to_string()``)."""
    return get_graph(net, rankdir, label_edges, phase, display_lrm).to_string()


def render(net: caffe_pb2.NetParameter, out: str | os.PathLike, rankdir: str = "LR",
           phase: int | None = None, display_lrm: bool = False) -> None:
    """Write the picture; the format is the file's extension as Caffe's draw_net_to_file took it (png, svg,
    pdf, dot (graphviz's laid-out DOT), ...; ``.raw`` is the DOT text itself)."""
    path = os.fspath(out)
    ext = path[path.rfind(".") + 1:] if "." in os.path.basename(path) else "png"
    get_graph(net, rankdir, True, phase, display_lrm).write(path, format=ext)
