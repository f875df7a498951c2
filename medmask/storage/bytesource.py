"""Random-access reads of the bytes a container lives in.

Readers only ever ask for ``(offset, length)`` ranges, which is what lets the same
container code read a local file, an open binary file object, bytes in memory, or a
remote object through fsspec.
"""
from __future__ import annotations

import os
import stat

from ..errors import MedMaskError
from .locking import FileIdentity


class ByteSource:
    """Read-only, random-access bytes with a known size."""

    name: str | None
    size: int

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer only at the end of the data)."""
        raise NotImplementedError

    def identity(self) -> FileIdentity:
        """What tells a later look at the file whether someone replaced it (local files only)."""
        raise MedMaskError("only a local file has an identity to check edits against", self.name)

    def close(self) -> None:
        pass


class FileSource(ByteSource):
    """A local file, held open: a writer replacing it (os.replace) does not disturb this reader."""

    def __init__(self, path: str | os.PathLike):
        self.name = os.fspath(path)
        self._fd = -1
        try:
            self._fd = os.open(self.name, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except FileNotFoundError:
            raise MedMaskError("no such file", self.name) from None
        except IsADirectoryError:
            raise MedMaskError("is a directory, not a medmask file", self.name) from None
        except PermissionError:  # Windows opens a directory with EACCES
            if os.path.isdir(self.name):
                raise MedMaskError("is a directory, not a medmask file", self.name) from None
            raise
        try:
            st = os.fstat(self._fd)
            if stat.S_ISDIR(st.st_mode):  # os.open() of a directory succeeds on Linux
                raise MedMaskError("is a directory, not a medmask file", self.name)
            self.size = st.st_size
        except BaseException:
            self.close()
            raise

    def identity(self) -> FileIdentity:
        return FileIdentity.of_fd(self._fd)

    def read_at(self, offset: int, length: int) -> bytes:
        chunks, got = [], 0
        while got < length:
            chunk = _pread(self._fd, length - got, offset + got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1  # forget it: a second close could hit a reused descriptor


def _pread_seek(fd: int, length: int, offset: int) -> bytes:
    """pread for systems without it (Windows); a FileSource's descriptor is its own."""
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, length)


_pread = getattr(os, "pread", _pread_seek)
