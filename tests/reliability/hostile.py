"""Shared by the reliability tests and the fuzz/soak scripts in benchmarks/.

* sample files of both format versions (``make_samples``),
* builders of *hostile* files whose checksums are valid (``craft_v2``, ``craft_v1_mask``...),
* mutation generators (``truncations``, ``flips``),
* the oracle ``outcome(path)``: read everything a viewer would read and return
  ``("ok", digest)`` or ``("error", class name)`` for a MedMaskError naming the file.
  Any other exception propagates: that is a bug.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import tracemalloc
import zlib
from typing import Any, Iterator

import numpy as np
import zstandard
from spacetransformer import Space

from medmask import MaskArchive, MedMaskError, SegmentationMask, load_mask, save_mask
from medmask.codecs import BitPackCodec, RunLengthCodec, ZstdRawCodec
from medmask.codecs.base import MAX_ZSTD_RATIO
from medmask.codecs.varint import encode_varints
from medmask.format import v1, v2

COMPAT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "compat")
XORS = (0x01, 0x80, 0xFF)
SHAPE = (6, 7, 8)
MiB = 1 << 20


# --- sample data ---------------------------------------------------------------------------
def sample_space(shape=SHAPE) -> Space:
    return Space(shape=shape, origin=(1.5, -2.0, 3.0), spacing=(0.8, 0.9, 2.5))


def sample_masks(shape=SHAPE, seed: int = 0) -> dict[str, SegmentationMask]:
    """Small masks that exercise every codec the writer picks (rle-zstd, zstd) and an empty entry."""
    rng = np.random.default_rng(seed)
    space = sample_space(shape)
    organ = np.zeros(shape, bool)
    organ[1:4, 2:5, 3:7] = True
    labels = np.zeros(shape, np.uint8)
    labels[0:3, :, :4] = 1
    labels[2:6, 3:, 5:] = 2
    noisy = (rng.integers(0, 3, size=shape) * 300).astype(np.uint16)  # incompressible runs -> raw zstd
    return {
        "organ": SegmentationMask(organ, {"liver": 1}, space, colors={"liver": (1, 0, 0)}, metadata={"by": "test"}),
        "labels": SegmentationMask(labels, {"a": 1, "b": 2}, space),
        "noisy": SegmentationMask(noisy, {"x": 300, "y": 600}, space),
        "empty": SegmentationMask(np.zeros(shape, np.uint8), {"nothing": 1}, space),
    }


def make_samples(directory: str) -> dict[str, str]:
    """Write one valid file of each kind and version; returns label -> path."""
    masks = sample_masks()
    out = {}
    for version in (1, 2):
        p = os.path.join(directory, f"sample_v{version}.msk")
        save_mask(masks["labels"], p, format_version=version)
        out[f"v{version}.msk"] = p
        p = os.path.join(directory, f"sample_v{version}.mska")
        with MaskArchive(p, "w", format_version=version) as a:
            for name, m in masks.items():
                if version == 1 and name == "empty":
                    continue
                a.add_segmask(m if version == 2 else SegmentationMask(m.data, m.mapping, m.space), name)
        out[f"v{version}.mska"] = p
    return out


def compat_files() -> list[str]:
    if not os.path.isdir(COMPAT_DIR):
        return []
    return sorted(os.path.join(COMPAT_DIR, f) for f in os.listdir(COMPAT_DIR) if f.endswith((".msk", ".mska")))


# --- the oracle ----------------------------------------------------------------------------
def _mask_digest(h, m: SegmentationMask) -> None:
    h.update(repr((m.mapping.to_dict(), str(m.dtype), m.bbox, sorted(m.colors.items()),
                   json.dumps(m.metadata, sort_keys=True))).encode())
    h.update(np.ascontiguousarray(m.crop_data).tobytes())


def read_everything(path: str) -> str:
    """Everything a viewer reads: geometry, names, every record, every entry's voxels. Returns a digest."""
    h = hashlib.sha256()
    if path.endswith(".msk"):
        m = load_mask(path)
        h.update(repr(sorted(v2.space_to_dict(m.space).items())).encode())
        _mask_digest(h, m)
        return h.hexdigest()
    with MaskArchive(path, "r") as a:
        h.update(repr(sorted(v2.space_to_dict(a.space).items())).encode())
        for name in a.names:
            a.entry_info(name)
            h.update(name.encode())
            _mask_digest(h, a.load_segmask(name))
    return h.hexdigest()


class NotNamedError(AssertionError):
    pass


def outcome(path: str) -> tuple[str, str]:
    """("ok", digest) or ("error", class name). Non-MedMaskError exceptions propagate."""
    try:
        return "ok", read_everything(path)
    except MedMaskError as exc:
        if path not in str(exc):
            raise NotNamedError(f"{type(exc).__name__} does not name the file: {exc}") from exc
        return "error", type(exc).__name__


def measured_outcome(path: str) -> tuple[tuple[str, str], int]:
    """outcome() plus the tracemalloc peak (numpy and zstandard allocations are traced)."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        res = outcome(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1] - base
        if started:
            tracemalloc.stop()
    return res, peak


def memory_cap(file_size: int, decoded_bytes: int = 0) -> int:
    """What reading a file may cost: a constant, what its zstd frames could at most expand to,
    and a few copies of what it legitimately decodes to (the declared geometry)."""
    return 16 * MiB + 8 * MAX_ZSTD_RATIO * file_size // 2 + 4 * decoded_bytes


# --- mutations -----------------------------------------------------------------------------
def truncations(data: bytes) -> Iterator[tuple[str, bytes]]:
    for n in range(len(data)):
        yield f"truncate@{n}", data[:n]


def flips(data: bytes, positions=None, xors=XORS) -> Iterator[tuple[str, bytes]]:
    buf = bytearray(data)
    for i in positions if positions is not None else range(len(data)):
        for x in xors:
            buf[i] ^= x
            yield f"xor{x:#04x}@{i}", bytes(buf)
            buf[i] ^= x


def write(path: str, data: bytes) -> str:
    with open(path, "wb") as f:
        f.write(data)
    return path


# --- hostile files with valid checksums --------------------------------------------------------
def zstd(data: bytes, content_size: bool = True) -> bytes:
    return zstandard.ZstdCompressor(level=3, write_content_size=content_size).compress(data)


def craft_v2(doc: Any = None, payloads: bytes = b"", *, raw_index: bytes | None = None, magic: bytes = v2.MAGIC_ARCHIVE,
             index_blob: bytes | None = None) -> bytes:
    """A v2 file whose header and index checksums are right, whatever the index says."""
    raw = raw_index if raw_index is not None else json.dumps(doc).encode()
    blob = index_blob if index_blob is not None else zstd(raw)
    off = v2.HEADER_SIZE + len(payloads)
    return v2.pack_header(magic, off, len(blob), zlib.crc32(blob)) + payloads + blob


def record(**kw) -> dict:
    base = {"name": "a", "dtype": "uint8", "mapping": {"x": 1}, "bbox": None, "codec": None,
            "offset": 64, "length": 0, "crc32": 0, "counts": {}}
    base.update(kw)
    return base


def entry_doc(payload: bytes, shape=(4, 4, 4), bbox=None, codec=None, dtype="uint8", mapping=None, kind="archive", **kw):
    bbox = bbox if bbox is not None else [[0, s] for s in shape]
    rec = record(bbox=bbox, codec=codec, dtype=dtype, mapping=mapping or {"x": 1}, length=len(payload),
                 crc32=zlib.crc32(payload), **kw)
    return {"kind": kind, "space": {"shape": list(shape)}, "entries": [rec]}


def rle_payload(nums, content_size=True) -> bytes:
    return zstd(encode_varints(np.array(nums, dtype=np.uint64)), content_size)


def valid_v2_doc(path: str) -> tuple[dict, bytes, bytes]:
    """(index JSON, payload region, magic) of a real v2 file, to re-craft with edits."""
    data = open(path, "rb").read()
    h = v2.unpack_header(data, len(data))
    doc = v2.index_document(data[h.index_offset:h.index_offset + h.index_length], h)  # 2.2 tables as 2.1 JSON
    return doc, data[v2.HEADER_SIZE:h.index_offset], h.magic


def craft_v1_mask(space_json: bytes, mapping_json: bytes, blob: bytes, *, codec: int = 0, lie: dict | None = None) -> bytes:
    so = v1.MASK_HEADER.size
    mo = so + len(space_json)
    do = mo + len(mapping_json)
    f = dict(so=so, sl=len(space_json), mo=mo, ml=len(mapping_json), do=do, dl=len(blob))
    f.update(lie or {})
    head = v1.MASK_HEADER.pack(b"MSK1", 1, 0, codec, f["so"], f["sl"], f["mo"], f["ml"], f["do"], f["dl"])
    return head + space_json + mapping_json + blob


def craft_v1_archive(space_json: bytes, index_json: bytes, blobs: bytes, *, reserve: int = 256, lie: dict | None = None) -> bytes:
    so = v1.ARCHIVE_HEADER.size
    io = so + len(space_json)
    do = io + reserve
    f = dict(so=so, sl=len(space_json), io=io, il=reserve, do=do, dl=len(blobs), count=1)
    f.update(lie or {})
    head = v1.ARCHIVE_HEADER.pack(b"MSKA", 1, 0, 0, f["so"], f["sl"], f["io"], f["il"], f["do"], f["dl"], f["count"])
    return head + space_json + index_json[:reserve].ljust(reserve, b"\0") + blobs


def v1_blob(dtype: str, shape, payload: bytes, flag: int | None = None) -> bytes:
    flag = (1 if dtype == "bool" else 0) if flag is None else flag
    return (bytes([flag, len(dtype)]) + dtype.encode() + bytes([len(shape)]) + struct.pack(f"<{len(shape)}Q", *shape)
            + payload)


V1_SPACE = b'{"shape": [4, 4, 4]}'


def hostile_cases() -> Iterator[tuple[str, bytes, str]]:
    """(name, file bytes, extension) of hand-made hostile files with valid checksums."""
    big = [1024, 1024, 2048]  # 2**31 voxels: the largest volume MAX_VOXELS allows by default
    tiny = b"\x00" * 16
    # --- v2: the index JSON itself
    yield "v2 index not json", craft_v2(raw_index=b"{not json"), "mska"
    yield "v2 index not utf8", craft_v2(raw_index=b'{"kind":"\xff\xfe"}'), "mska"
    yield "v2 index deep nesting", craft_v2(raw_index=b"[" * 100_000 + b"]" * 100_000), "mska"
    yield "v2 index 5000-digit int", craft_v2(raw_index=b'{"kind":"archive","entries":[],"space":{"shape":[' + b"7" * 5000 + b',1,1]}}'), "mska"
    yield "v2 index is a list", craft_v2([]), "mska"
    yield "v2 index kind unknown", craft_v2({"kind": "zip", "space": {"shape": [1, 1, 1]}, "entries": []}), "mska"
    yield "v2 index kind mismatch", craft_v2({"kind": "mask", "space": {"shape": [1, 1, 1]}, "entries": []}), "mska"
    yield "v2 index no content size", craft_v2(index_blob=zstd(json.dumps({"kind": "archive", "space": {"shape": [1, 1, 1]}, "entries": []}).encode(), False)), "mska"
    yield "v2 index claims 4 GiB", craft_v2(index_blob=_lying_frame(b"{}", 4 << 30)), "mska"
    yield "v2 index skippable frame", craft_v2(index_blob=b"\x50\x2a\x4d\x18" + struct.pack("<I", 4) + b"abcd"), "mska"
    yield "v2 index garbage", craft_v2(index_blob=b"\x28\xb5\x2f\xfd" + bytes(range(60))), "mska"
    # --- v2: the space
    for label, space in [("no shape", {}), ("shape 2 dims", {"shape": [1, 2]}), ("shape zero", {"shape": [0, 1, 1]}),
                         ("shape negative", {"shape": [-1, 1, 1]}), ("shape float", {"shape": [1.5, 1, 1]}),
                         ("shape bool", {"shape": [True, 1, 1]}), ("shape 2**63", {"shape": [2**63, 1, 1]}),
                         ("shape 8 Gi voxels", {"shape": [2048, 2048, 2048]}), ("unknown key", {"shape": [1, 1, 1], "x": 1}),
                         ("spacing zero", {"shape": [1, 1, 1], "spacing": [0, 1, 1]}),
                         ("origin 1e400 int", {"shape": [1, 1, 1], "origin": [10**400, 0, 0]}),
                         ("orientation zero", {"shape": [1, 1, 1], "x_orientation": [0, 0, 0]}),
                         ("orientation parallel", {"shape": [1, 1, 1], "x_orientation": [1, 0, 0], "y_orientation": [1, 0, 0]}),
                         ("orientation strings", {"shape": [1, 1, 1], "x_orientation": ["a", 0, 0]}),
                         ("space is list", [1, 2, 3])]:
        yield f"v2 space {label}", craft_v2({"kind": "archive", "space": space, "entries": []}), "mska"
    yield "v2 space NaN spacing", craft_v2(raw_index=b'{"kind":"archive","entries":[],"space":{"shape":[1,1,1],"spacing":[NaN,1,1]}}'), "mska"
    yield "v2 space Infinity origin", craft_v2(raw_index=b'{"kind":"archive","entries":[],"space":{"shape":[1,1,1],"origin":[Infinity,1,1]}}'), "mska"
    # --- v2: records
    sp = {"shape": [4, 4, 4]}
    for label, rec in [("not object", 5), ("no name", record(name=None)), ("empty name", record(name="")),
                       ("name list", record(name=["a"])), ("dtype list", record(dtype=["uint8"])),
                       ("dtype float64", record(dtype="float64")), ("dtype object", record(dtype="object")),
                       ("mapping list", record(mapping=[1])), ("mapping label 0", record(mapping={"x": 0})),
                       ("mapping label too big", record(mapping={"x": 256})), ("mapping label bool", record(mapping={"x": True})),
                       ("mapping duplicate label", record(mapping={"x": 1, "y": 1})), ("mapping empty name", record(mapping={"": 1})),
                       ("bbox outside", record(bbox=[[0, 9], [0, 1], [0, 1]], codec={"id": "zstd"})),
                       ("bbox inverted", record(bbox=[[3, 1], [0, 1], [0, 1]], codec={"id": "zstd"})),
                       ("bbox floats", record(bbox=[[0.0, 1], [0, 1], [0, 1]], codec={"id": "zstd"})),
                       ("bbox 2 dims", record(bbox=[[0, 1], [0, 1]], codec={"id": "zstd"})),
                       ("bbox without codec", record(bbox=[[0, 1], [0, 1], [0, 1]])),
                       ("codec without bbox", record(codec={"id": "zstd"})),
                       ("offset negative", record(offset=-5)), ("offset inside header", record(offset=3)),
                       ("offset past end", record(offset=10**6)), ("length huge", record(length=2**62)),
                       ("length negative", record(length=-1)), ("offset float", record(offset=64.0)),
                       ("crc negative", record(crc32=-1)), ("crc 2**32", record(crc32=2**32)),
                       ("counts unicode digit", record(counts={"\u00b2": 1})), ("counts 30-digit key", record(counts={"9" * 30: 1})),
                       ("counts negative", record(counts={"1": -1})), ("counts list", record(counts=[1])),
                       ("colors string", record(colors={"x": "red"})), ("colors 3 values", record(colors={"x": [1, 0, 0]})),
                       ("colors > 1", record(colors={"x": [2, 0, 0, 1]})), ("colors list", record(colors=[1])),
                       ("metadata list", record(metadata=[1])), ("duplicate names", None)]:
        entries = [record(), record()] if rec is None else [rec]
        yield f"v2 record {label}", craft_v2({"kind": "archive", "space": sp, "entries": entries}), "mska"
    yield "v2 mask with 2 entries", craft_v2({"kind": "mask", "space": sp, "entries": [record(), record(name="b")]}, magic=v2.MAGIC_MASK), "msk"
    yield "v2 mask with 0 entries", craft_v2({"kind": "mask", "space": sp, "entries": []}, magic=v2.MAGIC_MASK), "msk"
    yield "v2 entry count 2 million", craft_v2(raw_index=b'{"kind":"archive","space":{"shape":[1,1,1]},"entries":[' + b",".join([b"0"] * 2_000_001) + b"]}"), "mska"
    # --- v2: codecs and payloads (crc right, contents hostile)
    for label, codec in [("unknown codec", {"id": "lz4"}), ("codec id int", {"id": 3}), ("codec not object", "zstd"),
                         ("rle bad order", {"id": "rle-zstd", "order": [0, 0, 1]}), ("rle order strings", {"id": "rle-zstd", "order": ["0", "1", "2"]}),
                         ("level string", {"id": "zstd", "level": "x"}), ("bitpack value 0", {"id": "bitpack-zstd", "value": 0}),
                         ("bitpack value too big", {"id": "bitpack-zstd", "value": 300}), ("v1-blob codec", {"id": "v1-blob"})]:
        yield f"v2 codec {label}", craft_v2(entry_doc(tiny, codec=codec), tiny), "mska"
    for label, cid in [("zstd", "zstd"), ("rle", "rle-zstd"), ("bitpack", "bitpack-zstd")]:
        codec = {"id": cid}
        yield f"v2 {label} payload not zstd", craft_v2(entry_doc(tiny, codec=codec), tiny), "mska"
        yield f"v2 {label} payload empty", craft_v2(entry_doc(b"", codec=codec), b""), "mska"
        p = _lying_frame(b"\x01" * 64, 1 << 40)
        yield f"v2 {label} frame claims 1 TiB", craft_v2(entry_doc(p, codec=codec), p), "mska"
        p = zstd(b"\x00" * (1 << 22))
        yield f"v2 {label} 4 MiB of zeros in a 2 Gi-voxel crop", craft_v2(entry_doc(p, shape=big, codec=codec), p), "mska"
        p = zstd(b"\x01" * 100, content_size=False)
        yield f"v2 {label} frame without size", craft_v2(entry_doc(p, codec=codec), p), "mska"
        p = zstd(b"\x01" * 63)
        yield f"v2 {label} one byte short", craft_v2(entry_doc(p, codec=codec), p), "mska"
        p = zstd(b"\x01" * 65)
        yield f"v2 {label} one byte long", craft_v2(entry_doc(p, codec=codec), p), "mska"
        p = zstd(b"\x01" * 64) + b"trailing"
        yield f"v2 {label} trailing bytes", craft_v2(entry_doc(p, codec=codec), p), "mska"
        p = zstd(b"\x01" * 64) + zstd(b"\x01" * 64)
        yield f"v2 {label} two frames", craft_v2(entry_doc(p, codec=codec), p), "mska"
    n = 64
    for label, nums in [("runs wrap uint64", [2, 1, 1, 2**64 - 1, n + 1]),
                        ("runs wrap positive", [3, 1, 1, 1, 6148914691236517206, 6148914691236517206, 6148914691236517212]),
                        ("runs too few", [2, 1, 1, 10, 10]), ("runs too many", [1, 1, n + 1]), ("runs zero length", [2, 1, 1, 0, n]),
                        ("runs count lies", [5, 1, 1, 32, 32]), ("runs count huge", [2**40, 1, 1]), ("value too big", [1, 256, n]),
                        ("no numbers", []), ("runs zero", [0]), ("valid one run", [1, 1, n]), ("valid two runs", [2, 0, 1, 32, 32])]:
        p = rle_payload(nums)
        yield f"v2 rle {label}", craft_v2(entry_doc(p, codec={"id": "rle-zstd"}), p), "mska"
    p = zstd(b"\x80" * 30 + b"\x01")
    yield "v2 rle over-long varint", craft_v2(entry_doc(p, codec={"id": "rle-zstd"}), p), "mska"
    p = zstd(b"\x02\x01\x01\x20\xa0")
    yield "v2 rle cut varint", craft_v2(entry_doc(p, codec={"id": "rle-zstd"}), p), "mska"
    p = zstd(b"\x00" * (6 << 20))  # a 6 MiB run stream from a ~200 byte payload, in a 2 Gi-voxel crop
    yield "v2 rle 6 MiB zero stream", craft_v2(entry_doc(p, shape=big, codec={"id": "rle-zstd"}), p), "mska"
    p = zstd(encode_varints(np.array([3 << 20] + [1] * (3 << 20) + [0] * (3 << 20), dtype=np.uint64)))
    yield "v2 rle 3 Mi zero-length runs", craft_v2(entry_doc(p, shape=big, codec={"id": "rle-zstd"}), p), "mska"
    p = BitPackCodec().encode(np.ones((4, 4, 4), bool))
    yield "v2 bitpack valid", craft_v2(entry_doc(p, codec={"id": "bitpack-zstd", "value": 7}), p), "mska"
    yield "v2 bitpack into bool", craft_v2(entry_doc(p, codec={"id": "bitpack-zstd", "value": 1}, dtype="bool"), p), "mska"
    p = ZstdRawCodec().encode(np.full((4, 4, 4), 9, np.uint8))
    yield "v2 zstd value not in mapping", craft_v2(entry_doc(p, codec={"id": "zstd"}), p), "mska"
    yield "v2 zstd bool of 9s", craft_v2(entry_doc(p, codec={"id": "zstd"}, dtype="bool"), p), "mska"
    p = ZstdRawCodec().encode(np.zeros((4, 4, 4), np.uint8))
    yield "v2 zstd all zero inside bbox", craft_v2(entry_doc(p, codec={"id": "zstd"}), p), "mska"
    yield "v2 payload overlaps index", craft_v2(entry_doc(p, codec={"id": "zstd"}, offset=64 + len(p) // 2), p), "mska"
    # --- v1
    good_blob = v1.encode_blob(np.ones((4, 4, 4), np.uint8))
    for label, space in [("not json", b"{"), ("deep", b"[" * 100_000), ("5000 digits", b'{"shape":[' + b"9" * 5000 + b",1,1]}"),
                         ("not object", b"[1]"), ("shape huge", b'{"shape":[4096,4096,4096]}'),
                         ("not utf8", b'{"shape":"\xff"}'), ("origin 1e400", b'{"shape":[4,4,4],"origin":[1' + b"0" * 400 + b",0,0]}")]:
        yield f"v1 space {label}", craft_v1_mask(space, b'{"x":1}', good_blob), "msk"
    for label, mapping in [("not json", b"{"), ("list", b"[1]"), ("label 0", b'{"x":0}'), ("label str", b'{"x":"1"}'),
                           ("label 2**70", b'{"x":1180591620717411303424}'), ("deep", b"{" * 50_000)]:
        yield f"v1 mapping {label}", craft_v1_mask(V1_SPACE, mapping, good_blob), "msk"
    for label, lie in [("space offset 0", {"so": 0}), ("space past end", {"so": 10**9}), ("space length 2**64-1", {"sl": 2**64 - 1}),
                       ("mapping past end", {"mo": 2**63}), ("data length huge", {"dl": 2**40}), ("data length 0", {"dl": 0}),
                       ("data inside header", {"do": 2})]:
        yield f"v1 header {label}", craft_v1_mask(V1_SPACE, b'{"x":1}', good_blob, lie=lie), "msk"
    yield "v1 codec id 7", craft_v1_mask(V1_SPACE, b'{"x":1}', good_blob, codec=7), "msk"
    raw64 = zstd(b"\x01" * 64)
    for label, blob in [("empty", b""), ("1 byte", b"\x00"), ("dtype cut", b"\x00\x20uint8"),
                        ("dtype float64", v1_blob("float64", (4, 4, 4), zstd(b"\0" * 512))),
                        ("dtype non-ascii", b"\x00\x02\xff\xfe\x03" + struct.pack("<3Q", 4, 4, 4) + raw64),
                        ("flag 1 uint8", v1_blob("uint8", (4, 4, 4), raw64, flag=1)), ("flag 7", v1_blob("uint8", (4, 4, 4), raw64, flag=7)),
                        ("shape differs", v1_blob("uint8", (4, 4, 5), zstd(b"\x01" * 80))),
                        ("ndim 2", v1_blob("uint8", (4, 16), raw64)), ("ndim 255", b"\x00\x05uint8\xff" + b"\x04" * 40),
                        ("payload not zstd", v1_blob("uint8", (4, 4, 4), b"hello")),
                        ("payload short", v1_blob("uint8", (4, 4, 4), zstd(b"\x01" * 63))),
                        ("payload long", v1_blob("uint8", (4, 4, 4), zstd(b"\x01" * 65))),
                        ("payload no size", v1_blob("uint8", (4, 4, 4), zstd(b"\x01" * 64, False))),
                        ("payload claims 1 TiB", v1_blob("uint8", (4, 4, 4), _lying_frame(b"\x01" * 64, 1 << 40))),
                        ("int8 negative", v1_blob("int8", (4, 4, 4), zstd(b"\xff" * 64))),
                        ("uint64 2**40", v1_blob("uint64", (4, 4, 4), zstd(np.full(64, 2**40, "<u8").tobytes()))),
                        ("bool 5 labels", v1_blob("bool", (4, 4, 4), zstd(b"\xff" * 8))),
                        ("value not in mapping", v1_blob("uint8", (4, 4, 4), zstd(b"\x09" * 64)))]:
        yield f"v1 blob {label}", craft_v1_mask(V1_SPACE, b'{"x":1}', blob), "msk"
    big_space = b'{"shape":[2048,1024,1024]}'
    yield "v1 blob 2 Gi voxels from 200 bytes", craft_v1_mask(big_space, b'{"x":1}', v1_blob("uint8", (1024, 1024, 2048), zstd(b"\0" * (1 << 20)))), "msk"
    yield "v1 bool blob 2 Gi voxels", craft_v1_mask(big_space, b'{"x":1}', v1_blob("bool", (1024, 1024, 2048), zstd(b"\0" * (1 << 20)))), "msk"
    blobs = good_blob
    for label, index in [("not json", b"[{"), ("object", b'{"a":1}'), ("record not object", b"[1]"),
                         ("no name", b'[{"offset":346,"length":1,"mapping":{"x":1}}]'),
                         ("offset negative", b'[{"name":"a","offset":-1,"length":1,"mapping":{"x":1}}]'),
                         ("offset past end", b'[{"name":"a","offset":99999,"length":1,"mapping":{"x":1}}]'),
                         ("length 2**64", b'[{"name":"a","offset":346,"length":18446744073709551616,"mapping":{"x":1}}]'),
                         ("offset string", b'[{"name":"a","offset":"346","length":1,"mapping":{"x":1}}]'),
                         ("duplicate", b'[{"name":"a","offset":346,"length":1,"mapping":{"x":1}},{"name":"a","offset":346,"length":1,"mapping":{"x":1}}]'),
                         ("offset into header", b'[{"name":"a","offset":0,"length":90,"mapping":{"x":1}}]'),
                         ("5000 digits", b"[" + b"1" * 5000 + b"]"), ("deep", b"[" * 200)]:
        yield f"v1 index {label}", craft_v1_archive(b'{"shape": [4, 4, 4]}', index, blobs), "mska"
    for label, lie in [("data past end", {"do": 10**6}), ("index past end", {"io": 2**63, "il": 2**63}),
                       ("space length 0", {"sl": 0})]:
        yield f"v1 archive header {label}", craft_v1_archive(b'{"shape": [4, 4, 4]}', b"[]", blobs, lie=lie), "mska"


def _lying_frame(data: bytes, claimed: int) -> bytes:
    """A zstd frame whose header declares ``claimed`` bytes of content (8-byte size field)."""
    frame = bytearray(zstandard.ZstdCompressor(level=1, write_content_size=True, write_checksum=False).compress(data))
    # frame header descriptor: 2 bits of size-field flag (3 -> 8 bytes); rebuild with an 8-byte field
    fhd = frame[4]
    fcs_flag, single = fhd >> 6, (fhd >> 5) & 1
    did_flag = fhd & 3
    fcs_len = [single, 2, 4, 8][fcs_flag]
    wd_len = 0 if single else 1
    did_len = [0, 1, 2, 4][did_flag]
    start = 5 + wd_len + did_len
    new_fhd = (3 << 6) | (single << 5) | (fhd & 0x1F)
    return bytes(frame[:4]) + bytes([new_fhd]) + bytes(frame[5:start]) + struct.pack("<Q", claimed) + bytes(frame[start + fcs_len:])


# --- bombs: tiny valid files (checksums right) that ask for huge memory (issue 12, items 1-2) --------
def rle_zstd_frame(size: int, value: int = 0) -> bytes:
    """A valid zstd frame of ``size`` bytes all equal to ``value``, built from RLE blocks (4 bytes per
    128 KiB): 16 GiB of zeros in 512 KiB, instantly."""
    block = 128 << 10
    head = b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", size)  # single segment, 8-byte size
    full, rest = divmod(size, block)
    sizes = [block] * full + ([rest] if rest or not full else [])
    blocks = [struct.pack("<I", (s << 3) | (1 << 1) | (i == len(sizes) - 1))[:3] + bytes([value])
              for i, s in enumerate(sizes)]
    return head + b"".join(blocks)


def zstd_stream(parts: Iterator[bytes], size: int, level: int = 1) -> bytes:
    """Compress a generated document of ``size`` bytes without holding it."""
    c = zstandard.ZstdCompressor(level=level, write_content_size=True).compressobj(size=size)
    out = [c.compress(p) for p in parts]
    out.append(c.flush())
    return b"".join(out)


def _repeated(head: bytes, unit: bytes, count: int, tail: bytes, sep: bytes = b",") -> tuple[Iterator[bytes], int]:
    chunk_n = max(1, (1 << 20) // (len(unit) + len(sep)))
    size = len(head) + count * len(unit) + max(0, count - 1) * len(sep) + len(tail)

    body = sep.join([unit] * chunk_n)

    def gen():
        yield head
        left = count
        first = True
        while left:
            k = min(chunk_n, left)
            chunk = body if k == chunk_n else sep.join([unit] * k)
            yield chunk if first else sep + chunk
            first = False
            left -= k
        yield tail
    return gen(), size


INDEX_HEAD = b'{"kind":"archive","space":{"shape":[1,1,1]},"entries":[],"junk":'


def index_bomb(kind: str, scale: float = 1.0) -> bytes:
    """The three index bombs of issue 12 (item 1), as whole .mska files (scale < 1 for quick runs)."""
    if kind == "objects":  # 85 M empty objects under an unknown key: 24.6 KB file, 6.7 GB to parse
        parts, size = _repeated(INDEX_HEAD + b"[", b"{}", int(85_000_000 * scale), b"]}")
    elif kind == "integers":  # 134 M integers
        parts, size = _repeated(INDEX_HEAD + b"[", b"0", int(133_000_000 * scale), b"]}")
    elif kind == "string":  # one 250 MiB string
        parts, size = _repeated(INDEX_HEAD + b'"', b"a" * 4096, int((250 << 20) * scale) // 4096, b'"}', sep=b"")
    elif kind == "records":  # a million-entry index of minimal records, as dense as JSON allows
        unit = b'{"name":"a","mapping":{}}'
        parts, size = _repeated(b'{"kind":"archive","space":{"shape":[1,1,1]},"entries":[', unit,
                                int(1_000_000 * scale), b"]}")
    else:
        raise ValueError(kind)
    return craft_v2(index_blob=zstd_stream(parts, size))


INDEX_BOMBS = ("objects", "integers", "string", "records")


def index_bomb_at_limit(unit: bytes = b'{"a":0}') -> bytes:
    """The densest index the cost rule still lets through for its (tiny) compressed size: what an
    attacker can make the reader parse at most from a small file."""
    from medmask.format import jsonguard

    def doc(k: int) -> bytes:
        return INDEX_HEAD + b"[" + b",".join([unit] * k) + b"]}"
    base = jsonguard.estimated_parse_bytes(doc(1))
    slope = jsonguard.estimated_parse_bytes(doc(2)) - base  # the estimate is linear in the count
    stored, blob = 200, b""
    for _ in range(3):  # the allowance depends on the compressed size, which barely moves
        k = (jsonguard.index_allowance(stored) - base) // slope + 1
        k = min(k, (jsonguard.max_index_size(stored) - len(doc(1))) // (len(unit) + 1) + 1)
        parts, size = _repeated(INDEX_HEAD + b"[", unit, k, b"]}")
        blob = zstd_stream(parts, size)
        stored = len(blob)
    return craft_v2(index_blob=blob)


def payload_bombs() -> Iterator[tuple[str, bytes, str, int]]:
    """(name, file, extension, bytes a read would allocate) of small valid files declaring huge volumes
    (issue 12, item 2): within MAX_VOXELS, so only the memory budget stands in the way."""
    big = (2048, 1024, 1024)  # 2**31 voxels
    n = 2048 * 1024 * 1024
    p = rle_payload([1, 1, n])
    doc = entry_doc(p, shape=big, codec={"id": "rle-zstd"}, dtype="uint32")
    yield "v2 2048x1024x1024 uint32 as one run", craft_v2(doc, p), "mska", 4 * n
    p = rle_zstd_frame(n // 8, 0xFF)
    yield "v2 2048x1024x1024 uint32 bit-packed", craft_v2(entry_doc(p, shape=big, dtype="uint32",
                                                                      codec={"id": "bitpack-zstd", "value": 7}), p), "mska", 4 * n
    big_space = b'{"shape":[1024,1024,2048]}'
    yield "v1 2 Gi-voxel uint8 blob", craft_v1_mask(big_space, b'{"x":1}', v1_blob("uint8", big, rle_zstd_frame(n, 1))), "msk", n
    yield "v1 2 Gi-voxel uint64 blob", craft_v1_mask(big_space, b'{"x":1}', v1_blob("uint64", big, rle_zstd_frame(8 * n, 0))), "msk", 8 * n



BOMB_UNITS = (b"{}", b"[]", b"0", b'""', b'{"a":0}', b"[[0]]", b"1.5", '"\U0001F600"'.encode(), b'{"a":{}}', b"null")


def random_index_bomb(rng) -> tuple[str, bytes]:
    """A random index bomb: a random JSON fragment repeated 10**3..10**8 times, placed under an
    unknown key, as the entry list, or inside one record's metadata."""
    unit = rng.choice(BOMB_UNITS)
    count = int(10 ** rng.uniform(3, 8))
    where = rng.choice(["unknown key", "entries", "metadata"])
    if where == "unknown key":
        head, tail = INDEX_HEAD + b"[", b"]}"
    elif where == "entries":
        head, tail = b'{"kind":"archive","space":{"shape":[1,1,1]},"entries":[', b"]}"
    else:
        head = (b'{"kind":"archive","space":{"shape":[1,1,1]},"entries":[{"name":"a","dtype":"uint8",'
                b'"mapping":{"x":1},"bbox":null,"codec":null,"offset":64,"length":0,"crc32":0,"metadata":{"m":[')
        tail = b"]}}]}"
    parts, size = _repeated(head, unit, count, tail)
    return f"index bomb {count} x {unit.decode()} ({where})", craft_v2(index_blob=zstd_stream(parts, size))


def random_payload_bomb(rng) -> tuple[str, bytes, str, int]:
    """A random small file declaring a big volume (up to MAX_VOXELS) in a random codec / version."""
    dtype = rng.choice(["bool", "uint8", "uint16", "uint32"])
    itemsize = 1 if dtype == "bool" else np.dtype(dtype).itemsize
    shape = tuple(rng.choice([256, 512, 1024, 2048]) for _ in range(3))
    while np.prod(shape, dtype=np.int64) > 2**31:
        shape = (shape[0] // 2,) + shape[1:]
    n = int(np.prod(shape, dtype=np.int64))
    how = rng.choice(["rle", "bitpack", "zstd", "v1"])
    label = f"payload bomb {'x'.join(map(str, shape))} {dtype} as {how}"
    if how == "v1":
        v1dtype = rng.choice(["uint8", "uint16", "uint32", "uint64", "int64"])
        size = n * np.dtype(v1dtype).itemsize
        space = json.dumps({"shape": list(shape[::-1])}).encode()
        blob = v1_blob(v1dtype, shape, rle_zstd_frame(size, 0))
        return label.replace(dtype, v1dtype), craft_v1_mask(space, b'{"x":1}', blob), "msk", size
    if how == "rle":
        p = rle_payload([1, 1 if dtype != "bool" else 1, n])
        codec = {"id": "rle-zstd"}
    elif how == "bitpack":
        p = rle_zstd_frame((n + 7) // 8, 0xFF)
        codec = {"id": "bitpack-zstd", "value": 1}
    else:
        p = rle_zstd_frame(n * itemsize, 1)
        codec = {"id": "zstd"}
    return label, craft_v2(entry_doc(p, shape=shape, codec=codec, dtype=dtype), p), "mska", n * itemsize
