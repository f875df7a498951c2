"""An advisory lock that serialises committers of one file, and the identity a handle compares.

Every write replaces the file (``os.replace``), so a lock on a sidecar path would be the
usual answer; instead the lock is taken on the current file itself (``flock``), and the
path is checked to still name the locked inode afterwards: a committer that waited while
another replaced the file then locks the new file. No ``.lock`` files are left beside
thousands of archives. While the file does not exist yet, its directory is locked instead.
Locks are advisory: they order medmask committers, not other programs.
"""
from __future__ import annotations

import contextlib
import os
import stat
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from .pread import pread

if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt
else:
    import fcntl

HEAD_BYTES = 96  # the v1 (90 B) or v2 (64 B) header: holds the index offsets/length/crc


@dataclass(frozen=True)
class FileIdentity:
    """What a handle saw when it read the file: a different inode, size, mtime or header means
    someone else committed since (the handle's reader keeps the inode alive, so it is not reused)."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    head: bytes

    @classmethod
    def of_fd(cls, fd: int) -> "FileIdentity":
        st = os.fstat(fd)
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, pread(fd, HEAD_BYTES, 0))

    def describe(self) -> str:
        when = datetime.fromtimestamp(self.mtime_ns / 1e9).isoformat(sep=" ", timespec="milliseconds")
        return f"{self.size} bytes modified {when}"


@contextlib.contextmanager
def commit_lock(path: str) -> Iterator[FileIdentity | None]:
    """Hold an exclusive lock for replacing ``path`` (a resolved path, not a link);
    yields the identity of the file as it is now (None when there is none)."""
    if sys.platform == "win32":  # pragma: no cover
        with _windows_lock(path):
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            except FileNotFoundError:
                yield None
                return
            try:
                yield FileIdentity.of_fd(fd)
            finally:
                os.close(fd)
        return
    while True:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            with _directory_lock(os.path.dirname(path) or "."):
                if os.path.lexists(path):
                    continue  # created meanwhile: lock the file itself
                yield None
                return
        try:
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                raise IsADirectoryError(21, "Is a directory", path)
            _flock(fd)
            try:
                now = os.stat(path)
            except FileNotFoundError:
                continue
            mine = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (mine.st_dev, mine.st_ino):
                continue  # replaced while we waited: lock the new file
            yield FileIdentity.of_fd(fd)
            return
        finally:
            os.close(fd)  # releases the flock


def _flock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # file systems without flock (some network mounts): the identity check remains
        pass


@contextlib.contextmanager
def _directory_lock(directory: str) -> Iterator[None]:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a missing or unreadable directory fails later, when writing, with its own message
        yield
        return
    try:
        _flock(fd)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def _windows_lock(path: str) -> Iterator[None]:  # pragma: no cover - Windows only
    """A replaced file cannot be locked on Windows: lock one byte of a sidecar file instead."""
    lock_path = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                break
            except OSError:  # LK_LOCK gives up after 10 s; keep waiting like flock does
                continue
        try:
            yield
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    finally:
        os.close(fd)
