"""Atomic replacement of a file: readers and crashes see the old file or the new one, never a mix."""
from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
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
    remove_stale_temporaries(target)  # what writers killed before their rename left
    try:
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(target), suffix=".tmp", dir=directory)
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
_HOST = socket.gethostname().replace(".", "_")[:40] or "host"


def temporary_prefix(path: str | os.PathLike) -> str:
    """``.<name>.<host>-<pid>.``: a temporary file or folder beside ``path`` names its writer, so the
    next writer can tell one whose process died (and remove it) from one still being written."""
    return f".{os.path.basename(os.fspath(path))}.{_HOST}-{os.getpid()}."


def _owner_dead(name: str, prefix: str) -> bool:
    """Whether the temporary ``name`` was made by a process of this host that no longer runs."""
    owner = name[len(prefix):].split(".", 1)[0]
    host, _, pid = owner.rpartition("-")
    if host != _HOST or not pid.isdigit():
        return False  # another machine's (a shared folder) or an older medmask's: the age rule decides
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: it runs under another user
        return False
    return False


def remove_stale_temporaries(path: str | os.PathLike, older_than_s: float = STALE_AFTER_S) -> list[str]:
    """Delete temporaries of ``path`` (``.tmp`` files, ``.tmpdir`` folders) left by killed writers:
    those whose writer process (on this host) is dead, and any older than ``older_than_s``."""
    directory, base = os.path.split(os.path.abspath(os.fspath(path)))
    prefix = f".{base}."
    removed = []
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            name = entry.name
            if not (name.startswith(prefix) and name.endswith((".tmp", ".tmpdir"))):
                continue
            with contextlib.suppress(OSError):
                if _owner_dead(name, prefix) or now - entry.stat(follow_symlinks=False).st_mtime > older_than_s:
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
                    removed.append(entry.path)
    return removed
