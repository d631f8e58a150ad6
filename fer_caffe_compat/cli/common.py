"""What every tool shares: Caffe's flag spellings and the one-line error exit."""
from __future__ import annotations

import argparse
import re
import signal
import sys
from typing import Callable, Sequence

from ..errors import CaffeError, os_error_message

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
    """Run a tool's ``main(argv)``. Every way it can fail ends in one line on stderr, never a traceback:

    - a CaffeError (bad input) or an OSError (``No space left on device``, ``Read-only file system``,
      ``Permission denied``, a folder that is a file), naming the path: exit status 1;
    - Ctrl-C: ``tool: interrupted``, exit status 130 (also when a finalizer swallowed the
      KeyboardInterrupt: the interrupt is remembered and reported when ``main`` returns).
    Outputs are written under temporary names (fsutil), so what a failure interrupts leaves nothing behind.
    """
    interrupts = _arm_interrupts()
    try:
        _run(main, prog, interrupts)
    finally:
        if interrupts is not None:  # the outcome is decided and said: a Ctrl-C now changes nothing
            signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(main: Callable[[list[str]], int | None], prog: str, interrupts: list[int] | None) -> None:
    try:
        rc = main(sys.argv[1:])
    except CaffeError as e:
        _fail(prog, str(e))
    except BrokenPipeError:  # the reader of stdout went away (tool | head): nothing left to say
        raise SystemExit(1) from None
    except OSError as e:
        _fail(prog, os_error_message(e))
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        raise SystemExit(130) from None
    except Exception as e:
        if type(e).__module__ != "lmdb":  # lmdb.Error: py-lmdb's message names the call and the OS reason
            raise
        _fail(prog, f"LMDB: {e}")
    if interrupts:
        sys.stderr.write(f"{prog}: interrupted\n")
        raise SystemExit(130)
    raise SystemExit(rc or 0)


def _fail(prog: str, message: str) -> None:
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise SystemExit(1) from None


def _arm_interrupts() -> list[int] | None:
    """From here on Ctrl-C raises KeyboardInterrupt (so outputs in progress are cleaned up) and is counted.

    Only in a tool process that cli/__init__ guarded while it started; a test calling ``run`` keeps its
    handler."""
    from . import _early_interrupt

    if signal.getsignal(signal.SIGINT) is not _early_interrupt:
        return None
    seen: list[int] = []

    def interrupt(signum, frame):
        seen.append(signum)
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, interrupt)
    return seen
