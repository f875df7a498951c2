"""The one wording for a source file that cannot be opened at all (missing, a folder, no permission),
and the check that a path medmask is about to read is a regular file (not a FIFO, device or /proc)."""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

from ..errors import ConversionError


def unopenable(exc: BaseException, path: str | os.PathLike, what: str) -> ConversionError | None:
    """The ConversionError naming ``path`` for an open that failed on the file itself, else None
    (a damaged file is the caller's to describe). ``what``: e.g. "a NIfTI file"."""
    if isinstance(exc, FileNotFoundError):
        return ConversionError("no such file", path)
    if isinstance(exc, IsADirectoryError):
        return ConversionError(f"is a folder, not {what}", path)
    if isinstance(exc, PermissionError):
        return ConversionError(f"cannot read ({exc.strerror})", path)
    return None


# pseudo-filesystems whose "files" are kernel state: reading them hangs, fails with EIO or never ends
SYSTEM_FOLDERS = ("/proc", "/sys")
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def _system_folder(path: str | os.PathLike) -> str | None:
    real = os.path.realpath(path)
    return next((root for root in SYSTEM_FOLDERS if real == root or real.startswith(root + os.sep)), None)


def check_regular_file(path: str | os.PathLike, what: str) -> os.stat_result:
    """ConversionError naming ``path`` unless it is (or links to) a regular file worth reading: not a
    FIFO (reading would wait forever), device (``/dev/zero`` never ends), folder, or a file of the
    kernel's pseudo-filesystems (``/proc/self/mem``); nothing is opened. Returns its ``stat``."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise unopenable(exc, path, what) or ConversionError(f"cannot read ({exc.strerror or exc})", path) from None
    if not stat.S_ISREG(st.st_mode):
        kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
        if kind == "a folder":
            raise ConversionError(f"is a folder, not {what}", path)
        raise ConversionError(f"is {kind}, not {what}: refused without reading it", path)
    root = _system_folder(path)
    if root is not None:
        raise ConversionError(f"lies in {root} (kernel state, not a file on disk), not {what}: refused without "
                              f"reading it", path)
    return st


def check_scan_folder(path: str | os.PathLike) -> None:
    """ConversionError for a folder of the kernel's pseudo-filesystems (/proc, /sys) given as a DICOM
    series folder: scanning it would read kernel state (and may hang)."""
    root = _system_folder(path)
    if root is not None:
        raise ConversionError(f"lies in {root} (kernel state), not a DICOM series folder: refused without "
                              f"scanning it", path)


def open_regular(path: str | os.PathLike, what: str) -> BinaryIO:
    """``open(path, "rb")`` of a regular file only (see :func:`check_regular_file`); the open itself
    cannot block on a FIFO swapped in meanwhile (O_NONBLOCK, checked again on the descriptor)."""
    check_regular_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise unopenable(exc, path, what) or ConversionError(f"cannot read ({exc.strerror or exc})", path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConversionError(f"is not a regular file, not {what}: refused without reading it", path)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
