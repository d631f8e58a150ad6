"""Atomic outputs: everything is written under a temporary name and renamed when complete.

Temporary names are hidden siblings of the output (``.<name>.<random>.tmp`` for files,
``.<name>.tmp<pid>`` for folders), so a rename never crosses file systems, and a failure (a full disk, a
read-only file system, Ctrl-C) removes them and leaves any previous output as it was. Files get the mode
the umask gives (0644 under umask 022), as Caffe's and any ``open()``'s outputs do.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from typing import Iterator

from .errors import CaffeError


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def with_path(e: OSError, path: str | os.PathLike) -> OSError:
    """``e`` naming ``path`` when it names no file (a write() or close() that failed: ENOSPC, EIO)."""
    if e.filename is None and e.errno is not None:
        return type(e)(e.errno, e.strerror, os.fspath(path))
    return e


def renamed(e: OSError, tmp: str | os.PathLike, path: str | os.PathLike) -> OSError:
    """``e`` naming the output the user asked for rather than its temporary name."""
    name = os.fsdecode(e.filename) if isinstance(e.filename, (str, bytes)) else None
    tmp, path = os.fspath(tmp), os.fspath(path)
    if name is not None and (name == tmp or name.startswith(tmp + os.sep)):
        return type(e)(e.errno, e.strerror, path + name[len(tmp):])
    return with_path(e, path)


def make_parent(path: str | os.PathLike) -> None:
    """Create the folder ``path`` goes into (and its parents)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    Works for files and for directories (an LMDB environment, an image tree).
    """
    path = Path(path)
    tmp = _tmp_name(path)
    remove(tmp)
    try:
        yield tmp
    except BaseException as e:
        remove(tmp)
        if isinstance(e, OSError):
            raise renamed(e, tmp, path) from None
        raise
    try:
        if not overwrite and (path.exists() or path.is_symlink()):
            raise CaffeError(f"{path}: already exists; refusing to overwrite it (use --overwrite)")
        replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise


def replace(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Move the file or folder ``src`` to ``dst`` (same file system), replacing what ``dst`` holds."""
    src, dst = Path(src), Path(dst)
    if dst.is_dir() and not dst.is_symlink():
        old = dst.with_name(f".{dst.name}.old{os.getpid()}")
        remove(old)
        os.replace(dst, old)
        os.replace(src, dst)
        remove(old)
    else:
        os.replace(src, dst)


def _open_new(path: Path) -> tuple[int, Path]:
    """Create ``.<name>.<random>.tmp`` beside ``path`` (mkstemp's name, but open()'s mode 0666 & ~umask,
    where mkstemp would give 0600 whatever the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename; an OSError names ``path``."""
    path = Path(path)
    make_parent(path)
    try:
        fd, tmp = _open_new(path)
    except OSError as e:
        raise with_path(e, path) if e.filename is None else type(e)(e.errno, e.strerror, str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise renamed(e, tmp, path) from None
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def remove(p: str | os.PathLike) -> None:
    """Remove a file or a folder tree, if there."""
    p = Path(p)
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    elif p.exists() or p.is_symlink():
        p.unlink()
