"""Positional reads of a file descriptor on every system.

``os.pread`` reads at an offset without moving the descriptor's position and is safe
across threads; Windows has no ``os.pread``, so there the position is moved (lseek +
read) under a lock. Descriptors passed here are owned by medmask, never a caller's.
"""
from __future__ import annotations

import os
import threading

_LOCK = threading.Lock()


def _pread_seek(fd: int, length: int, offset: int) -> bytes:
    with _LOCK:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, length)


pread = getattr(os, "pread", _pread_seek)
