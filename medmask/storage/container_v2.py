"""Format version 2 containers: checksummed header, payloads, compressed JSON index at the end."""
from __future__ import annotations

import os
from typing import Sequence

from ..core.image_ref import ImageReference
from ..core.segmask import SegmentationMask
from ..errors import EntryNotFoundError, FormatError
from ..format import v2
from ..format.records import EntryInfo
from .container import Container, StagedEntry, preview_names
from .entries import decode_mask, encode_mask
from .writer import write_v2


class V2Container(Container):
    version = 2
    stores_attributes = True

    def _open(self, head: bytes) -> None:
        header = v2.unpack_header(head, self._size_bound, self.path)
        self.minor = header.version[1]
        blob = self.read_exact(header.index_offset, header.index_length, "index")
        index = v2.decode_index_full(blob, header, self.path)
        kind, self.space, self.image, self.attributes = index.kind, index.space, index.image, index.attributes
        self.review = index.review
        self._entry = index.entry
        if kind != self.kind:
            raise FormatError(f"magic says {self.kind} but the index says {kind}", self.path)
        self._data_end = header.index_offset
        self.names = index.names
        self._parsed: dict[str, EntryInfo] = {}

    def info(self, name: str, exact: bool = True) -> EntryInfo:
        info = self._parsed.get(name)
        if info is None:
            try:
                info = self._parsed[name] = self._entry(name)
            except KeyError:
                raise EntryNotFoundError(f"no entry named {name!r}; entries: {preview_names(self.names)}",
                                         self.path) from None
        return info

    def load(self, name: str) -> SegmentationMask:
        info = self.info(name)  # one lookup; an empty entry has no bytes to read
        payload = self.read_exact(info.offset, info.length, f"entry {name!r}") if info.length else b""
        return decode_mask(info, payload, self.space, self.path)

    def staged(self, name: str, level: int) -> StagedEntry:
        info = self.info(name)
        # the payload is copied as stored, read only when the new file is written
        return StagedEntry(info, False, lambda: (info, lambda: self.raw_payload(name)), lambda: self.load(name))

    @classmethod
    def write_mask(cls, path: str | os.PathLike, mask: SegmentationMask, level: int, minor: int | None = None) -> None:
        info, payload = encode_mask(mask, "mask", level, os.fspath(path))
        write_v2(path, "mask", mask.space, [(info, lambda: payload)], minor=minor)

    @classmethod
    def write_archive(cls, path: str | os.PathLike, space, entries: Sequence[StagedEntry],
                      image: ImageReference | None = None, attributes: dict | None = None,
                      review: dict | None = None, minor: int | None = None) -> None:
        write_v2(path, "archive", space, [e.v2_item() for e in entries], image=image, attributes=attributes,
                 review=review, minor=minor)

