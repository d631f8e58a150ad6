"""Real file-system faults for the tests of the tools' one-line OS errors: a tiny tmpfs that fills up
(ENOSPC), a read-only one (EROFS), a folder the process may not write (EACCES), a parent that is a file.

Mounting needs root (and a sandbox that allows it); where it is not allowed the test is skipped, saying why.
Every mount is undone however the test ends (``umount --lazy``, so also while a killed tool still holds it).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def tmpfs(parent: Path, size: str = "1m", read_only: bool = False, populate=None) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on a new folder in ``parent``; ``populate(mountpoint)`` runs before a
    ``read_only`` remount."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mnt = parent / f"fs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"this sandbox does not allow mounting a tmpfs: {p.stderr.strip()}")
    try:
        if populate is not None:
            populate(mnt)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True, capture_output=True)
        yield mnt
    finally:
        subprocess.run(["umount", "--lazy", str(mnt)], capture_output=True)
        with contextlib.suppress(OSError):
            mnt.rmdir()


def unprivileged(cmd: list[str]) -> list[str]:
    """``cmd`` run so that file modes apply to it: as root, without the capabilities that bypass them."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop CAP_DAC_OVERRIDE to get EACCES")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """``path`` made a folder nobody may write (0555) for the duration."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o555)
    try:
        yield path
    finally:
        path.chmod(0o755)
