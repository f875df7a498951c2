"""Atomic replacement of a file: readers and crashes see the old file or the new one, never a mix."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from typing import BinaryIO, Iterator


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Write to a temporary file beside ``path``, fsync it, then ``os.replace`` it into place.

    If the block raises (or the process dies) the temporary file is dropped and ``path``
    is untouched. The directory is fsynced so the rename survives a power cut.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):
            try:
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
            except OSError:
                pass
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    remove_stale_temporaries(path)


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
