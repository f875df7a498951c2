"""Assemble whole files from encoded entries and write them atomically."""
from __future__ import annotations

import os
import zlib
from dataclasses import replace
from importlib.metadata import PackageNotFoundError, version
from typing import Callable, Sequence

from ..format import v1, v2
from ..format.records import EntryInfo
from .atomic import atomic_write

PayloadSource = Callable[[], bytes]


def writer_tag() -> str:
    try:
        return f"medmask {version('medmask')}"
    except PackageNotFoundError:
        return "medmask"


def write_v2(path: str | os.PathLike, kind: str, space, entries: Sequence[tuple[EntryInfo, PayloadSource]],
             image=None, attributes: dict | None = None, review: dict | None = None,
             minor: int | None = None) -> list[EntryInfo]:
    """Write header, payloads (in order) and index; returns the records with their final offsets.
    ``minor`` 1 writes the 2.1 JSON index medmask 0.3 reads (None, 2: the 2.2 table)."""
    minor = v2.VERSION[1] if minor is None else minor
    magic = v2.MAGIC_MASK if kind == "mask" else v2.MAGIC_ARCHIVE
    placed: list[EntryInfo] = []
    with atomic_write(path) as f:
        f.write(bytes(v2.HEADER_SIZE))  # placeholder, rewritten once the index offset is known
        pos = v2.HEADER_SIZE
        for info, source in entries:
            payload = source()
            f.write(payload)
            placed.append(replace(info, offset=pos, length=len(payload)))
            pos += len(payload)
        index = v2.encode_index(kind, space, placed, writer_tag(), image, attributes, review, minor=minor)
        f.write(index)
        f.seek(0)
        f.write(v2.pack_header(magic, pos, len(index), zlib.crc32(index), minor=minor))
    return placed


def write_v1_mask(path: str | os.PathLike, space, mapping: dict[str, int], array) -> None:
    with atomic_write(path) as f:
        f.write(v1.build_mask_file(space, mapping, array))


def write_v1_archive(path: str | os.PathLike, space, entries) -> None:
    with atomic_write(path) as f:
        f.write(v1.build_archive_file(space, entries))
