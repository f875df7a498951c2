"""Open a .msk/.mska file of any version and read entries by name.

The reader keeps its file descriptor: a writer replacing the file (os.replace) does not
disturb it, so one reader always sees one consistent version of the file.
"""
from __future__ import annotations

import os
import stat

import numpy as np

from ..core.segmask import SegmentationMask
from ..errors import EntryNotFoundError, FormatError, MedMaskError, UnsupportedVersionError
from ..format import v1, v2
from ..format.records import EntryInfo
from .locking import FileIdentity

V1_CODEC = {"id": "v1-blob"}


class ContainerReader:
    """Header + index of one file, held open; entries decoded on demand."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self._fd = -1
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            raise MedMaskError("no such file", self.path) from None
        except IsADirectoryError:
            raise MedMaskError("is a directory, not a medmask file", self.path) from None
        try:
            st = os.fstat(self._fd)
            if stat.S_ISDIR(st.st_mode):  # os.open() of a directory succeeds on Linux
                raise MedMaskError("is a directory, not a medmask file", self.path)
            self.file_size = st.st_size
            self._open()
        except BaseException:
            self.close()  # and forget the fd: a second close could hit a reused descriptor
            raise

    def _open(self) -> None:
        head = self.pread(0, max(v2.HEADER_SIZE, v1.ARCHIVE_HEADER.size))
        if len(head) < 8:
            raise FormatError(f"file is only {len(head)} bytes: not a medmask file (empty or truncated)", self.path)
        magic, major = head[:4], head[4]
        if magic not in (v2.MAGIC_MASK, v2.MAGIC_ARCHIVE):
            raise FormatError(f"not a medmask file (magic {magic!r}, expected b'MSK1' or b'MSKA')", self.path)
        self.kind = "mask" if magic == v2.MAGIC_MASK else "archive"
        self.image = None  # ImageReference of the scan, v2 archives only
        self.version = major
        self._v1_cache: dict[str, EntryInfo] = {}
        if major == 2:
            header = v2.unpack_header(head, self.file_size, self.path)
            blob = self.pread(header.index_offset, header.index_length)
            index = v2.decode_index_full(blob, header, self.path)
            kind, self.space, self._records, self.image = index.kind, index.space, index.records, index.image
            if kind != self.kind:
                raise FormatError(f"magic says {self.kind} but the index says {kind}", self.path)
            self._data_end = header.index_offset
            self.names: list[str] = list(self._records)
            self._parsed: dict[str, EntryInfo] = {}
        elif major == 1:
            entries = self._open_v1(head)
            self.names = [e.name for e in entries]
            self._parsed = {e.name: e for e in entries}
        else:
            raise UnsupportedVersionError(f"format version {major}.{head[5]} is not supported "
                                          f"(this medmask reads 1.x and 2.x)", self.path)

    def _open_v1(self, head: bytes) -> list[EntryInfo]:
        if self.kind == "mask":
            h = v1.unpack_mask_header(head, self.file_size, self.path)
            self.space = v1.parse_space(self.pread(h["space_offset"], h["space_length"]), self.path)
            mapping = v1.parse_mapping(self.pread(h["mapping_offset"], h["mapping_length"]), self.path)
            records = [{"name": "mask", "offset": h["data_offset"], "length": h["data_length"], "mapping": mapping}]
        else:
            h = v1.unpack_archive_header(head, self.file_size, self.path)
            self.space = v1.parse_space(self.pread(h["space_offset"], h["space_length"]), self.path)
            records = v1.parse_index(self.pread(h["index_offset"], h["index_length"]), h, self.file_size, self.path)
        full = tuple((0, n) for n in self.space.shape)
        return [EntryInfo(name=r["name"], dtype="unknown", mapping=r["mapping"], bbox=full, codec=V1_CODEC,  # type: ignore[arg-type]
                          offset=r["offset"], length=r["length"]) for r in records]

    # low level --------------------------------------------------------------------------
    def identity(self) -> FileIdentity:
        """Inode, size, mtime and header of the file this reader holds (for change detection)."""
        return FileIdentity.of_fd(self._fd)

    def pread(self, offset: int, length: int) -> bytes:
        chunks, got = [], 0
        while got < length:
            chunk = os.pread(self._fd, length - got, offset + got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def raw_payload(self, name: str) -> bytes:
        info = self.info(name, exact=False)
        data = self.pread(info.offset, info.length)
        if len(data) != info.length:
            raise FormatError(f"entry {name!r}: file ends after {len(data)} of {info.length} bytes (truncated)", self.path)
        return data

    # entries ------------------------------------------------------------------------------
    def info(self, name: str, exact: bool = True) -> EntryInfo:
        info = self._parsed.get(name)
        if info is None:
            record = self._records.get(name) if self.version == 2 else None
            if record is None:
                raise EntryNotFoundError(f"no entry named {name!r}; entries: {preview_names(self.names)}", self.path)
            info = self._parsed[name] = v2.parse_record(record, self.space.shape, self._data_end, self.path)
        if exact and info.codec is V1_CODEC:  # v1 indexes hold no bbox/counts: decode once to learn them
            if name not in self._v1_cache:
                mask = self.load(name)
                self._v1_cache[name] = EntryInfo(
                    name=name, dtype=str(mask.dtype), mapping=info.mapping, bbox=mask.bbox, codec=V1_CODEC,
                    offset=info.offset, length=info.length, counts=mask.voxel_counts())
            return self._v1_cache[name]
        return info

    def load(self, name: str) -> SegmentationMask:
        info = self.info(name, exact=False)
        payload = self.raw_payload(name)
        if info.codec is V1_CODEC:
            array = v1.decode_blob(payload, tuple(self.space.shape), self.path, f"entry {name!r}")
            if array.dtype.kind in "ub" and max(info.mapping.values(), default=0) > (1 if array.dtype == bool else np.iinfo(array.dtype).max):
                raise FormatError(f"entry {name!r}: mapping {info.mapping} names labels a {array.dtype} array cannot hold", self.path)
            try:
                array.flags.writeable = False  # decoded for this mask alone: no copy needed
                return SegmentationMask(array, info.mapping, space=self.space)
            except MedMaskError as exc:
                raise FormatError(f"entry {name!r}: {exc.problem}", self.path) from None
        return v2.decode_entry(info, payload, self.space, self.path)

    def verify(self, name: str) -> None:
        """Checksum (v2) or full decode (v1, which has no checksums) of one entry."""
        self.load(name)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

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
