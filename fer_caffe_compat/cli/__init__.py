"""Argument parsing for each tool (Caffe's flag names accepted); no numerics here.

A tool starts as ``python -m fer_caffe_compat.cli.<tool>`` (tools/<tool>), and this package is imported
before the tool's own module and its heavy imports (torch: seconds). From here until ``common.run`` takes
over, Ctrl-C ends the tool at once with one line and exit status 130: no KeyboardInterrupt traceback out
of an import, and no interrupt swallowed by a finalizer that runs during one. tools/_python blocks SIGINT
until here, so one pressed while the interpreter itself starts is not lost either.
"""
import os
import signal
import sys


def _early_interrupt(signum, frame) -> None:  # pragma: no cover - runs in a starting tool
    os.write(2, f"{_TOOL}: interrupted\n".encode())
    os._exit(130)


def _starting_tool() -> str | None:
    """The tool's name when this process is ``python -m fer_caffe_compat.cli.<tool>`` being started."""
    if sys.argv[:1] != ["-m"]:  # runpy sets argv[0] to "-m" while it imports the module's packages
        return None
    argv = getattr(sys, "orig_argv", [])
    mod = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else ""
    return mod.rsplit(".", 1)[-1] if mod.startswith(__name__ + ".") else None


_TOOL = _starting_tool()
if _TOOL:
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _early_interrupt)
    # tools/_python starts a tool with SIGINT blocked, so that one pressed while the interpreter started
    # is delivered now, to the handler above
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
