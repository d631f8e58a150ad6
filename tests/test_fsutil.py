"""Atomic outputs: the umask's mode (not mkstemp's 0600), nothing left when a write fails, the previous
output intact, and errors that name the output rather than its temporary name."""
from __future__ import annotations

import errno
import os

import pytest

from fer_caffe_compat.errors import CaffeError, os_error_message
from fer_caffe_compat.fsutil import atomic_path, write_bytes_atomic

from .fsfaults import tmpfs


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_get_the_mode_the_umask_gives(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_bytes_atomic(tmp_path / "mean.binaryproto", b"x")
        write_bytes_atomic(tmp_path / "mean.binaryproto", b"y")  # replacing keeps the rule
    finally:
        os.umask(old)
    assert (tmp_path / "mean.binaryproto").stat().st_mode & 0o777 == mode


def test_a_write_the_disk_cannot_hold_names_the_output_and_keeps_the_old_one(tmp_path):
    with tmpfs(tmp_path, size="64k") as fs:
        write_bytes_atomic(fs / "a.bin", b"old")
        with pytest.raises(OSError) as e:
            write_bytes_atomic(fs / "a.bin", b"\0" * (1 << 20))
        assert e.value.errno == errno.ENOSPC and e.value.filename == str(fs / "a.bin")
        assert os_error_message(e.value) == f"{fs}/a.bin: No space left on device"
        assert sorted(os.listdir(fs)) == ["a.bin"] and (fs / "a.bin").read_bytes() == b"old"


def test_atomic_path_names_the_output_not_its_temporary_name(tmp_path):
    with pytest.raises(OSError) as e:
        with atomic_path(tmp_path / "tree") as tmp:
            (tmp / "missing" / "x.png").write_bytes(b"")
    assert e.value.filename == str(tmp_path / "tree" / "missing" / "x.png")
    assert os.listdir(tmp_path) == []
    (tmp_path / "tree").mkdir()
    with pytest.raises(CaffeError, match="tree: already exists"):
        with atomic_path(tmp_path / "tree", overwrite=False) as tmp:
            tmp.mkdir()
    assert os.listdir(tmp_path) == ["tree"]


@pytest.mark.parametrize("make, message", [
    (lambda d: OSError(errno.ENOSPC, "No space left on device", f"{d}/x"), "{d}/x: No space left on device"),
    (lambda d: OSError(errno.EROFS, "Read-only file system", f"{d}/x"), "{d}/x: Read-only file system"),
    (lambda d: PermissionError(errno.EACCES, "Permission denied", f"{d}/x"), "{d}/x: Permission denied"),
    (lambda d: FileNotFoundError(errno.ENOENT, "No such file or directory", f"{d}/nope"),
     "{d}/nope: no such file or directory"),
    (lambda d: FileExistsError(errno.EEXIST, "File exists", f"{d}/f"), "{d}/f: is a file, not a directory"),
    (lambda d: FileExistsError(errno.EEXIST, "File exists", f"{d}/f/g/h"), "{d}/f: is a file, not a directory"),
    (lambda d: NotADirectoryError(errno.ENOTDIR, "Not a directory", f"{d}/f/x.png"),
     "{d}/f: is a file, not a directory"),
    (lambda d: OSError(errno.EIO, "Input/output error"), "Input/output error"),
], ids=["ENOSPC", "EROFS", "EACCES", "ENOENT", "EEXIST", "EEXIST-deep", "ENOTDIR", "no-path"])
def test_os_error_message_is_the_path_and_what_the_os_said(tmp_path, make, message):
    (tmp_path / "f").write_text("")
    assert os_error_message(make(tmp_path)) == message.format(d=tmp_path)
