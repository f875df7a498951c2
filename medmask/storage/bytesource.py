"""Random-access reads of the bytes a container lives in.

Readers only ever ask for ``(offset, length)`` ranges, so one container implementation
reads a local path, an open binary file object, bytes in memory, or a remote object
through fsspec (``s3://``, ``https://``, ``memory://``, ...; :mod:`.remote`). Remote objects
cost one range request per read: header, index, then one per entry asked for.
"""
from __future__ import annotations

import io
import os
import re
import stat
import threading
from typing import Any, BinaryIO, Union

from ..errors import ArchiveModeError, MedMaskError
from .locking import FileIdentity
from .pread import pread
from .remote import RemoteSource
from .source_types import ByteSource, RemoteFile

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


Source = Union[str, os.PathLike, RemoteFile, bytes, bytearray, memoryview, BinaryIO]


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
        except PermissionError:  # Windows refuses to open a directory with EACCES
            if os.path.isdir(self.name):
                raise MedMaskError("is a directory, not a medmask file", self.name) from None
            raise
        try:
            st = os.fstat(self._fd)
            if stat.S_ISDIR(st.st_mode):  # os.open() of a directory succeeds on Linux
                raise MedMaskError("is a directory, not a medmask file", self.name)
            self.known_size = st.st_size
        except BaseException:
            self.close()
            raise

    def identity(self) -> FileIdentity:
        return FileIdentity.of_fd(self._fd)

    def read_at(self, offset: int, length: int) -> bytes:
        return _read_full(lambda n, off: pread(self._fd, n, off), offset, length)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1  # forget it: a second close could hit a reused descriptor


class BytesSource(ByteSource):
    """A whole file already in memory (no copy is made of bytes or memoryviews)."""

    def __init__(self, data: bytes | bytearray | memoryview, name: str | None = None):
        self._data = memoryview(data).cast("B")
        self.name = name
        self.known_size = self._data.nbytes

    def read_at(self, offset: int, length: int) -> bytes:
        return bytes(self._data[offset:offset + length])


class FileObjectSource(ByteSource):
    """A binary file object opened by the caller (and closed by the caller, not here).

    Reads go through ``os.pread`` on its descriptor where both exist, else seek + read
    under a lock; the object's position is restored after each read.
    """

    def __init__(self, fileobj: Any):
        if isinstance(fileobj, io.TextIOBase) or not hasattr(fileobj, "read") or not hasattr(fileobj, "seek"):
            raise MedMaskError(f"need a binary file object opened for reading, got {type(fileobj).__name__}")
        self._f = fileobj
        name = getattr(fileobj, "name", None)
        self.name = name if isinstance(name, str) else f"<{type(fileobj).__name__}>"
        self._lock = threading.Lock()
        self._fd = -1
        if hasattr(os, "pread") and isinstance(fileobj, (io.FileIO, io.BufferedReader)):
            try:
                self._fd = fileobj.fileno()
            except (OSError, ValueError):
                self._fd = -1
        with self._lock:
            pos = fileobj.tell()
            try:
                self.known_size = fileobj.seek(0, io.SEEK_END)
            finally:
                fileobj.seek(pos)

    def read_at(self, offset: int, length: int) -> bytes:
        if self._fd >= 0:
            return _read_full(lambda n, off: os.pread(self._fd, n, off), offset, length)
        with self._lock:
            pos = self._f.tell()
            try:
                self._f.seek(offset)
                return _read_full(lambda n, off: self._f.read(n), offset, length)
            finally:
                self._f.seek(pos)


def is_url(source: Any) -> bool:
    """A URL string (not a local file that happens to look like one) or a :class:`RemoteFile`."""
    if isinstance(source, RemoteFile):
        return True
    return isinstance(source, str) and bool(_URL.match(source)) and not os.path.exists(source)


def open_source(source: Source, storage_options: dict | None = None) -> ByteSource:
    """A :class:`ByteSource` for a path, URL, bytes-like object or binary file object."""
    if isinstance(source, ByteSource):
        return source
    if isinstance(source, RemoteFile):
        return RemoteSource(source.url, {**(source.storage_options or {}), **(storage_options or {})})
    if is_url(source):
        return RemoteSource(source, storage_options)  # type: ignore[arg-type]
    if isinstance(source, (str, os.PathLike)):
        return FileSource(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return BytesSource(source)
    if hasattr(source, "read"):
        return FileObjectSource(source)
    raise MedMaskError(f"cannot read a medmask file from a {type(source).__name__}; "
                       f"give a path, a URL, bytes or a binary file object")


def writable_path(target: Any, what: str = "writing") -> str:
    """The local path to write ``target`` to; a clear error for URLs, bytes and file objects."""
    if is_url(target):
        raise ArchiveModeError(f"{what} remote files is not supported (reading is): write a local file, "
                               f"then upload it", target)
    if not isinstance(target, (str, os.PathLike)):
        raise ArchiveModeError(f"{what} needs a local path, got a {type(target).__name__} "
                               f"(file objects and bytes can only be read)")
    return os.fspath(target)


def source_name(source: Any) -> str | None:
    """What error messages call ``source``."""
    if isinstance(source, RemoteFile):
        return source.url
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else None


def _read_full(read, offset: int, length: int) -> bytes:
    chunks, got = [], 0
    while got < length:
        chunk = read(length - got, offset + got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)
