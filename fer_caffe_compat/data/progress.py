"""Progress bars for the long data steps: shown on a terminal, silent in logs, pipes and tests."""
from __future__ import annotations

from tqdm import tqdm

from .. import log


def bar(iterable=None, *, progress: bool = True, **kwargs) -> tqdm:
    """A tqdm bar on stderr that disappears when done; off when ``progress`` is False, when glog output
    is quiet, or when stderr is not a terminal (tqdm's ``disable=None``)."""
    return tqdm(iterable, disable=None if progress and not log.quiet else True, leave=False, **kwargs)
