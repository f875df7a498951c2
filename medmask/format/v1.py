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
from .checks import unnamed_values
from ..core.geometry import space_from_dict, space_to_dict
from ..errors import CodecError, FormatError, GeometryError, LimitError
from . import jsonguard

MASK_HEADER = struct.Struct("<4s2BB6Q7x")
ARCHIVE_HEADER = struct.Struct("<4s2BB7Q27x")
INDEX_RESERVE = 4000
_V1_RECORD_KEYS = {"name", "offset", "length", "mapping"}
MIN_BLOB_BYTES = 2 + 4 + 1 + 3 * 8 + 9  # flag, dtype length, "bool", ndim, shape, smallest zstd frame
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
    d = jsonguard.loads(raw, "space JSON", path)
    if not isinstance(d, dict):
        raise FormatError("space JSON is not an object", path)
    try:
        return space_from_dict(reverse_space_dict(d), max_voxels=limits.MAX_VOXELS)
    except GeometryError as exc:
        raise (LimitError if "limit" in exc.problem else FormatError)(f"space: {exc.problem}", path) from None


def format_space(space) -> bytes:
    return json.dumps(reverse_space_dict(space_to_dict(space))).encode("utf-8")


def parse_mapping(raw: bytes, path: str | None, where: str = "mapping") -> dict[str, int]:
    d = jsonguard.loads(raw, f"{where} JSON", path)
    check_mapping(d, path, where)
    return d


def check_mapping(d: Any, path: str | None, where: str) -> None:
    if not isinstance(d, dict) or not all(isinstance(k, str) and k and isinstance(v, int) and not isinstance(v, bool)
                                          and 0 < v < 2**64 for k, v in d.items()):
        raise FormatError(f"{where} must map names to positive integers, got {d!r:.120}", path)
    if len(set(d.values())) != len(d):
        raise FormatError(f"{where} gives two names the same label: {d!r:.120}", path)


def unpack_mask_header(data: bytes, file_size: int, path: str | None) -> dict[str, int]:
    if len(data) < MASK_HEADER.size:
        raise FormatError(f"file is {len(data)} bytes, shorter than the {MASK_HEADER.size}-byte v1 header", path)
    magic, major, minor, codec, so, sl, mo, ml, do, dl = MASK_HEADER.unpack_from(data)
    h = dict(codec_id=codec, space_offset=so, space_length=sl, mapping_offset=mo, mapping_length=ml,
             data_offset=do, data_length=dl)
    _check_regions(h, ("space", "mapping", "data"), file_size, MASK_HEADER.size, path)
    _check_layout(h, ("space", "mapping", "data"), file_size, MASK_HEADER.size, path)
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
    _check_layout(h, ("space", "index", "data"), file_size, ARCHIVE_HEADER.size, path)
    if count > limits.MAX_ENTRIES or count * MIN_BLOB_BYTES > dl:
        raise FormatError(f"header says {count} masks, the {dl}-byte data region cannot hold them", path)
    return h


def _check_layout(h: dict[str, int], names, file_size: int, header_size: int, path) -> None:
    """v1 writers (0.1.3 and this one) lay the regions back to back after the header, and the
    file ends with the data: a header offset that says otherwise is damaged."""
    pos = header_size
    for n in names:
        off, length = h[f"{n}_offset"], h[f"{n}_length"]
        if off != pos:
            raise FormatError(f"{n} region starts at {off}, expected {pos} (right after the "
                              f"{'header' if pos == header_size else 'previous region'}): damaged header", path)
        pos = off + length
    if pos != file_size:
        raise FormatError(f"file is {file_size} bytes but its regions end at {pos} (truncated, or bytes "
                          f"appended)", path)


def _check_regions(h: dict[str, int], names, file_size: int, header_size: int, path) -> None:
    if h["codec_id"] != 0:
        raise CodecError(f"unknown v1 codec id {h['codec_id']} (only 0 = zstd exists)", path)
    for n in names:
        off, length = h[f"{n}_offset"], h[f"{n}_length"]
        if off < header_size or off + length > file_size:
            raise FormatError(f"{n} region {off}+{length} lies outside the {file_size}-byte file (truncated?)", path)


def parse_index(raw: bytes, h: dict[str, int], file_size: int, path: str | None) -> list[dict[str, Any]]:
    """The index JSON, checked against everything v1 offers: the header's mask count, one
    record {name, offset, length, mapping} per entry, and blobs that tile the data region
    in order (as every v1 writer lays them out)."""
    text = raw.rstrip(b"\x00")
    if b"\x00" in text:
        raise FormatError("index region holds NUL bytes inside its JSON: damaged", path)
    entries = jsonguard.loads(text, "index JSON", path) if text else []
    if not isinstance(entries, list):
        raise FormatError("index is not a JSON list", path)
    if len(entries) != h["mask_count"]:
        raise FormatError(f"header says {h['mask_count']} masks, the index lists {len(entries)} "
                          f"(damaged header or index)", path)
    names = set()
    pos, data_end = h["data_offset"], h["data_offset"] + h["data_length"]
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"]:
            raise FormatError(f"index record {e!r:.80} has no name", path)
        if set(e) != _V1_RECORD_KEYS:
            raise FormatError(f"entry {e['name']!r}: record keys {sorted(e)} are not {sorted(_V1_RECORD_KEYS)}", path)
        off, length = e.get("offset"), e.get("length")
        if not (_is_int(off) and _is_int(length)) or off < 0 or length < 0 or off + length > file_size:
            raise FormatError(f"entry {e['name']!r}: bytes {off}+{length} lie outside the {file_size}-byte file", path)
        if off != pos or length < MIN_BLOB_BYTES or off + length > data_end:
            raise FormatError(f"entry {e['name']!r}: bytes {off}+{length} do not follow the previous entry at {pos} "
                              f"inside the data region {h['data_offset']}..{data_end}", path)
        pos = off + length
        check_mapping(e.get("mapping"), path, f"entry {e['name']!r} mapping")
        if e["name"] in names:
            raise FormatError(f"entry {e['name']!r} appears twice in the index", path)
        names.add(e["name"])
    if pos != data_end:
        raise FormatError(f"entries end at {pos}, the data region at {data_end}: damaged index or header", path)
    return entries


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def decode_blob(blob: bytes, expected_shape, path: str | None, where: str,
                mapping: dict[str, int] | None = None) -> np.ndarray:
    """flag + dtype + shape + zstd payload -> array; checks everything before allocating, and
    (given the mapping) that every non-zero voxel value has a name."""
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
    try:  # the compressed bytes and the array (plus the bits, for bool), before allocating them
        limits.check_allocation(2 * n * dtype.itemsize, f"{where}: decoding {list(shape)} {dtype_s} voxels")
        if flag == 1:
            raw = zstd_decompress_exact(payload, (n + 7) // 8, where)
            array = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=n).astype(bool).reshape(shape)
        else:
            raw = zstd_decompress_exact(payload, n * dtype.itemsize, where)
            array = np.frombuffer(raw, dtype=dtype).astype(dtype.newbyteorder("="), copy=True).reshape(shape)
    except (CodecError, LimitError) as exc:
        raise type(exc)(f"{where}: {exc.problem}" if not exc.problem.startswith(where) else exc.problem, path) from None
    except MemoryError:
        raise LimitError(f"{where}: out of memory decoding {list(shape)} {dtype_s} voxels", path) from None
    if mapping is not None:
        if array.dtype.kind == "i" and n and int(array.min()) < 0:
            raise FormatError(f"{where}: negative voxel value {int(array.min())} (labels are positive)", path)
        unnamed = unnamed_values(array, mapping)
        if unnamed:
            raise FormatError(f"{where}: voxel values {unnamed} have no name in the mapping {mapping!r:.120}", path)
    return array


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
