"""The version 2.2 index: per-entry numbers as a packed binary table, names and rarer facts as JSON.

A 2.1 index is one JSON document; opening a file parses all of it (~20 KB for the 117
TotalSegmentator entries, 0.15-0.25 ms) and each record is a dict to validate. A 2.2 index
keeps the same facts, laid out so that opening parses only a small JSON *head* (space,
names, the few distinct codec configs and shared metadata) and an entry's record is one
``struct.unpack_from`` of a fixed-size row, decoded when the entry is first used. What is
not a number (a mapping other than ``{name: 1}``, colours, own metadata, counts of
multi-label entries) sits in a per-entry JSON *extra*, parsed only for that entry.

Decompressed layout (docs/format.md, "Index, version 2.2")::

    head    <4sIIII   magic b"MKT2", head_json_length J, entry count N, record size R, extras length E
    [20, 20+J)        UTF-8 JSON head
    N x R bytes       the table, one row per entry in the order of the head's "names"
    E bytes           the extras: JSON objects, each referred to by (offset, length) from its row

Every size is checked against the decompressed length before anything is read by it, so a
lying size or offset is a FormatError naming the file, never an allocation.
"""
from __future__ import annotations

import json
import struct
from typing import Any

from .. import limits
from ..core.dtypes import LABEL_DTYPE_NAMES, dtype_max
from ..errors import FormatError, LimitError
from . import jsonguard
from .records import EntryInfo, json_depth, valid_colors, valid_counts, valid_mapping

MAGIC = b"MKT2"
HEAD = struct.Struct("<4sIIII")
# offset, length, voxels, bbox z0 z1 y0 y1 x0 x1, crc32, codec, metadata set, extra offset, extra length,
# dtype, flags, reserved
RECORD = struct.Struct("<QQQ6IIIIIIBBH")
NONE = 0xFFFFFFFF                 # "no codec" (empty entry) / "no shared metadata"
HAS_BBOX = 1                      # bbox and codec are set (else an empty entry: no payload, no codec)
MAPPING_SELF = 2                  # mapping is {name: 1} (a binary mask named after its entry)
COUNT_ONE = 4                     # counts is {1: voxels}
KNOWN_FLAGS = HAS_BBOX | MAPPING_SELF | COUNT_ONE
DTYPE_CODES = ("bool", "uint8", "uint16", "uint32")  # dtype byte -> dtype; never reordered
HEAD_KEYS = {"kind", "writer", "space", "image", "attributes", "codecs", "metadata", "names", "review", "history"}
EXTRA_KEYS = ("mapping", "counts", "colors", "metadata")
assert set(DTYPE_CODES) == set(LABEL_DTYPE_NAMES)


def is_table(raw: bytes) -> bool:
    """Whether a decompressed index is a 2.2 table (a 2.0/2.1 index is JSON: it starts with '{')."""
    return raw[:4] == MAGIC


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def encode(head: dict[str, Any], entries: list[EntryInfo], shared: list[dict], shared_of: list[int]) -> bytes:
    """The decompressed 2.2 index. ``head`` holds kind, writer, space (and image/attributes);
    ``shared`` the distinct shared-metadata objects, ``shared_of[i]`` entry i's (or -1)."""
    codecs: dict[str, int] = {}
    codec_list: list[dict] = []
    rows, extras = [], bytearray()
    for e, meta in zip(entries, shared_of):
        flags, voxels, extra = 0, 0, {}
        if e.bbox is not None:
            flags |= HAS_BBOX
            key = json.dumps(e.codec, sort_keys=True)
            if key not in codecs:
                codecs[key] = len(codec_list)
                codec_list.append(e.codec)
            codec = codecs[key]
            (z0, z1), (y0, y1), (x0, x1) = e.bbox
        else:
            codec, z0, z1, y0, y1, x0, x1 = NONE, 0, 0, 0, 0, 0, 0
        if e.mapping == {e.name: 1}:
            flags |= MAPPING_SELF
        else:
            extra["mapping"] = e.mapping
        counts = e.counts or {}
        if list(counts) == [1]:
            flags |= COUNT_ONE
            voxels = counts[1]
        elif counts:
            extra["counts"] = {str(k): v for k, v in counts.items()}
        if e.colors:
            extra["colors"] = {k: list(v) for k, v in e.colors.items()}
        own = {k: v for k, v in e.metadata.items() if meta < 0 or k not in shared[meta]}
        if own:
            extra["metadata"] = own
        xoff, xlen = len(extras), 0
        if extra:
            text = _dumps(extra)
            extras += text
            xlen = len(text)
        if len(extras) >= NONE:
            raise LimitError("the index's per-entry extras would exceed 4 GiB: store less metadata per entry")
        rows.append(RECORD.pack(e.offset, e.length, voxels, z0, z1, y0, y1, x0, x1, e.crc32 or 0, codec,
                                NONE if meta < 0 else meta, xoff, xlen, DTYPE_CODES.index(e.dtype), flags, 0))
    doc = dict(head)
    doc["codecs"] = codec_list
    if shared:
        doc["metadata"] = shared
    doc["names"] = [e.name for e in entries]
    text = _dumps(doc)
    if len(text) >= NONE:
        raise LimitError("the index's JSON head would exceed 4 GiB: too many or too long entry names")
    return HEAD.pack(MAGIC, len(text), len(entries), RECORD.size, len(extras)) + text + b"".join(rows) + bytes(extras)


def json_parts(raw: bytes) -> tuple[bytes, bytes]:
    """(head JSON, extras) of an encoded table, for the writer's parse-cost check."""
    _, j, n, r, e = HEAD.unpack_from(raw)
    return raw[HEAD.size:HEAD.size + j], raw[len(raw) - e:]


class Table:
    """An opened 2.2 index: names at once, each entry's record when first asked for."""

    def __init__(self, raw: bytes, allowance: int, path: str | None):
        self.path = path
        if len(raw) < HEAD.size:
            raise FormatError(f"index table is {len(raw)} bytes, shorter than its {HEAD.size}-byte head", path)
        _, j, n, r, e = HEAD.unpack_from(raw)
        if r < RECORD.size:
            raise FormatError(f"index table rows of {r} bytes are shorter than the {RECORD.size} a row needs", path)
        if n > limits.MAX_ENTRIES:
            raise LimitError(f"index lists {n} entries", path)
        if HEAD.size + j + n * r + e != len(raw):
            raise FormatError(f"index table sizes (head {j}, {n} rows of {r} bytes, extras {e}) do not add up to "
                              f"the {len(raw)} bytes of the index (lying or damaged table)", path)
        self.row_size = r
        self.table_start = HEAD.size + j
        self.extras_start = self.table_start + n * r
        self.raw = raw
        if e:
            jsonguard.check_parse_cost(raw[self.extras_start:], allowance, "index extras", path)
        self.doc = jsonguard.loads(raw[HEAD.size:self.table_start], "index head", path, allowance)
        doc = self.doc
        if type(doc) is not dict:
            raise FormatError("index head is not a JSON object", path)
        names = doc.get("names")
        if type(names) is not list or len(names) != n:
            raise FormatError(f"index head lists {len(names) if type(names) is list else 'no'} names for "
                              f"{n} table rows", path)
        self.position = {name: i for i, name in enumerate(names) if type(name) is str and name}
        if len(self.position) != n:
            bad = next((x for x in names if type(x) is not str or not x), None)
            if bad is not None or "" in names:
                raise FormatError(f"index record has no valid name: {bad!r:.80}", path)
            seen: set = set()
            dup = next(x for x in names if x in seen or seen.add(x))
            raise FormatError(f"index lists entry {dup!r} twice", path)
        self.names = names
        codecs = doc.get("codecs", [])
        if type(codecs) is not list or not all(type(c) is dict and type(c.get("id")) is str for c in codecs):
            raise FormatError(f"index 'codecs' must be a list of codec objects with a string 'id', got {codecs!r:.80}",
                              path)
        self.codecs = codecs
        shared = doc.get("metadata", [])
        if type(shared) is not list or not all(type(m) is dict for m in shared):
            raise FormatError(f"index 'metadata' must be a list of objects, got {shared!r:.80}", path)
        self.shared = shared
        # what decoding rows may cost in all (see _spend): rows may share one extra, shared
        # metadata or codec, and each row expands to all of it
        self.work_limit = min(allowance, limits.MEMORY_BUDGET)
        self.work = 0
        self._extras: dict[tuple[int, int], tuple[dict, int]] = {}   # (offset, length) -> (parsed, cost)
        self._costs: dict[tuple[str, int], int] = {}                  # ("metadata"/"codec", i) -> cost
        self._deep_ok: set[tuple] = set()                             # metadata objects checked for depth

    def _spend(self, cost: int, where: str) -> None:
        """Count what one more decoded row expands to; LimitError once the rows of this file
        together expand to more than an index of its stored size may (amplification)."""
        self.work += cost
        if self.work > self.work_limit:
            raise LimitError(f"{where}: the index rows decoded so far expand to ~{self.work >> 20} MiB of "
                             f"records (rows pointing at the same extras, shared metadata or codecs), more than "
                             f"an index stored in this many bytes may ({self.work_limit >> 20} MiB): refused "
                             f"(amplification attack?)", self.path)

    def _check_depth(self, key: tuple, value: Any, where: str) -> None:
        """Metadata nesting deeper than limits.MAX_JSON_DEPTH is refused (checked once per object)."""
        if key not in self._deep_ok:
            if json_depth(value, limits.MAX_JSON_DEPTH) > limits.MAX_JSON_DEPTH:
                raise FormatError(f"{where}: metadata nests deeper than {limits.MAX_JSON_DEPTH} levels "
                                  f"(medmask.limits.MAX_JSON_DEPTH)", self.path)
            self._deep_ok.add(key)

    def _cost_of(self, kind: str, i: int, value: Any) -> int:
        """The estimated parse cost of a head object (shared metadata set, codec), computed once."""
        key = (kind, i)
        cost = self._costs.get(key)
        if cost is None:
            cost = self._costs[key] = jsonguard.estimated_parse_bytes(_dumps(value))
        return cost

    def entry(self, name: str, shape, data_end: int) -> EntryInfo:
        """Validate and decode the row of entry ``name`` (a KeyError if there is none)."""
        try:
            return self._entry(name, shape, data_end)
        except MemoryError:
            raise LimitError(f"entry {name!r}: out of memory decoding its index row", self.path) from None

    def _entry(self, name: str, shape, data_end: int) -> EntryInfo:
        path = self.path
        i = self.position[name]
        (offset, length, voxels, z0, z1, y0, y1, x0, x1, crc, codec_i, meta_i, xoff, xlen, dtype_i, flags,
         _) = RECORD.unpack_from(self.raw, self.table_start + i * self.row_size)
        where = f"entry {name!r}"
        if dtype_i >= len(DTYPE_CODES) or flags & ~KNOWN_FLAGS:
            raise FormatError(f"{where}: unknown dtype code {dtype_i} or flags {flags:#x} in its index row", path)
        dtype = DTYPE_CODES[dtype_i]
        if flags & HAS_BBOX:
            if not (z0 < z1 <= shape[0] and y0 < y1 <= shape[1] and x0 < x1 <= shape[2]):
                raise FormatError(f"{where}: bbox {[[z0, z1], [y0, y1], [x0, x1]]} is empty or outside the volume "
                                  f"{tuple(shape)}", path)
            if codec_i >= len(self.codecs):
                raise FormatError(f"{where}: codec {codec_i} names none of the index's {len(self.codecs)} codecs",
                                  path)
            bbox = (z0, z1), (y0, y1), (x0, x1)
            codec = self.codecs[codec_i]  # shared by the rows that use it, never changed
            self._spend(self._cost_of("codec", codec_i, codec), where)
        else:
            if codec_i != NONE or length:
                raise FormatError(f"{where}: an empty entry (no bbox) with a codec or payload bytes", path)
            bbox = codec = None
        if offset < 64 or offset + length > data_end:
            raise FormatError(f"{where}: bytes {offset}..{offset + length} lie outside the data region "
                              f"64..{data_end} (truncated or lying index)", path)
        extra = self._extra(where, xoff, xlen) if xlen else {}
        # (every row may point at the same extra: it is parsed once, but each row counts it)
        mapping = extra.get("mapping")
        if flags & MAPPING_SELF:
            if mapping is not None:
                raise FormatError(f"{where}: two mappings (its row's flag and its extra)", path)
            mapping = {name: 1}
        else:
            if type(mapping) is not dict or not valid_mapping(mapping, dtype_max(dtype)):
                raise FormatError(f"{where}: invalid mapping {mapping!r:.120}", path)
        counts = extra.get("counts")
        if flags & COUNT_ONE:
            if counts is not None:
                raise FormatError(f"{where}: two voxel counts (its row and its extra)", path)
            counts = {1: voxels}
        elif counts is None:
            counts = {}
        else:
            if type(counts) is not dict or not valid_counts(counts):
                raise FormatError(f"{where}: invalid counts", path)
            counts = {int(k): v for k, v in counts.items()}
        colors = extra.get("colors")
        if colors is not None:
            if not valid_colors(colors):
                raise FormatError(f"{where}: invalid colors", path)
            colors = {k: tuple(float(x) for x in c) for k, c in colors.items()}
        metadata = extra.get("metadata", {})
        if type(metadata) is not dict:
            raise FormatError(f"{where}: metadata must be an object", path)
        if xlen:
            self._check_depth(("extra", xoff, xlen), metadata, where)
        if meta_i != NONE:
            if meta_i >= len(self.shared):
                raise FormatError(f"{where}: shared metadata {meta_i} names none of the index's "
                                  f"{len(self.shared)}", path)
            self._spend(self._cost_of("metadata", meta_i, self.shared[meta_i]), where)
            self._check_depth(("metadata", meta_i), self.shared[meta_i], where)
            # the shared object itself when the entry has no metadata of its own: not a copy per row
            metadata = {**self.shared[meta_i], **metadata} if metadata else self.shared[meta_i]
        return EntryInfo(name, dtype, mapping, bbox, codec, offset, length, crc, counts, colors or {}, metadata)

    def _extra(self, where: str, xoff: int, xlen: int) -> dict:
        """The row's extra, parsed once however many rows point at it; each row counts its cost."""
        cached = self._extras.get((xoff, xlen))
        if cached is not None:
            self._spend(cached[1], where)
            return cached[0]
        start = self.extras_start + xoff
        if start + xlen > len(self.raw):
            raise FormatError(f"{where}: its extra at {xoff}..{xoff + xlen} lies outside the "
                              f"{len(self.raw) - self.extras_start}-byte extras (lying table)", self.path)
        raw = self.raw[start:start + xlen]
        cost = jsonguard.estimated_parse_bytes(raw)
        self._spend(cost, where)  # before parsing: overlapping extras are no way around the bound
        try:
            extra = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:
            raise FormatError(f"{where}: its index extra is not valid JSON ({exc})", self.path) from None
        if type(extra) is not dict:
            raise FormatError(f"{where}: its index extra is not a JSON object", self.path)
        self._extras[(xoff, xlen)] = (extra, cost)
        return extra


def expansion_cost(raw: bytes) -> int:
    """What reading every row of an encoded table costs in :meth:`Table._spend` units: the
    writer checks it against the reader's allowance, so medmask never writes what it refuses."""
    _, j, n, r, e = HEAD.unpack_from(raw)
    doc = json.loads(raw[HEAD.size:HEAD.size + j])
    start = HEAD.size + j
    extras = start + n * r
    shared = [jsonguard.estimated_parse_bytes(_dumps(m)) for m in doc.get("metadata", [])]
    codecs = [jsonguard.estimated_parse_bytes(_dumps(c)) for c in doc.get("codecs", [])]
    total = 0
    for row in struct.iter_unpack(RECORD.format, raw[start:extras]):
        codec_i, meta_i, xoff, xlen, flags = row[10], row[11], row[12], row[13], row[15]
        if flags & HAS_BBOX:
            total += codecs[codec_i]
        if meta_i != NONE:
            total += shared[meta_i]
        if xlen:
            total += jsonguard.estimated_parse_bytes(raw[extras + xoff:extras + xoff + xlen])
    return total

