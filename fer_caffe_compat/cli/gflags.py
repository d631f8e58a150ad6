"""Caffe's command lines as gflags parses them, for the tools that stand in for Caffe's binaries (caffe).

gflags accepts ``-flag value``, ``-flag=value``, ``--flag value`` and ``--flag=value`` anywhere on the line;
a boolean flag is ``-flag``, ``-noflag`` or ``-flag=true|false``; ``--`` ends the flags. Every other
argument is kept, in order. A line gflags refuses ends the program with its one ``ERROR: ...`` line and
exit status 1 (``FlagError`` carries that line).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_LINE = 80  # gflags wraps a flag's description before this column
INT32 = (-2**31, 2**31 - 1)


class FlagError(Exception):
    """A command line gflags refuses; str() is gflags' own message (without its ``ERROR: `` prefix)."""


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str  # "string", "int32" or "bool"
    default: str | int | bool
    help: str
    shown: bool = True  # listed in the usage text (the program's own flags, not glog's)


Values = dict[str, "str | int | bool"]


def parse(argv: Sequence[str], flags: Sequence[Flag]) -> tuple[Values, list[str]]:
    """gflags' ParseCommandLineFlags(remove_flags=true): the flag values and the other arguments."""
    by_name = {f.name: f for f in flags}
    values: Values = {f.name: f.default for f in flags}
    rest: list[str] = []
    i = 0
    while i < len(argv):
        a = argv[i]
        i += 1
        if a == "--":
            rest.extend(argv[i:])
            break
        if not a.startswith("-") or a == "-":
            rest.append(a)
            continue
        name, eq, value = (a[2:] if a.startswith("--") else a[1:]).partition("=")
        flag = by_name.get(name)
        if flag is None and name.startswith("no") and not eq and _is_bool(by_name.get(name[2:])):
            values[name[2:]] = False
            continue
        if flag is None:
            raise FlagError(f"unknown command line flag '{name}'")
        if flag.kind == "bool":
            values[name] = _bool(flag, value) if eq else True
            continue
        if not eq:
            if i >= len(argv):
                raise FlagError(f"flag '{name}' is missing its argument; flag description: {flag.help}")
            value = argv[i]
            i += 1
        values[name] = _int32(flag, value) if flag.kind == "int32" else value
    return values, rest


def _is_bool(flag: Flag | None) -> bool:
    return flag is not None and flag.kind == "bool"


def _bool(flag: Flag, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise FlagError(f"illegal value '{value}' specified for bool flag '{flag.name}'")


def _int32(flag: Flag, value: str) -> int:
    text = value.strip()
    try:
        n = int(text, 16) if text.lower().startswith(("0x", "-0x")) else int(text, 10)
    except ValueError:
        n = None
    if n is None or not INT32[0] <= n <= INT32[1]:
        raise FlagError(f"illegal value '{value}' specified for int32 flag '{flag.name}'")
    return n


def describe(flag: Flag) -> str:
    """gflags' DescribeOneFlag: ``    -name (help) type: T default: D``, wrapped at 80 columns."""
    text = f"    -{flag.name} ({flag.help})"
    out, col = "", 0
    while True:
        if col + len(text) < _LINE:
            out += text
            col += len(text)
            break
        cut = _LINE - col - 1
        while cut > 0 and not text[cut].isspace():
            cut -= 1
        if cut <= 0:
            out += text
            col = _LINE
            break
        out += text[:cut]
        text = text[cut:].lstrip()
        if not text:
            break
        out += "\n      "
        col = 6
    default = f'"{flag.default}"' if flag.kind == "string" else str(flag.default).lower()
    for part in (f"type: {flag.kind}", f"default: {default}"):
        if col + 1 + len(part) >= _LINE:
            out += "\n      " + part
            col = 6 + len(part)
        else:
            out += " " + part
            col += 1 + len(part)
    return out + "\n"


def usage(program: str, message: str, source: str, flags: Sequence[Flag]) -> str:
    """gflags' ShowUsageWithFlagsRestrict: the usage message, then the program's own flags by name."""
    shown = sorted((f for f in flags if f.shown), key=lambda f: f.name)
    body = "".join(describe(f) for f in shown)
    return f"{program}: {message}\n\n\n  Flags from {source}:\n{body}"
