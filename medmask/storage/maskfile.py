"""Single-mask files (.msk): one entry in the same container as an archive."""
from __future__ import annotations

import os

from ..core.segmask import SegmentationMask, register_file_io
from ..errors import ConcurrentModificationError, FormatError
from ..format import v2
from .bytesource import Source, writable_path
from .container_v1 import warn_v1_drops
from .atomic import check_replaceable, resolve_target
from .locking import commit_lock
from .reader import container_class, open_container, parse_format_version


def save_mask(mask: SegmentationMask, path: str | os.PathLike, *, format_version: int | str = 2,
              level: int = v2.DEFAULT_LEVEL) -> None:
    """Write ``mask`` atomically; ``format_version=1`` writes what medmask 0.1.3 can read,
    ``"2.1"`` what medmask 0.3 can read (the same facts as 2.2, the current version)."""
    path = writable_path(path, "writing")
    major, minor = parse_format_version(format_version, path)
    target = resolve_target(path)
    check_replaceable(target, os.fspath(path))  # a directory or read-only file: said before locking
    with commit_lock(target):  # ordered with other medmask writers (rewrite_mask)
        container_class(major, path).write_mask(path, mask, level, minor=minor)


def rewrite_mask(path: str | os.PathLike, *, format_version: int | str = 2, level: int = v2.DEFAULT_LEVEL) -> None:
    """Write the .msk at ``path`` again in ``format_version`` (``medmask upgrade``), unless another
    program changed it since it was read: then ConcurrentModificationError, nothing written."""
    path = writable_path(path, "writing")
    major, minor = parse_format_version(format_version, path)
    reader = open_container(path)
    try:
        identity = reader.identity()
        if reader.kind != "mask":
            raise FormatError(f"is a multi-mask archive ({len(reader.names)} entries); open it with MaskArchive",
                              reader.path)
        (name,) = reader.names
        mask = reader.load(name)
    finally:
        reader.close()
    target = resolve_target(path)
    check_replaceable(target, os.fspath(path))
    with commit_lock(target) as current:
        if current != identity:
            raise ConcurrentModificationError("was changed by another program while it was being rewritten; "
                                              "nothing was written: run the command again", path)
        container_class(major, path).write_mask(path, mask, level, minor=minor)


def load_mask(path: Source, *, storage_options: dict | None = None) -> SegmentationMask:
    """Read a .msk file of format version 1 or 2 from a path, URL, bytes or binary file object."""
    reader = open_container(path, storage_options)
    try:
        if reader.kind != "mask":
            raise FormatError(f"is a multi-mask archive ({len(reader.names)} entries); open it with MaskArchive",
                              reader.path)
        (name,) = reader.names
        return reader.load(name)
    finally:
        reader.close()


register_file_io(save_mask, load_mask)

__all__ = ["save_mask", "load_mask", "rewrite_mask", "warn_v1_drops"]
