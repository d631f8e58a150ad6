"""The one exception type a user can cause, and how a tool reports it."""
from __future__ import annotations

import errno
import os


class CaffeError(Exception):
    """A failure caused by the user's input: reported as one line, exit status 1.

    The message names the file (and line, record or layer) and what is wrong, e.g.
    ``fer2013.csv:17: expected 2304 pixels, found 2303``.
    """


def os_error_message(e: OSError) -> str:
    """An OSError as one line: the path and what the OS said (``out/x: No space left on device``).

    A path that cannot be made because one of its folders is a file (mkdir's EEXIST, open's ENOTDIR) names
    that file: ``data/fer2013: is a file, not a directory``.
    """
    path = e.filename
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if e.errno in (errno.EEXIST, errno.ENOTDIR) and isinstance(path, str):
        blocker = _file_in_the_way(path, itself=e.errno == errno.EEXIST)
        if blocker is not None:
            return f"{blocker}: is a file, not a directory"
    reason = e.strerror or (str(e.args[0]) if e.args else type(e).__name__)
    if e.errno == errno.ENOENT:
        reason = "no such file or directory"
    if isinstance(path, str) and path:
        return f"{path}: {reason}"
    return reason


def _file_in_the_way(path: str, itself: bool) -> str | None:
    """The first existing non-folder among ``path``'s folders (and ``path`` itself when ``itself``: mkdir)."""
    parts = os.path.normpath(path).split(os.sep)
    for i in range(1, len(parts) + (1 if itself else 0)):
        p = os.sep.join(parts[:i]) or os.sep
        if os.path.lexists(p) and not os.path.isdir(p):
            return p
    return None
