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


def container_class(format_version: int, path: str | os.PathLike | None = None) -> type[Container]:
    """The container class that writes ``format_version`` (1 or 2)."""
    try:
        return CONTAINERS[format_version]
    except (KeyError, TypeError):
        raise MedMaskError(f"format_version must be 1 or 2, got {format_version!r}", path) from None


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

__all__ = ["CONTAINERS", "Container", "ContainerReader", "V1_CODEC", "container_class", "open_container",
           "preview_names"]
