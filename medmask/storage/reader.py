"""Open a .msk/.mska file of any format version as a :class:`~.container.Container`.

A local file stays open under its container: a writer replacing it (os.replace) does not
disturb the reader, so one reader always sees one consistent version of the file.
"""
from __future__ import annotations

import os

from ..errors import FormatError, MedMaskError, UnsupportedVersionError
from ..format import v1, v2
from .bytesource import ByteSource, Source, open_source
from .container import Container, preview_names
from .container_v1 import V1_CODEC, V1Container
from .container_v2 import V2Container

CONTAINERS: dict[int, type[Container]] = {1: V1Container, 2: V2Container}
_HEAD_BYTES = max(v2.HEADER_SIZE, v1.ARCHIVE_HEADER.size)


WRITABLE_MINORS = (1, 2)  # 2.1 (what medmask 0.3 reads) and 2.2 (the current index)
VERSION_CHOICES = ("1", "2", "2.1", "2.2")


def parse_format_version(value: int | str | float | tuple | None,
                         path: str | os.PathLike | None = None) -> tuple[int, int | None] | None:
    """``format_version`` as (major, minor); minor None = the newest of that major (None stays None).

    Accepted: 1, 2, "2.1", "2.2", 2.1, (2, 1). 2.1 is for sharing files with medmask 0.3
    (which cannot read the 2.2 index); it holds the same facts.
    """
    if value is None:
        return None
    text = ".".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
    if isinstance(value, bool) or text not in VERSION_CHOICES:
        raise MedMaskError(f"format_version must be one of 1, 2, '2.1', '2.2', got {value!r}", path)
    major, _, minor = text.partition(".")
    return int(major), (int(minor) if minor else None)


def container_class(format_version: int | str | tuple, path: str | os.PathLike | None = None) -> type[Container]:
    """The container class that writes ``format_version`` (1, 2, "2.1", "2.2")."""
    return CONTAINERS[parse_format_version(format_version, path)[0]]


def open_container(source: Source, storage_options: dict | None = None) -> Container:
    """Read the header and index of a medmask file of any version.

    ``source``: a local path, an fsspec URL (``s3://``, ``https://``, ``memory://``...; needs
    ``medmask[remote]``, ``storage_options`` go to fsspec), bytes, or a binary file object.
    """
    source = open_source(source, storage_options)
    try:
        return _open_source(source)
    except BaseException:
        source.close()
        raise


def _open_source(source: ByteSource) -> Container:
    head = source.read_at(0, _HEAD_BYTES)
    if len(head) < 8:
        raise FormatError(f"file is only {len(head)} bytes: not a medmask file (empty or truncated)", source.name)
    magic, major = head[:4], head[4]
    if magic not in (v2.MAGIC_MASK, v2.MAGIC_ARCHIVE):
        raise FormatError(f"not a medmask file (magic {magic!r}, expected b'MSK1' or b'MSKA')", source.name)
    cls = CONTAINERS.get(major)
    if cls is None:
        raise UnsupportedVersionError(f"format version {major}.{head[5]} is not supported "
                                      f"(this medmask reads 1.x and 2.x)", source.name)
    return cls(source, "mask" if magic == v2.MAGIC_MASK else "archive", head)


ContainerReader = open_container  # the name callers of medmask 0.2 used

__all__ = ["CONTAINERS", "Container", "ContainerReader", "V1_CODEC", "VERSION_CHOICES", "container_class",
           "open_container", "parse_format_version", "preview_names"]
