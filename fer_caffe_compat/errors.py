"""The one exception type a user can cause, and how a tool reports it."""
from __future__ import annotations


class CaffeError(Exception):
    """A failure caused by the user's input: reported as one line, exit status 1.

    The message names the file (and line, record or layer) and what is wrong, e.g.
    ``fer2013.csv:17: expected 2304 pixels, found 2303``.
    """
