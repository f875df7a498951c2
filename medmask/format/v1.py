"""Format version 1.0, as written by the original medmask 0.1.3 (read, and written on request).

.msk:  header ``<4s2B B 6Q 7x`` (62 B): magic MSK1, 1, 0, codec id, space/mapping/data offset+length.
.mska: header ``<4s2B B 7Q 27x`` (90 B): magic MSKA, 1, 0, codec id, space/index/data offset+length,
       entry count; the index is a zero-padded JSON list of {name, offset, length, mapping}.
Space JSON is stored in x, y, z order (``Space.reverse_axis_order()`` of the in-memory z, y, x one).
Each data blob: flag byte (1 = bit-packed bool), dtype string length + string, ndim, ndim x uint64
shape, then a zstd frame of the array bytes (or of ``np.packbits(arr.ravel())``).
"""
from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
import zstandard

from .. import limits
from ..codecs.base import zstd_decompress_exact
from ..core.geometry import space_from_dict, space_to_dict
from ..errors import CodecError, FormatError, GeometryError, LimitError

MASK_HEADER = struct.Struct("<4s2BB6Q7x")
ARCHIVE_HEADER = struct.Struct("<4s2BB7Q27x")
INDEX_RESERVE = 4000
_BLOB_DTYPES = {"bool", "uint8", "uint16", "uint32", "int8", "int16", "int32", "int64", "uint64"}


def reverse_space_dict(d: dict[str, Any]) -> dict[str, Any]:
    """x,y,z <-> z,y,x: shape and spacing reversed, first and third orientation swapped."""
    out = dict(d)
    for key in ("shape", "spacing"):
        if isinstance(d.get(key), list):
            out[key] = d[key][::-1]
    out["x_orientation"], out["z_orientation"] = d.get("z_orientation", [0.0, 0.0, 1.0]), d.get("x_orientation", [1.0, 0.0, 0.0])
    return out


def parse_space(raw: bytes, path: str | None):
    try:
        d = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8/JSON, >4300-digit ints, deep nesting
        raise FormatError(f"space JSON is invalid ({exc})", path) from None
    if not isinstance(d, dict):
        raise FormatError("space JSON is not an object", path)
    try:
        return space_from_dict(reverse_space_dict(d), max_voxels=limits.MAX_VOXELS)
    except GeometryError as exc:
        raise (LimitError if "limit" in exc.problem else FormatError)(f"space: {exc.problem}", path) from None


def format_space(space) -> bytes:
    return json.dumps(reverse_space_dict(space_to_dict(space))).encode("utf-8")


def parse_mapping(raw: bytes, path: str | None, where: str = "mapping") -> dict[str, int]:
    try:
        d = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8/JSON, >4300-digit ints, deep nesting
        raise FormatError(f"{where} JSON is invalid ({exc})", path) from None
    check_mapping(d, path, where)
    return d


def check_mapping(d: Any, path: str | None, where: str) -> None:
    if not isinstance(d, dict) or not all(isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
                                          for k, v in d.items()):
        raise FormatError(f"{where} must map names to positive integers, got {d!r:.120}", path)


def unpack_mask_header(data: bytes, file_size: int, path: str | None) -> dict[str, int]:
    if len(data) < MASK_HEADER.size:
        raise FormatError(f"file is {len(data)} bytes, shorter than the {MASK_HEADER.size}-byte v1 header", path)
    magic, major, minor, codec, so, sl, mo, ml, do, dl = MASK_HEADER.unpack_from(data)
    h = dict(codec_id=codec, space_offset=so, space_length=sl, mapping_offset=mo, mapping_length=ml,
             data_offset=do, data_length=dl)
    _check_regions(h, ("space", "mapping", "data"), file_size, MASK_HEADER.size, path)
    return h


def unpack_archive_header(data: bytes, file_size: int, path: str | None) -> dict[str, int]:
    if len(data) < ARCHIVE_HEADER.size:
        raise FormatError(f"file is {len(data)} bytes, shorter than the {ARCHIVE_HEADER.size}-byte v1 header", path)
    magic, major, minor, codec, so, sl, io, il, do, dl, count = ARCHIVE_HEADER.unpack_from(data)
    h = dict(codec_id=codec, space_offset=so, space_length=sl, index_offset=io, index_length=il,
             data_offset=do, data_length=dl, mask_count=count)
    _check_regions(h, ("space", "index"), file_size, ARCHIVE_HEADER.size, path)
    if do < ARCHIVE_HEADER.size or do + dl > file_size:
        raise FormatError(f"data region {do}+{dl} lies outside the {file_size}-byte file (truncated?)", path)
    return h


def _check_regions(h: dict[str, int], names, file_size: int, header_size: int, path) -> None:
    if h["codec_id"] != 0:
        raise CodecError(f"unknown v1 codec id {h['codec_id']} (only 0 = zstd exists)", path)
    for n in names:
        off, length = h[f"{n}_offset"], h[f"{n}_length"]
        if off < header_size or off + length > file_size:
            raise FormatError(f"{n} region {off}+{length} lies outside the {file_size}-byte file (truncated?)", path)


def parse_index(raw: bytes, h: dict[str, int], file_size: int, path: str | None) -> list[dict[str, Any]]:
    try:
        entries = json.loads(raw.rstrip(b"\x00").decode("utf-8") or "[]")
    except (ValueError, RecursionError) as exc:  # bad UTF-8/JSON, >4300-digit ints, deep nesting
        raise FormatError(f"index JSON is invalid ({exc})", path) from None
    if not isinstance(entries, list) or len(entries) > limits.MAX_ENTRIES:
        raise FormatError("index is not a JSON list", path)
    names = set()
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"]:
            raise FormatError(f"index record {e!r:.80} has no name", path)
        off, length = e.get("offset"), e.get("length")
        if not (isinstance(off, int) and isinstance(length, int)) or off < 0 or length < 0 or off + length > file_size:
            raise FormatError(f"entry {e['name']!r}: bytes {off}+{length} lie outside the {file_size}-byte file", path)
        check_mapping(e.get("mapping"), path, f"entry {e['name']!r} mapping")
        if e["name"] in names:
            raise FormatError(f"entry {e['name']!r} appears twice in the index", path)
        names.add(e["name"])
    return entries


def decode_blob(blob: bytes, expected_shape, path: str | None, where: str) -> np.ndarray:
    """flag + dtype + shape + zstd payload -> array; checks everything before allocating."""
    try:
        flag, dlen = blob[0], blob[1]
        dtype_s = blob[2:2 + dlen].decode("ascii")
        pos = 2 + dlen
        ndim = blob[pos]
        pos += 1
        if len(blob) < pos + 8 * ndim:
            raise IndexError
        shape = struct.unpack_from(f"<{ndim}Q", blob, pos)
        pos += 8 * ndim
    except (IndexError, UnicodeDecodeError, struct.error):
        raise FormatError(f"{where}: data blob header is truncated or invalid", path) from None
    if dtype_s not in _BLOB_DTYPES or flag not in (0, 1) or (flag == 1) != (dtype_s == "bool"):
        raise FormatError(f"{where}: unsupported blob dtype {dtype_s!r} / flag {flag}", path)
    if tuple(shape) != tuple(expected_shape):
        raise FormatError(f"{where}: blob shape {list(shape)} differs from space shape {list(expected_shape)}", path)
    n = math.prod(shape)
    dtype = np.dtype(dtype_s).newbyteorder("<")
    payload = blob[pos:]
    try:
        if flag == 1:
            raw = zstd_decompress_exact(payload, (n + 7) // 8, where)
            return np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=n).astype(bool).reshape(shape)
        raw = zstd_decompress_exact(payload, n * dtype.itemsize, where)
    except CodecError as exc:
        raise CodecError(exc.problem, path) from None
    return np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def encode_blob(array: np.ndarray, level: int = 3) -> bytes:
    arr = np.ascontiguousarray(array)
    dtype_s = str(arr.dtype)
    flag = 1 if arr.dtype == bool else 0
    payload = np.packbits(arr.ravel()).tobytes() if flag else arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    head = bytes([flag, len(dtype_s)]) + dtype_s.encode("ascii") + bytes([arr.ndim]) + struct.pack(f"<{arr.ndim}Q", *arr.shape)
    return head + zstandard.ZstdCompressor(level=level).compress(payload)


def build_mask_file(space, mapping: dict[str, int], array: np.ndarray) -> bytes:
    space_b = format_space(space)
    map_b = json.dumps(mapping).encode("utf-8")
    blob = encode_blob(array)
    so = MASK_HEADER.size
    mo = so + len(space_b)
    do = mo + len(map_b)
    head = MASK_HEADER.pack(b"MSK1", 1, 0, 0, so, len(space_b), mo, len(map_b), do, len(blob))
    return head + space_b + map_b + blob


def build_archive_file(space, entries: list[tuple[str, dict[str, int], np.ndarray]]) -> bytes:
    space_b = format_space(space)
    blobs = [encode_blob(a) for _, _, a in entries]
    so = ARCHIVE_HEADER.size
    io = so + len(space_b)
    # the index length depends on the offsets it lists; reserve as the original did, grow if needed
    reserve = INDEX_RESERVE
    while True:
        do = io + reserve
        index, pos = [], do
        for (name, mapping, _), blob in zip(entries, blobs):
            index.append({"name": name, "offset": pos, "length": len(blob), "mapping": mapping})
            pos += len(blob)
        index_b = json.dumps(index).encode("utf-8")
        if len(index_b) <= reserve:
            break
        reserve = 2 * len(index_b)
    data = b"".join(blobs)
    head = ARCHIVE_HEADER.pack(b"MSKA", 1, 0, 0, so, len(space_b), io, reserve, do, len(data), len(entries))
    return head + space_b + index_b.ljust(reserve, b"\x00") + data
