"""Atomic replacement of a file: readers and crashes see the old file or the new one, never a mix."""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from typing import BinaryIO, Iterator

from ..errors import MedMaskError, WriteError


def resolve_target(path: str | os.PathLike) -> str:
    """The file a write must replace: symlinks followed (the link stays, its target gets the
    new content). Hard links cannot be followed: the replaced name gets a new inode and the
    other names keep the old content (docs/reliability.md)."""
    return os.path.realpath(os.fspath(path))


def check_replaceable(target: str, shown: str | None = None) -> os.stat_result | None:
    """Refuse to replace a directory or a read-only file (``os.replace`` would do both silently);
    returns the current file's status, None when there is no file yet."""
    shown = shown or target
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WriteError(f"cannot write: {exc.strerror}", shown, exc.errno) from None
    if stat.S_ISDIR(st.st_mode):
        raise WriteError("is a directory; give a file name to write to", shown, errno.EISDIR)
    if not stat.S_ISREG(st.st_mode):
        raise WriteError("is not a regular file (device, FIFO or socket); not replacing it", shown, errno.EINVAL)
    if st.st_mode & 0o222 == 0 or not os.access(target, os.W_OK):
        raise WriteError(f"is read-only (mode {stat.S_IMODE(st.st_mode):04o}): not changing it; "
                         f"make it writable (chmod u+w) to edit it", shown, errno.EACCES)
    return st


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Write to a temporary file beside ``path``, fsync it, then ``os.replace`` it into place.

    If the block raises (or the process dies) the temporary file is dropped and ``path``
    is untouched. The directory is fsynced so the rename survives a power cut. A symlink
    is followed (its target is replaced); mode, owner and group of the replaced file are
    kept where permitted. Failures are :class:`WriteError` naming ``path``.
    """
    shown = os.fspath(path)
    target = resolve_target(shown)
    directory = os.path.dirname(target)
    old = check_replaceable(target, shown)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise WriteError(f"cannot create a file in {directory}: {exc.strerror}", shown, exc.errno) from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        _copy_ownership(tmp, old)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, MedMaskError):
            raise WriteError(f"writing failed, the file is unchanged: {exc.strerror or exc}", shown,
                             exc.errno) from exc
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    remove_stale_temporaries(target)


def _copy_ownership(tmp: str, old: os.stat_result | None) -> None:
    """The new file takes the old one's mode, and its owner and group where this user may set them."""
    if old is None:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        return
    if hasattr(os, "chown"):
        mine = os.stat(tmp)
        if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
            for uid, gid in ((old.st_uid, old.st_gid), (-1, old.st_gid)):  # root; or a group we belong to
                try:
                    os.chown(tmp, uid, gid)
                    break
                except OSError:
                    continue
    with contextlib.suppress(OSError):  # after chown, which may clear set-id bits
        os.chmod(tmp, stat.S_IMODE(old.st_mode))


STALE_AFTER_S = 3600.0


def remove_stale_temporaries(path: str, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Delete temporaries of ``path`` left by writers that were killed (older than an hour)."""
    directory, base = os.path.split(os.path.abspath(path))
    prefix = f".{base}."
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if now - entry.stat().st_mtime > older_than_s:
                        os.unlink(entry.path)
                        removed.append(entry.path)
    return removed
