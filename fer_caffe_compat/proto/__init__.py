"""Caffe's protobuf schema and the text/binary load and save helpers."""
from __future__ import annotations

import os
from typing import TypeVar

from google.protobuf import text_format
from google.protobuf.message import DecodeError, Message

from ..errors import CaffeError
from ..fsutil import write_bytes_atomic, write_text_atomic
from . import caffe_pb2

__all__ = ["caffe_pb2", "read_prototxt", "parse_prototxt", "read_binary", "write_binary", "write_prototxt"]

M = TypeVar("M", bound=Message)


def parse_prototxt(text: str, message: M, source: str = "<string>") -> M:
    """Parse protobuf text format into ``message``; a syntax error names source:line:column."""
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as e:
        line, col = e.GetLine(), e.GetColumn()
        where = f"{source}:{line}:{col}" if line is not None else source
        msg = str(e)
        # ParseError's text starts with "line:col : "; keep only the reason.
        if " : " in msg:
            msg = msg.split(" : ", 1)[1]
        raise CaffeError(f"{where}: {msg}") from None
    return message


def read_prototxt(path: str | os.PathLike, message: M) -> M:
    """Read a text-format file (a net or solver prototxt) into ``message``."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise CaffeError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise CaffeError(f"{path}: not a text prototxt (not UTF-8)") from None
    return parse_prototxt(text, message, str(path))


def read_binary(path: str | os.PathLike, message: M) -> M:
    """Read a binary protobuf file (.caffemodel, .solverstate, .binaryproto) into ``message``."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise CaffeError(f"{path}: cannot read: {e.strerror}") from None
    try:
        message.ParseFromString(data)
    except DecodeError as e:
        raise CaffeError(f"{path}: not a valid {message.DESCRIPTOR.name} ({e})") from None
    return message


def write_binary(path: str | os.PathLike, message: Message) -> None:
    """Serialize ``message`` to ``path`` atomically."""
    write_bytes_atomic(path, message.SerializeToString())


def write_prototxt(path: str | os.PathLike, message: Message) -> None:
    write_text_atomic(path, text_format.MessageToString(message))
