"""The one interface both on-disk format versions offer (see container_v1 / container_v2).

A container is an open file of one format version: header and index read, entries
decoded on demand. Callers (MaskArchive, load_mask, the CLI) never ask which version
it is; what differs between versions lives in the two subclasses.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, ClassVar, Sequence

from ..core.image_ref import ImageReference
from ..core.segmask import SegmentationMask
from ..errors import FormatError
from ..format.records import EntryInfo
from .bytesource import ByteSource
from .locking import FileIdentity

PayloadSource = Callable[[], bytes]
UNKNOWN_SIZE = 1 << 63  # what bounds checks assume while a remote file's size is not known


@dataclass(frozen=True)
class StagedEntry:
    """One entry on its way into a new file.

    ``info`` is the record as known now (for a v1 entry: name and mapping only);
    ``new`` says it changed since the file was read; ``v2_item`` gives its v2 record and
    a payload source (coding it if needed); ``mask`` decodes it.
    """

    info: EntryInfo
    new: bool
    v2_item: Callable[[], tuple[EntryInfo, PayloadSource]]
    mask: Callable[[], SegmentationMask]


class Container:
    """An open .msk/.mska file of one format version."""

    version: ClassVar[int]
    minor: int = 0      # the file's minor version (2.0, 2.1, 2.2...)
    stores_attributes: ClassVar[bool]  # colours and metadata per entry

    kind: str           # "mask" (.msk) or "archive" (.mska)
    space: object       # spacetransformer Space, array axis order
    names: list[str]
    image: ImageReference | None = None  # the scan the masks were drawn on (v2 archives)
    attributes: dict = {}  # archive-level facts (v2; replaced per instance, never mutated)
    review: dict = {}  # the raw 'review'/'history' index keys (v2; format/review.py)

    def __init__(self, source: ByteSource, kind: str, head: bytes):
        self.source = source
        self.path = source.name
        self.kind = kind
        # bounds checks use the size when it is free; a remote file's size would cost a
        # request, so there reads that come back short are what reveal a truncated file
        self._size_bound = source.known_size if source.known_size is not None else UNKNOWN_SIZE
        self._open(head)

    @property
    def file_size(self) -> int:
        return self.source.size

    def _open(self, head: bytes) -> None:
        raise NotImplementedError

    # reading ------------------------------------------------------------------------------
    def identity(self) -> FileIdentity | None:
        """Inode, size, mtime and header of the local file this container holds (change detection)."""
        return self.source.identity()

    def pread(self, offset: int, length: int) -> bytes:
        return self.source.read_at(offset, length)

    def read_exact(self, offset: int, length: int, what: str) -> bytes:
        data = self.source.read_at(offset, length)
        if len(data) != length:
            raise FormatError(f"{what}: file ends after {len(data)} of {length} bytes at offset {offset} (truncated?)",
                              self.path)
        return data

    def raw_payload(self, name: str) -> bytes:
        """An entry's stored bytes, as in the file."""
        info = self.info(name, exact=False)
        return self.read_exact(info.offset, info.length, f"entry {name!r}")

    def info(self, name: str, exact: bool = True) -> EntryInfo:
        """The entry's record; ``exact=False`` allows a cheaper one without bbox/counts (v1)."""
        raise NotImplementedError

    def load(self, name: str) -> SegmentationMask:
        raise NotImplementedError

    def verify(self, name: str) -> None:
        """Check one entry as far as the format allows (v2: checksum and decode; v1: decode)."""
        self.load(name)

    def staged(self, name: str, level: int) -> StagedEntry:
        """The on-disk entry ``name`` ready to be written into a new file."""
        raise NotImplementedError

    # writing whole files ------------------------------------------------------------------
    @classmethod
    def write_mask(cls, path: str | os.PathLike, mask: SegmentationMask, level: int, minor: int | None = None) -> None:
        """Write a whole .msk file; ``minor``: the minor version to write (None: the newest)."""
        raise NotImplementedError

    @classmethod
    def write_archive(cls, path: str | os.PathLike, space, entries: Sequence[StagedEntry],
                      image: ImageReference | None = None, attributes: dict | None = None,
                      review: dict | None = None, minor: int | None = None) -> None:
        """Write a whole .mska file; ``image`` is the scan the masks were drawn on, ``attributes``
        the archive-level facts, ``review`` the review decisions and edit history (v2 only), ``minor``
        the minor version (None: the newest)."""
        raise NotImplementedError

    # lifetime -----------------------------------------------------------------------------
    def close(self) -> None:
        self.source.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def preview_names(names, n: int = 8) -> str:
    """'a', 'b', ... (N in all): the entry names an error message lists."""
    names = list(names)
    more = f" ... ({len(names)} in all)" if len(names) > n else ""
    return ", ".join(repr(x) for x in names[:n]) + more if names else "(none)"
