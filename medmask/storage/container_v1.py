"""Format version 1.0 containers, as medmask 0.1.3 wrote them (read; written on request).

v1 indexes hold neither bounding boxes, counts nor checksums, and entries are whole
volumes: an exact record needs one decode, and verifying means decoding.
"""
from __future__ import annotations

import os
import warnings
from typing import Sequence

from ..core.dtypes import dtype_max
from ..core.image_ref import ImageReference
from ..core.segmask import SegmentationMask
from ..errors import EntryNotFoundError, FormatError, MedMaskError
from ..format import v1
from ..format.records import EntryInfo
from .container import Container, StagedEntry, preview_names
from .entries import encode_mask
from .writer import write_v1_archive, write_v1_mask

V1_CODEC = {"id": "v1-blob"}  # codec of a v1 record: the whole-volume blob of format/v1.py


class V1Container(Container):
    version = 1
    stores_attributes = False

    def _open(self, head: bytes) -> None:
        size = self._size_bound
        if self.kind == "mask":
            h = v1.unpack_mask_header(head, size, self.path)
            self.space = v1.parse_space(self.read_exact(h["space_offset"], h["space_length"], "space"), self.path)
            mapping = v1.parse_mapping(self.read_exact(h["mapping_offset"], h["mapping_length"], "mapping"), self.path)
            records = [{"name": "mask", "offset": h["data_offset"], "length": h["data_length"], "mapping": mapping}]
        else:
            h = v1.unpack_archive_header(head, size, self.path)
            self.space = v1.parse_space(self.read_exact(h["space_offset"], h["space_length"], "space"), self.path)
            records = v1.parse_index(self.read_exact(h["index_offset"], h["index_length"], "index"), h, size, self.path)
        full = tuple((0, n) for n in self.space.shape)
        self._records = {r["name"]: EntryInfo(name=r["name"], dtype="unknown", mapping=r["mapping"], bbox=full,  # type: ignore[arg-type]
                                              codec=V1_CODEC, offset=r["offset"], length=r["length"])
                         for r in records}
        self.names = list(self._records)
        self._exact: dict[str, EntryInfo] = {}

    def info(self, name: str, exact: bool = True) -> EntryInfo:
        info = self._records.get(name)
        if info is None:
            raise EntryNotFoundError(f"no entry named {name!r}; entries: {preview_names(self.names)}", self.path)
        if not exact:
            return info
        if name not in self._exact:  # the index holds no bbox/counts: decode once to learn them
            mask = self.load(name)
            self._exact[name] = EntryInfo(
                name=name, dtype=str(mask.dtype), mapping=info.mapping, bbox=mask.bbox, codec=V1_CODEC,
                offset=info.offset, length=info.length, counts=mask.voxel_counts())
        return self._exact[name]

    def load(self, name: str) -> SegmentationMask:
        info = self.info(name, exact=False)
        # (no mapping given: v1 files may hold values without a name, and have no counts to tell them)
        array = v1.decode_blob(self.raw_payload(name), tuple(self.space.shape), self.path, f"entry {name!r}")
        if array.dtype.kind in "ub" and max(info.mapping.values(), default=0) > dtype_max(array.dtype):
            raise FormatError(f"entry {name!r}: mapping {info.mapping} names labels a {array.dtype} array cannot hold", self.path)
        try:
            array.flags.writeable = False  # decoded for this mask alone: no copy needed
            return SegmentationMask(array, info.mapping, space=self.space)
        except MedMaskError as exc:
            raise FormatError(f"entry {name!r}: {exc.problem}", self.path) from None

    def staged(self, name: str, level: int) -> StagedEntry:
        def v2_item():  # a v1 blob cannot go into a v2 file as it is: re-code it
            info, payload = encode_mask(self.load(name), name, level, self.path)
            return info, lambda: payload
        return StagedEntry(self.info(name, exact=False), False, v2_item, lambda: self.load(name))

    @classmethod
    def write_mask(cls, path: str | os.PathLike, mask: SegmentationMask, level: int, minor: int | None = None) -> None:
        warn_v1_drops(mask.colors, mask.metadata, path)
        write_v1_mask(path, mask.space, mask.mapping.to_dict(), mask.data)

    @classmethod
    def write_archive(cls, path: str | os.PathLike, space, entries: Sequence[StagedEntry],
                      image: ImageReference | None = None, attributes: dict | None = None,
                      review: dict | None = None, minor: int | None = None) -> None:
        if review:  # MaskArchive refuses review decisions on v1 and records no history there
            warnings.warn(f"{os.fspath(path)}: format version 1 cannot store review decisions or edit history; "
                          f"not written (format_version=2 keeps them)", UserWarning, stacklevel=4)
        if attributes:  # MaskArchive refuses to set them on v1; a caller going around it is told here
            warnings.warn(f"{os.fspath(path)}: format version 1 cannot store archive attributes; not written "
                          f"(format_version=2 keeps them)", UserWarning, stacklevel=4)
        if image is not None:
            warnings.warn(f"{os.fspath(path)}: format version 1 cannot store the image reference; not written "
                          f"(format_version=2 keeps it)", UserWarning, stacklevel=4)
        for e in entries:
            if e.new:  # new in this write: say what v1 drops
                warn_v1_drops(e.info.colors, e.info.metadata, path, e.info.name)
        write_v1_archive(path, space, [(e.info.name, e.info.mapping, e.mask().data) for e in entries])


def warn_v1_drops(colors, metadata, path, name: str | None = None) -> None:
    """Format 1.0 has no place for colours or metadata: say so instead of dropping them silently."""
    lost = [what for what, value in (("colours", colors), ("metadata", metadata)) if value]
    if lost:
        where = f"entry {name!r} of " if name else ""
        warnings.warn(f"{where}{os.fspath(path)}: format version 1 cannot store {' and '.join(lost)}; "
                      f"not written (format_version=2 keeps them)", UserWarning, stacklevel=4)
