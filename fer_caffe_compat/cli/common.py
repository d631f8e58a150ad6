"""What every tool shares: Caffe's flag spellings and the one-line error exit."""
from __future__ import annotations

import argparse
import re
import sys
from typing import Callable, Sequence

from ..errors import CaffeError

_SINGLE_DASH_LONG = re.compile(r"^-([A-Za-z][A-Za-z0-9_]+)(=.*)?$")


def normalize_flags(argv: Sequence[str]) -> list[str]:
    """Accept gflags spellings: ``-solver x`` and ``-solver=x`` become ``--solver x`` / ``--solver=x``.

    Single-letter options (``-h``) and negative numbers are left alone.
    """
    out = []
    for a in argv:
        m = _SINGLE_DASH_LONG.match(a)
        out.append("-" + a if m else a)
    return out


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (``tool: error: ...``) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        if args is None:
            args = sys.argv[1:]
        return super().parse_args(normalize_flags(args), namespace)


def run(main: Callable[[list[str]], int | None], prog: str) -> None:
    """Run a tool's ``main(argv)``: a CaffeError or OS error becomes one line on stderr and exit 1."""
    try:
        rc = main(sys.argv[1:])
    except CaffeError as e:
        sys.stderr.write(f"{prog}: error: {e}\n")
        raise SystemExit(1) from None
    except FileNotFoundError as e:
        sys.stderr.write(f"{prog}: error: {e.filename}: no such file or directory\n")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        raise SystemExit(130) from None
    raise SystemExit(rc or 0)
