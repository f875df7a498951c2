"""docs/format.md is a spec: an independent reader written from it (struct, zlib, zstandard,
json and numpy only, no medmask code) reads what medmask writes, and the page's hex dump
is a real file."""
from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

from medmask import MaskArchive, SegmentationMask, load_mask
from medmask.codecs import RunLengthCodec

REPO = Path(__file__).resolve().parents[1]
SPEC = (REPO / "docs" / "format.md").read_text(encoding="utf-8")
TINY = REPO / "tests" / "data" / "tiny_v2.msk"


# an independent reader, following docs/format.md ------------------------------------------
def read_varints(raw: bytes) -> list[int]:
    out, value, shift = [], 0, 0
    for byte in raw:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(value)
            value, shift = 0, 0
    assert shift == 0, "stream ends inside a number"
    return out


def planes(raw: bytes, pos: int, n: int, width: int, signed: bool = False) -> tuple[list[int], int]:
    """n numbers of ``width`` bytes stored as byte planes (all low bytes first)."""
    nums = [0] * n
    for k in range(width):
        for i in range(n):
            nums[i] |= raw[pos + k * n + i] << (8 * k)
    if signed:
        nums = [v - (1 << (8 * width)) if v >= 1 << (8 * width - 1) else v for v in nums]
    return nums, pos + width * n


def decode_rowdelta(raw: bytes, order: list[int], shape: tuple[int, ...]) -> np.ndarray:
    version, cw, bw, vw, value = struct.unpack_from("<BBBBI", raw)
    assert version == 1
    tshape = [shape[i] for i in order]
    width, rows = tshape[-1], int(np.prod(tshape[:-1]))
    counts, pos = planes(raw, 8, rows, cw)
    diffs, pos = planes(raw, pos, sum(counts), bw, signed=True)
    bounds: list[list[int]] = [[] for _ in range(rows)]
    it, slot = iter(diffs), 0
    while any(c > slot for c in counts):  # slot by slot, each a difference from the row above
        prev = 0
        for r in range(rows):
            if counts[r] > slot:
                prev += next(it)
                bounds[r].append(prev)
        slot += 1
    n_values = sum(counts) - sum(1 for c in counts if c)
    values, pos = planes(raw, pos, n_values, vw) if vw else ([], pos)
    assert pos == len(raw)
    out = np.zeros((rows, width), dtype=np.uint64)
    vals = iter(values)
    for r, b in enumerate(bounds):
        for i in range(len(b) - 1):  # the segment starting at each boundary but the last
            out[r, b[i]:b[i + 1]] = (value if i % 2 == 0 else 0) if not vw else next(vals)
    return np.transpose(out.reshape(tshape), np.argsort(order))


def decode_payload(codec: dict, payload: bytes, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    raw = zstandard.ZstdDecompressor().decompress(payload)
    store = np.uint8 if dtype == "bool" else np.dtype(dtype).newbyteorder("<")
    if codec["id"] == "zstd":
        return np.frombuffer(raw, dtype=store).reshape(shape).astype(dtype)
    if codec["id"] == "rle-zstd":
        nums = read_varints(raw)
        runs = nums[0]
        values, lengths = nums[1:1 + runs], nums[1 + runs:]
        assert len(lengths) == runs and sum(lengths) == int(np.prod(shape))
        a, b, c = codec["order"]
        flat = np.repeat(np.array(values, dtype=np.uint64), lengths)
        walked = flat.reshape(shape[a], shape[b], shape[c])  # axis c fastest, a slowest
        return np.transpose(walked, np.argsort(codec["order"])).astype(dtype)
    if codec["id"] == "rowdelta-zstd":
        return decode_rowdelta(raw, codec["order"], shape).astype(dtype)
    if codec["id"] == "bitpack-zstd":
        bits = np.unpackbits(np.frombuffer(raw, np.uint8), count=int(np.prod(shape))).reshape(shape)
        return np.where(bits, codec["value"], 0).astype(dtype)
    pytest.skip(f"codec {codec['id']} is not in this independent reader yet")


def read_table(raw: bytes) -> dict:
    """A 2.2 index table as the 2.1 JSON document saying the same (docs/format.md, "Index, version 2.2")."""
    magic, j, n, r, e = struct.unpack_from("<4sIIII", raw)
    assert 20 + j + n * r + e == len(raw)
    head = json.loads(raw[20:20 + j].decode("utf-8"))
    extras = raw[20 + j + n * r:]
    entries = []
    for i, name in enumerate(head["names"]):
        (offset, length, voxels, z0, z1, y0, y1, x0, x1, crc, codec, meta, xoff, xlen, dtype, flags,
         _) = struct.unpack_from("<QQQ6IIIIIIBBH", raw, 20 + j + i * r)
        extra = json.loads(extras[xoff:xoff + xlen].decode("utf-8")) if xlen else {}
        metadata = {**(head["metadata"][meta] if meta != 0xFFFFFFFF else {}), **extra.get("metadata", {})}
        rec = {"name": name, "dtype": ["bool", "uint8", "uint16", "uint32"][dtype],
               "mapping": {name: 1} if flags & 2 else extra["mapping"],
               "bbox": [[z0, z1], [y0, y1], [x0, x1]] if flags & 1 else None,
               "codec": head["codecs"][codec] if flags & 1 else None,
               "offset": offset, "length": length, "crc32": crc,
               "counts": {"1": voxels} if flags & 4 else extra.get("counts", {})}
        if "colors" in extra:
            rec["colors"] = extra["colors"]
        if metadata:
            rec["metadata"] = metadata
        entries.append(rec)
    return {**{k: v for k, v in head.items() if k not in ("names", "codecs", "metadata")}, "entries": entries}


def independent_read(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    magic, major, minor, flags, ioff, ilen, icrc = struct.unpack_from("<4sBBHQQI", data)
    assert magic in (b"MSK1", b"MSKA") and major == 2
    assert struct.unpack_from("<I", data, 60)[0] == zlib.crc32(data[:60])
    blob = data[ioff:ioff + ilen]
    assert zlib.crc32(blob) == icrc
    raw = zstandard.ZstdDecompressor().decompress(blob)
    doc = read_table(raw) if raw[:4] == b"MKT2" else json.loads(raw.decode("utf-8"))
    assert doc["kind"] == {b"MSK1": "mask", b"MSKA": "archive"}[magic]
    shape = tuple(doc["space"]["shape"])
    volumes = {}
    for rec in doc["entries"]:
        full = np.zeros(shape, dtype=rec["dtype"])
        payload = data[rec["offset"]:rec["offset"] + rec["length"]]
        assert zlib.crc32(payload) == rec["crc32"]
        if rec["bbox"] is not None:
            box = tuple(slice(lo, hi) for lo, hi in rec["bbox"])
            crop_shape = tuple(hi - lo for lo, hi in rec["bbox"])
            full[box] = decode_payload(rec["codec"], payload, crop_shape, rec["dtype"])
        values, counts = np.unique(full[full != 0], return_counts=True)
        assert {str(int(v)): int(c) for v, c in zip(values, counts)} == rec["counts"]
        volumes[rec["name"]] = full
    return doc, volumes


# the tests ------------------------------------------------------------------------------------
def test_independent_reader_reads_what_medmask_writes(tmp_path, masks):
    p = tmp_path / "a.mska"
    with MaskArchive(p, "w", space=masks["liver"].space, level=3) as a:
        a.add_segmasks(masks)
    doc, volumes = independent_read(p.read_bytes())
    assert list(volumes) == list(masks)
    codecs = {r["codec"]["id"] for r in doc["entries"] if r["codec"]}
    assert codecs & {"rowdelta-zstd", "rle-zstd"}, codecs  # the run codec the writer picks is covered
    for name, m in masks.items():
        assert np.array_equal(volumes[name], m.data), name
        rec = next(r for r in doc["entries"] if r["name"] == name)
        assert rec["mapping"] == m.mapping.to_dict()


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 0, 1], [1, 2, 0], [2, 1, 0]])
def test_rle_axis_order_as_documented(order):
    rng = np.random.default_rng(3)
    crop = (rng.random((4, 5, 6)) > 0.7).astype(np.uint16) * rng.integers(1, 900, (4, 5, 6)).astype(np.uint16)
    codec = RunLengthCodec(level=3, order=order)
    back = decode_payload(codec.get_config(), codec.encode(crop), crop.shape, "uint16")
    assert np.array_equal(back, crop)


def test_the_hex_dump_is_the_tiny_file():
    data = TINY.read_bytes()
    dump = SPEC[SPEC.index("## A whole file, byte by byte"):]
    lines = re.findall(r"^([0-9a-f]{8}): ((?:[0-9a-f]{2} ?)+)", dump, flags=re.M)
    assert len(lines) >= 7
    for offset, hexes in lines:
        off = int(offset, 16)
        chunk = bytes.fromhex(hexes.replace(" ", ""))
        assert data[off:off + len(chunk)] == chunk, offset
    doc, volumes = independent_read(data)
    shown = json.loads(re.search(r"```json\n(\{\"kind\".*?)```", dump, flags=re.S).group(1))
    assert doc == shown
    expected = np.zeros((2, 2, 3), np.uint8)
    expected[1, 0, 1:3] = 1
    assert np.array_equal(volumes["mask"], expected)
    m = load_mask(TINY)
    assert isinstance(m, SegmentationMask) and m.mapping.to_dict() == {"liver": 1}
    assert np.array_equal(m.data, expected) and tuple(m.space.spacing) == (2.5, 1.0, 1.0)
    assert len(data) == 322


def test_independent_reader_single_value_rows(tmp_path, space):
    z, y, x = np.ogrid[:20, :30, :40]
    ball = (z - 10) ** 2 / 64 + (y - 15) ** 2 / 100 + (x - 20) ** 2 / 196 <= 1  # bool: one value, no values stored
    p = tmp_path / "ball.msk"
    SegmentationMask(ball, {"ball": 1}, space=space).save(p)
    doc, volumes = independent_read(p.read_bytes())
    assert np.array_equal(volumes["mask"], ball)


@pytest.mark.parametrize("stem", ["golden_v2_2_archive.mska", "golden_v2_1_archive.mska"])
def test_independent_reader_reads_the_golden_files(stem):
    import hashlib
    exp = json.loads((REPO / "tests" / "data" / f"{stem}.json").read_text())
    doc, volumes = independent_read((REPO / "tests" / "data" / stem).read_bytes())
    assert list(volumes) == list(exp["entries"])
    for name, full in volumes.items():
        assert hashlib.sha256(np.ascontiguousarray(full).tobytes()).hexdigest() == exp["entries"][name]["array_sha256"]
    assert doc.get("attributes") == exp["attributes"]
