"""Protobuf text format as Caffe's C++ writes it (TextFormat::Print, WriteProtoToTextFile).

Python's text_format prints a float field holding 1 as ``1.0`` and 1e6 as ``1000000.0``; C++ prints the
shortest ``%g`` form that reads back as the same value (SimpleFtoa / SimpleDtoa): ``1``, ``1e+06``.
Everything else (field-number order, two-space indents, enum names, C-escaped strings) is the same.
"""
from __future__ import annotations

import math

import numpy as np
from google.protobuf import text_encoding
from google.protobuf.descriptor import FieldDescriptor as FD
from google.protobuf.message import Message


def float_text(value: float, double: bool = False) -> str:
    """SimpleFtoa (float fields) / SimpleDtoa (double fields)."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if not double:
        value = float(np.float32(value))  # a float field holds a float32 (protobuf hands back its double)
    short, full = (15, 17) if double else (6, 9)
    text = f"{value:.{short}g}"
    same = float(text) == value if double else np.float32(float(text)) == np.float32(value)
    return text if same else f"{value:.{full}g}"


def _scalar(field, value) -> str:
    t = field.type
    if t in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE):
        return float_text(value, t == FD.TYPE_DOUBLE)
    if t == FD.TYPE_BOOL:
        return "true" if value else "false"
    if t == FD.TYPE_ENUM:
        v = field.enum_type.values_by_number.get(value)
        return v.name if v is not None else str(value)
    if t == FD.TYPE_STRING:
        return '"' + text_encoding.CEscape(value.encode("utf-8"), False) + '"'
    if t == FD.TYPE_BYTES:
        return '"' + text_encoding.CEscape(value, False) + '"'
    return str(value)


def to_text(message: Message, indent: int = 0) -> str:
    """The message in C++'s text format (what upgrade_net_proto_text writes)."""
    pad = " " * indent
    out: list[str] = []
    for field, value in message.ListFields():
        items = value if field.is_repeated else [value]
        for item in items:
            if field.type in (FD.TYPE_MESSAGE, FD.TYPE_GROUP):
                out.append(f"{pad}{field.name} {{\n{to_text(item, indent + 2)}{pad}}}\n")
            else:
                out.append(f"{pad}{field.name}: {_scalar(field, item)}\n")
    return "".join(out)
