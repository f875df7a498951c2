"""Format version 2: header, index and entry coding as pure functions (see docs/format.md).

File layout::

    [0:64)    header: magic, version 2.0, flags, index offset/length/crc32, header crc32
    [64:...)  entry payloads, back to back, each covered by the crc32 in its index record
    [index)   zstd-compressed index: space, archive attributes, one record per entry

The index sits at the end so adding an entry keeps every earlier payload at its offset.
Version 2.1 added the ``rowdelta-zstd`` codec and the index keys ``attributes`` (archive-level
facts) and ``shared`` (entry metadata common to every entry, stored once). Version 2.2 (what
this module writes) stores the records as a packed binary table with a small JSON head
(:mod:`.table`), so opening parses little; 2.0 and 2.1 (JSON) indexes read unchanged.
"""
from __future__ import annotations

import json
import math
import struct
import zlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import zstandard

from .. import limits
from ..codecs import RowDeltaCodec, ZstdRawCodec, get_codec
from ..core.dtypes import LABEL_DTYPE_NAMES, dtype_max
from ..core.geometry import space_from_dict, space_to_dict, validate_bbox
from ..core.image_ref import ImageReference
from ..errors import (ChecksumError, CodecError, FormatError, GeometryError, LabelError, LimitError,
                      UnsupportedVersionError)
from . import jsonguard
from . import review as review_keys
from .checks import unnamed_values
from . import table as table2
from .records import EntryInfo, json_depth, valid_colors, valid_counts as _valid_counts, valid_mapping as _valid_mapping

MAGIC_MASK = b"MSK1"
MAGIC_ARCHIVE = b"MSKA"
VERSION = (2, 2)
HEADER_SIZE = 64
_FIELDS = struct.Struct("<4sBBHQQI")  # magic, major, minor, flags, index_offset, index_length, index_crc32
_RESERVED = HEADER_SIZE - _FIELDS.size - 4
DTYPES = LABEL_DTYPE_NAMES
DEFAULT_LEVEL = 19
INDEX_KEYS = {"kind", "writer", "space", "entries", "image", "attributes", "shared", *review_keys.HEAD_KEYS}
MAX_UNKNOWN_KEY_BYTES = 64 << 10  # a newer writer's small additions are ignored; bulk is refused


@dataclass(frozen=True)
class Header:
    magic: bytes
    version: tuple[int, int]
    flags: int
    index_offset: int
    index_length: int
    index_crc32: int


def pack_header(magic: bytes, index_offset: int, index_length: int, index_crc32: int,
                minor: int = VERSION[1]) -> bytes:
    body = _FIELDS.pack(magic, VERSION[0], minor, 0, index_offset, index_length, index_crc32) + bytes(_RESERVED)
    return body + struct.pack("<I", zlib.crc32(body))


def unpack_header(data: bytes, file_size: int, path: str | None = None) -> Header:
    """Parse and check a v2 header against the file it came from."""
    if len(data) < HEADER_SIZE:
        raise FormatError(f"file is {len(data)} bytes, shorter than the {HEADER_SIZE}-byte header (truncated?)", path)
    magic, major, minor, flags, off, length, icrc = _FIELDS.unpack_from(data)
    if magic not in (MAGIC_MASK, MAGIC_ARCHIVE):
        raise FormatError(f"not a medmask file (magic {magic!r})", path)
    if major != VERSION[0]:
        raise UnsupportedVersionError(f"format version {major}.{minor} is not supported (this medmask reads 1.x and 2.x)", path)
    (stored_crc,) = struct.unpack_from("<I", data, HEADER_SIZE - 4)
    if zlib.crc32(data[: HEADER_SIZE - 4]) != stored_crc:
        raise ChecksumError("header checksum mismatch: the header is damaged", path)
    if off < HEADER_SIZE or length == 0 or off + length > file_size:
        raise FormatError(f"index at offset {off} length {length} lies outside the {file_size}-byte file (truncated?)", path)
    return Header(magic, (major, minor), flags, off, length, icrc)


@dataclass(frozen=True)
class Index:
    """A decoded index: kind, space, entry names, and each entry's record on demand."""
    kind: str
    space: Any
    names: list[str]
    entry: Callable[[str], EntryInfo]  # name -> validated record, parsed when first asked for (KeyError if none)
    image: ImageReference | None = None
    attributes: dict = field(default_factory=dict)  # archive-level facts (MaskArchive.attributes)
    review: dict = field(default_factory=dict)  # the raw 'review'/'history' keys (format/review.py)


def share_metadata(entries: list[EntryInfo]) -> tuple[list[list], list[list[int]]]:
    """Metadata items (key, value) that two or more entries carry, stored once.

    Returns the table of shared items and, per entry, the table rows it inherits. A
    TotalSegmentator folder gives two rows (its 117 files carry one of two float32
    renderings of one affine) instead of 117 copies of ~450 bytes.
    """
    keyed = [{k: json.dumps(v, sort_keys=True, separators=(",", ":")) for k, v in e.metadata.items()}
             for e in entries]
    seen: dict[tuple[str, str], int] = {}
    for items in keyed:
        for item in items.items():
            seen[item] = seen.get(item, 0) + 1
    rows = {item: i for i, item in enumerate(item for item, n in seen.items() if n > 1)}
    table: list[list] = [[]] * len(rows)
    refs: list[list[int]] = []
    for e, items in zip(entries, keyed):
        mine = []
        for k, text in items.items():
            row = rows.get((k, text))
            if row is not None:
                table[row] = [k, e.metadata[k]]
                mine.append(row)
        refs.append(mine)
    return table, refs


def encode_index(kind: str, space, entries: list[EntryInfo], writer: str,
                 image: ImageReference | None = None, attributes: dict[str, Any] | None = None,
                 review: dict[str, Any] | None = None, minor: int = VERSION[1]) -> bytes:
    """The compressed 2.2 index (a binary table, see :mod:`.table`) of ``entries``; ``minor=1``: the
    2.1 JSON index (the same facts, for medmask 0.3, which cannot read the 2.2 table)."""
    if minor == 1:
        raw = encode_index_json(kind, space, entries, writer, image, attributes, review)
        blob = zstandard.ZstdCompressor(level=DEFAULT_LEVEL, write_content_size=True).compress(raw)
        if len(raw) > jsonguard.max_index_size(len(blob)) or \
                jsonguard.estimated_parse_bytes(raw) > jsonguard.index_allowance(len(blob)):
            raise LimitError(f"the index would be {len(raw)} bytes ({len(blob)} compressed), more than a "
                             f"reader accepts: store less metadata per entry")
        return blob
    if minor != VERSION[1]:
        raise ValueError(f"format 2.{minor} cannot be written (2.1 or 2.2)")
    rows, refs = share_metadata(entries)
    sets: dict[tuple[int, ...], int] = {}
    shared: list[dict] = []
    shared_of: list[int] = []
    for r in refs:  # entries inheriting the same rows share one metadata object
        key = tuple(r)
        if key and key not in sets:
            sets[key] = len(shared)
            shared.append({rows[i][0]: rows[i][1] for i in r})
        shared_of.append(sets[key] if key else -1)
    head: dict[str, Any] = {"kind": kind, "writer": writer, "space": space_to_dict(space)}
    if image is not None:  # absent, not null, when unset
        head["image"] = image.to_json()
    if attributes:
        head["attributes"] = attributes
    head.update(review or {})  # the 'review'/'history' keys (format/review.py), absent when empty
    raw = table2.encode(head, entries, shared, shared_of)
    blob = zstandard.ZstdCompressor(level=DEFAULT_LEVEL, write_content_size=True).compress(raw)
    allowance = jsonguard.index_allowance(len(blob))
    if len(raw) > jsonguard.max_index_size(len(blob)) or \
            any(jsonguard.estimated_parse_bytes(part) > allowance for part in table2.json_parts(raw)) or \
            table2.expansion_cost(raw) > min(allowance, limits.MEMORY_BUDGET):
        raise LimitError(f"the index would be {len(raw)} bytes ({len(blob)} compressed), more than a "
                         f"reader accepts: store less metadata per entry")  # never write what reads refuse
    return blob


def encode_index_json(kind: str, space, entries: list[EntryInfo], writer: str,
                      image: ImageReference | None = None, attributes: dict[str, Any] | None = None,
                      review: dict[str, Any] | None = None) -> bytes:
    """The 2.1 JSON index document (uncompressed) of ``entries``: what medmask 0.3.0 wrote, kept
    for tests and tools that craft files of that version."""
    table, refs = share_metadata(entries)
    doc: dict[str, Any] = {"kind": kind, "writer": writer, "space": space_to_dict(space)}
    if image is not None:
        doc["image"] = image.to_json()
    if attributes:
        doc["attributes"] = attributes
    doc.update(review or {})
    if table:
        doc["shared"] = {"metadata": table}
    doc["entries"] = [_record_to_json(e, [table[i][0] for i in r], r) for e, r in zip(entries, refs)]
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_index(blob: bytes, header: Header, path: str | None = None):
    """Checksum, decompress and parse the index; returns (kind, space, entry names)."""
    index = decode_index_full(blob, header, path)
    return index.kind, index.space, index.names


def index_document(blob: bytes, header: Header, path: str | None = None) -> dict[str, Any]:
    """The index of any 2.x file as the JSON document a 2.1 writer would store for it: for tools
    and tests that inspect or re-craft indexes as JSON (a 2.2 reader reads JSON indexes too)."""
    index = decode_index_full(blob, header, path)
    raw = decompress_index(blob, header, path)
    writer = (table2.Table(raw, jsonguard.index_allowance(len(blob)), path).doc if table2.is_table(raw) else
              jsonguard.loads(raw, "index", path, jsonguard.index_allowance(len(blob)))).get("writer", "")
    entries = [index.entry(n) for n in index.names]
    return json.loads(encode_index_json(index.kind, index.space, entries, writer, index.image, index.attributes,
                                        index.review))


def decompress_index(blob: bytes, header: Header, path: str | None = None) -> bytes:
    """The index's bytes, checksummed and decompressed within the limits (index bombs refused)."""
    if zlib.crc32(blob) != header.index_crc32:
        raise ChecksumError("index checksum mismatch: the entry table is damaged", path)
    try:
        size = zstandard.get_frame_parameters(blob).content_size
        if size == zstandard.CONTENTSIZE_UNKNOWN:
            raise FormatError("index frame does not declare its decompressed size", path)
        if size > jsonguard.max_index_size(len(blob)):
            raise LimitError(f"index claims {size} bytes once decompressed, more than an index stored in "
                             f"{len(blob)} bytes can need ({jsonguard.max_index_size(len(blob))}): refused "
                             f"(index bomb?)", path)
        raw = zstandard.ZstdDecompressor().decompress(blob, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise FormatError(f"index is not valid compressed JSON ({exc})", path) from None
    except MemoryError:
        raise LimitError(f"out of memory decompressing the {size}-byte index", path) from None
    if len(raw) != size:
        raise FormatError(f"index decompresses to {len(raw)} bytes, its frame says {size}", path)
    return raw


def decode_index_full(blob: bytes, header: Header, path: str | None = None) -> Index:
    """Decode a 2.0, 2.1 (JSON) or 2.2 (table) index; records are validated one by one when first
    used, so listing names or reading one entry of a big archive does not pay for all of them.
    Unknown top-level keys are ignored (bulky ones refused)."""
    raw = decompress_index(blob, header, path)
    allowance = jsonguard.index_allowance(len(blob))
    binary = table2.is_table(raw)
    if not binary and raw[:3] == table2.MAGIC[:3]:  # "MKT3"...: a table of a later minor version
        raise UnsupportedVersionError(f"index table {raw[:4]!r} of format 2.{header.version[1]} is newer than this "
                                      f"medmask reads (2.0-2.2): upgrade medmask, or ask for the file written "
                                      f"with --format-version 2.1 / format_version='2.1'", path)
    if binary:
        table = table2.Table(raw, allowance, path)
        doc, known = table.doc, table2.HEAD_KEYS
        names = table.names
    else:
        doc = jsonguard.loads(raw, "index", path, allowance)
        known = INDEX_KEYS
        if type(doc) is not dict or not isinstance(doc.get("entries"), list):
            raise FormatError("index lacks kind/entries", path)
    del raw
    if doc.get("kind") not in ("mask", "archive"):
        raise FormatError("index lacks kind/entries", path)
    for key in set(doc) - known:
        if len(json.dumps(doc[key])) > MAX_UNKNOWN_KEY_BYTES:
            raise FormatError(f"index holds an unknown key {key!r:.40} of more than {MAX_UNKNOWN_KEY_BYTES} bytes: "
                              f"not written by a medmask this one can read, refused", path)
    try:
        space = space_from_dict(doc.get("space"), max_voxels=limits.MAX_VOXELS)
    except GeometryError as exc:
        raise (LimitError if "limit" in exc.problem else FormatError)(f"index space: {exc.problem}", path) from None
    shape, data_end = space.shape, header.index_offset
    if binary:
        def entry(name: str) -> EntryInfo:
            return table.entry(name, shape, data_end)
    else:
        records = doc["entries"]
        if len(records) > limits.MAX_ENTRIES:
            raise LimitError(f"index lists {len(records)} entries", path)
        try:
            names = [r["name"] for r in records]
            by_name = dict(zip(names, records))
        except (TypeError, KeyError):  # a record is not an object, has no name, or a name is unhashable
            names, by_name = [], {}
        if len(by_name) != len(records) or not all(type(n) is str and n for n in names):
            _name_problem(records, path)
        names = list(by_name)
        shared = doc.get("shared", {})
        rows = shared.get("metadata", []) if isinstance(shared, dict) else None
        if not isinstance(rows, list) or not all(isinstance(t, list) and len(t) == 2 and isinstance(t[0], str)
                                                 for t in rows):
            raise FormatError(f"index 'shared' must hold a 'metadata' list of [key, value] pairs, got "
                              f"{shared!r:.80}", path)
        rows = [tuple(t) for t in rows]

        def entry(name: str) -> EntryInfo:
            return parse_record(by_name[name], shape, data_end, path, rows)
    if doc["kind"] == "mask" and len(names) != 1:
        raise FormatError(f"a .msk file must hold exactly one entry, index lists {len(names)}", path)
    image = doc.get("image")
    if image is not None:
        image = ImageReference.from_json(image, path)
    attributes = doc.get("attributes", {})
    if not isinstance(attributes, dict):
        raise FormatError(f"index attributes must be an object, got {attributes!r:.80}", path)
    check_stored_depth(attributes, "index attributes", path)
    review = {k: doc[k] for k in review_keys.HEAD_KEYS if k in doc}
    return Index(doc["kind"], space, names, entry, image, attributes, review)


def _name_problem(records: list, path: str | None) -> None:
    """Raise the FormatError that says which record's name is missing, invalid or repeated."""
    seen: set[str] = set()
    for r in records:
        name = r.get("name") if isinstance(r, dict) else None
        if not isinstance(name, str) or not name:
            raise FormatError(f"index record has no valid name: {r!r:.80}", path)
        if name in seen:
            raise FormatError(f"index lists entry {name!r} twice", path)
        seen.add(name)


def _record_to_json(e: EntryInfo, shared_keys=(), refs=()) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "name": e.name, "dtype": e.dtype, "mapping": e.mapping,
        "bbox": None if e.bbox is None else [list(p) for p in e.bbox],
        "codec": e.codec, "offset": e.offset, "length": e.length, "crc32": e.crc32,
        "counts": {str(k): v for k, v in (e.counts or {}).items()},
    }
    if e.colors:
        rec["colors"] = {k: list(v) for k, v in e.colors.items()}
    own = {k: v for k, v in e.metadata.items() if k not in shared_keys} if shared_keys else e.metadata
    if own:
        rec["metadata"] = own
    if refs:
        rec["shared_metadata"] = refs
    return rec


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def parse_record(r: Any, shape, data_end: int, path: str | None,
                 shared_metadata: list[tuple[str, Any]] = ()) -> EntryInfo:
    """Validate one raw index record (JSON types only: ``type(v) is int`` excludes bools)."""
    if type(r) is not dict:
        raise FormatError(f"index record is not an object: {r!r:.80}", path)
    name = r.get("name")
    where = f"entry {name!r}"
    if type(name) is not str or not name:
        raise FormatError(f"index record has no valid name: {r!r:.80}", path)
    dtype = r.get("dtype")
    if type(dtype) is not str or dtype not in DTYPES:
        raise FormatError(f"{where}: unsupported dtype {dtype!r}", path)
    mapping = r.get("mapping")
    top = dtype_max(dtype)
    if type(mapping) is not dict or not _valid_mapping(mapping, top):
        raise FormatError(f"{where}: invalid mapping {mapping!r:.120}", path)
    bbox = r.get("bbox")
    if bbox is not None:
        try:
            bbox = _bbox(bbox, shape)
        except GeometryError as exc:
            raise FormatError(f"{where}: {exc.problem}", path) from None
    codec = r.get("codec")
    if (bbox is None) != (codec is None) or (codec is not None and type(codec) is not dict):
        raise FormatError(f"{where}: codec {codec!r} does not match bbox {bbox!r}", path)
    offset, length, crc = r.get("offset"), r.get("length"), r.get("crc32")
    if type(offset) is not int or type(length) is not int or type(crc) is not int or length < 0 \
            or not 0 <= crc < 2**32:
        raise FormatError(f"{where}: invalid offset/length/crc32", path)
    if offset < HEADER_SIZE or offset + length > data_end:
        raise FormatError(f"{where}: bytes {offset}..{offset + length} lie outside the data region "
                          f"{HEADER_SIZE}..{data_end} (truncated or lying index)", path)
    counts = r.get("counts", {})
    if type(counts) is not dict or not _valid_counts(counts):
        raise FormatError(f"{where}: invalid counts", path)
    colors = r.get("colors", {})
    if not valid_colors(colors):
        raise FormatError(f"{where}: invalid colors", path)
    metadata = r.get("metadata", {})
    if type(metadata) is not dict:
        raise FormatError(f"{where}: metadata must be an object", path)
    check_stored_depth(metadata, f"{where}: metadata", path)
    refs = r.get("shared_metadata")
    if refs is not None:
        if type(refs) is not list or not all(type(i) is int and 0 <= i < len(shared_metadata) for i in refs):
            raise FormatError(f"{where}: shared_metadata {refs!r:.80} names no rows of the "
                              f"{len(shared_metadata)}-row shared table", path)
        metadata = {**dict(shared_metadata[i] for i in refs), **metadata}
        check_stored_depth(metadata, f"{where}: metadata", path)
    return EntryInfo(name=name, dtype=dtype, mapping=dict(mapping), bbox=bbox, codec=codec, offset=offset,
                     length=length, crc32=crc, counts={int(k): v for k, v in counts.items()},
                     colors={k: tuple(float(x) for x in c) for k, c in colors.items()} if colors else {},
                     metadata=metadata)


def _bbox(bbox: Any, shape) -> tuple:
    """A stored bbox as a tuple of pairs; the common well-formed case without the general checks."""
    if type(bbox) is list and len(bbox) == 3:
        (a0, b0), (a1, b1), (a2, b2) = bbox if all(type(p) is list and len(p) == 2 for p in bbox) else ((0, 0),) * 3
        if all(type(v) is int for v in (a0, b0, a1, b1, a2, b2)) \
                and 0 <= a0 < b0 <= shape[0] and 0 <= a1 < b1 <= shape[1] and 0 <= a2 < b2 <= shape[2]:
            return (a0, b0), (a1, b1), (a2, b2)
    return validate_bbox(bbox, shape)  # raises GeometryError naming what is wrong


def check_entry(info: EntryInfo, path: str | None = None) -> dict:
    """Refuse names and metadata that cannot be stored as UTF-8 JSON (naming ``path``); the metadata as stored."""
    check_text(info.name, "entry name", path)
    for label in info.mapping:
        check_text(label, f"entry {info.name!r}: label name", path)
    return json_safe_metadata(info.metadata, info.name, path)


def encode_entry(info: EntryInfo, crop: np.ndarray | None, level: int = DEFAULT_LEVEL,
                 path: str | None = None) -> tuple[EntryInfo, bytes]:
    """Code ``crop`` (the labels inside ``info.bbox``; None when empty) with the smallest codec.

    ``info`` says what the entry is (name, dtype, mapping, bbox, counts, colours, metadata);
    the returned copy adds codec, length and crc32 (the offset is the writer's business).
    Names and metadata that cannot be stored as UTF-8 JSON are refused, naming ``path``.
    """
    metadata = check_entry(info, path)
    if info.bbox is None:
        codec_cfg, payload = None, b""
    else:
        if crop is None or tuple(crop.shape) != info.crop_shape or str(crop.dtype) != info.dtype:
            got = None if crop is None else (tuple(crop.shape), str(crop.dtype))
            raise FormatError(f"entry {info.name!r}: crop {got} does not match bbox {info.bbox} / dtype {info.dtype}")
        codec, payload = RowDeltaCodec.best_for(crop, level)
        # raw bytes win only for noisy crops; a fast low-level try tells whether the slow
        # high-level one is worth it (it cost 80 % of writing TotalSegmentator output)
        quick = ZstdRawCodec(min(level, 3))
        quick_payload = quick.encode(crop)
        if len(quick_payload) < len(payload):
            codec, payload = quick, quick_payload
            if level > 3:
                raw = ZstdRawCodec(level)
                raw_payload = raw.encode(crop)
                if len(raw_payload) < len(payload):
                    codec, payload = raw, raw_payload
        codec_cfg = codec.get_config()
    coded = replace(info, codec=codec_cfg, offset=0, length=len(payload), crc32=zlib.crc32(payload),
                    metadata=metadata)
    return coded, payload


def decode_entry(info: EntryInfo, payload: bytes, path: str | None = None) -> np.ndarray | None:
    """Verify one entry's payload and decode its bbox crop (None for an empty entry)."""
    if len(payload) != info.length:
        raise FormatError(f"entry {info.name!r}: read {len(payload)} of {info.length} bytes (truncated file)", path)
    if zlib.crc32(payload) != info.crc32:
        raise ChecksumError(f"entry {info.name!r}: checksum mismatch, its stored bytes are damaged", path)
    if info.bbox is None:
        return None
    try:
        codec = get_codec(info.codec)
        crop = codec.decode(payload, info.crop_shape, np.dtype(info.dtype))
    except (CodecError, LimitError) as exc:
        raise type(exc)(f"entry {info.name!r}: {exc.problem}", path) from None
    except MemoryError:
        raise LimitError(f"entry {info.name!r}: out of memory decoding its {info.crop_shape} crop", path) from None
    # a mask may hold values without a name (medmask writes them, and counts them); a value
    # neither named nor counted contradicts the index
    unnamed = unnamed_values(crop, info.mapping, also=(info.counts or {}).keys())
    if unnamed:
        raise FormatError(f"entry {info.name!r}: voxel values {unnamed} are neither named in its mapping "
                          f"nor counted in its record (forged or damaged)", path)
    return crop


def check_text(text: str, what: str, path: str | None = None) -> None:
    """Names are stored as UTF-8: a lone surrogate (e.g. from a mis-decoded file name) cannot be."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LabelError(f"{what} {text!r} is not valid Unicode text ({exc.reason} at {exc.start}); "
                         f"it cannot be stored", path) from None


def json_safe_metadata(metadata: dict, name: str, path: str | None = None) -> dict:
    """A JSON copy of an entry's metadata; FormatError naming the entry if it is not plain JSON
    storable as UTF-8, or nests deeper than ``limits.MAX_JSON_DEPTH``."""
    if json_depth(metadata, limits.MAX_JSON_DEPTH) > limits.MAX_JSON_DEPTH:
        raise FormatError(f"metadata of {name!r} nests deeper than {limits.MAX_JSON_DEPTH} levels "
                          f"(medmask.limits.MAX_JSON_DEPTH)", path)
    try:
        text = json.dumps(metadata, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
        return json.loads(text)
    except UnicodeEncodeError as exc:
        raise FormatError(f"metadata of {name!r} holds text that is not valid Unicode ({exc.reason}: "
                          f"{exc.object[max(0, exc.start - 10):exc.end + 10]!r})", path) from None
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise FormatError(f"metadata of {name!r} is not JSON-serialisable: {exc}", path) from None
        raise FormatError(f"metadata of {name!r} holds NaN or Infinity ({_first_nonfinite(metadata)}): strict JSON "
                          f"readers refuse them, so medmask does not store them; store None or a string "
                          f"such as 'nan' instead", path) from None
    except (TypeError, RecursionError) as exc:
        raise FormatError(f"metadata of {name!r} is not JSON-serialisable: {exc}", path) from None


def _first_nonfinite(value: Any, where: str = "") -> str:
    """Where the first NaN/Infinity in plain JSON data is, e.g. "['scores'][2] = nan"."""
    stack = [(value, where)]
    while stack:
        v, at = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return f"{at} = {v}"
        if isinstance(v, dict):
            stack.extend((x, f"{at}[{k!r}]") for k, x in v.items())
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{at}[{i}]") for i, x in enumerate(v))
    return "?"


def check_stored_depth(value: Any, what: str, path: str | None) -> None:
    """FormatError when stored JSON (metadata, attributes) nests deeper than ``limits.MAX_JSON_DEPTH``:
    what medmask refuses to write it refuses to read, so it is never re-written either."""
    if json_depth(value, limits.MAX_JSON_DEPTH) > limits.MAX_JSON_DEPTH:
        raise FormatError(f"{what} nests deeper than {limits.MAX_JSON_DEPTH} levels "
                          f"(medmask.limits.MAX_JSON_DEPTH)", path)
