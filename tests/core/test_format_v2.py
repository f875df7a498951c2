"""The pure v2 format functions: inverse pairs and their checks."""
import zlib

import numpy as np
import pytest

from medmask import ChecksumError, FormatError, UnsupportedVersionError
from medmask.format import v2
from medmask.format.records import EntryInfo
from medmask.storage.entries import describe_mask, mask_from_entry


def encode(mask, name):
    """The format layer codes (record, crop) pairs: describe the mask as one first."""
    return v2.encode_entry(*describe_mask(mask, name))


def test_header_pack_unpack_inverse():
    raw = v2.pack_header(v2.MAGIC_ARCHIVE, 1000, 50, 1234)
    assert len(raw) == v2.HEADER_SIZE
    h = v2.unpack_header(raw, 2000)
    assert (h.magic, h.version, h.index_offset, h.index_length, h.index_crc32) == (b"MSKA", v2.VERSION, 1000, 50, 1234)


def test_header_checks():
    raw = v2.pack_header(v2.MAGIC_MASK, 1000, 50, 1)
    with pytest.raises(FormatError, match="outside"):
        v2.unpack_header(raw, 1049, "f.msk")
    with pytest.raises(FormatError, match="magic"):
        v2.unpack_header(b"XXXX" + raw[4:], 2000)
    with pytest.raises(UnsupportedVersionError, match=r"3\.\d"):
        v2.unpack_header(raw[:4] + bytes([3]) + raw[5:], 2000)
    flipped = bytearray(raw)
    flipped[10] ^= 1
    with pytest.raises(ChecksumError, match="header"):
        v2.unpack_header(bytes(flipped), 10**9)
    with pytest.raises(FormatError, match="shorter"):
        v2.unpack_header(raw[:30], 30)


@pytest.mark.parametrize("minor", [1, 2])
def test_entry_and_index_round_trip(masks, minor):
    infos, payloads = [], []
    pos = v2.HEADER_SIZE
    for name, mask in masks.items():
        info, payload = encode(mask, name)
        from dataclasses import replace
        infos.append(replace(info, offset=pos))
        payloads.append(payload)
        pos += len(payload)
    space = next(iter(masks.values())).space
    if minor == 2:  # the binary table this medmask writes
        blob = v2.encode_index("archive", space, infos, "test")
    else:  # the JSON index of medmask 0.3.0, read forever
        import zstandard
        blob = zstandard.ZstdCompressor(write_content_size=True).compress(
            v2.encode_index_json("archive", space, infos, "test"))
    header = v2.Header(v2.MAGIC_ARCHIVE, (2, minor), 0, pos, len(blob), zlib.crc32(blob))
    index = v2.decode_index_full(blob, header)
    assert index.kind == "archive" and index.space == space and index.names == list(masks)
    for info, payload, (name, mask) in zip(infos, payloads, masks.items()):
        parsed = index.entry(name)
        assert parsed == info
        crop = v2.decode_entry(parsed, payload)
        assert (crop is None) == (mask.bbox is None)
        back = mask_from_entry(parsed, crop, index.space)
        assert back.same_content(mask) and back.colors == mask.colors and back.metadata == mask.metadata


def test_empty_entry_costs_no_payload(masks):
    info, payload = encode(masks["empty"], "empty")
    assert payload == b"" and info.bbox is None and info.codec is None and info.counts == {}


def test_metadata_must_be_json(masks):
    m = masks["liver"]
    m.metadata["bad"] = object()
    with pytest.raises(FormatError, match="JSON"):
        encode(m, "liver")


def test_index_checksum_and_json_errors(masks):
    blob = v2.encode_index("archive", masks["liver"].space, [], "t")
    header = v2.Header(v2.MAGIC_ARCHIVE, (2, 0), 0, 64, len(blob), zlib.crc32(blob) ^ 1)
    with pytest.raises(ChecksumError, match="index"):
        v2.decode_index(blob, header, "x.mska")
    import zstandard
    bad = zstandard.ZstdCompressor().compress(b"{not json")
    with pytest.raises(FormatError, match="JSON"):
        v2.decode_index(bad, v2.Header(v2.MAGIC_ARCHIVE, (2, 0), 0, 64, len(bad), zlib.crc32(bad)), "x.mska")


@pytest.mark.parametrize("field,value,match", [
    ("dtype", "float32", "dtype"),
    ("mapping", {"a": 0}, "mapping"),
    ("mapping", {"a": 300}, "mapping"),
    ("bbox", [[0, 99], [0, 1], [0, 1]], "does not fit"),
    ("bbox", [[0, 1], [0, 1]], "bbox"),
    ("codec", None, "codec"),
    ("offset", 10, "outside"),
    ("length", 10**12, "outside"),
    ("crc32", -1, "crc32"),
    ("counts", {"x": 1}, "counts"),
    ("colors", {"a": [2, 0, 0, 1]}, "colors"),
    ("metadata", [], "metadata"),
])
def test_parse_record_rejects(masks, field, value, match):
    info, _ = encode(masks["liver"], "liver")
    rec = v2._record_to_json(info)
    rec["offset"] = 64
    rec[field] = value
    with pytest.raises(FormatError, match=match):
        v2.parse_record(rec, masks["liver"].shape, 64 + info.length, "f.mska")


def test_entry_checksum_names_entry(masks):
    info, payload = encode(masks["liver"], "liver")
    bad = bytearray(payload)
    bad[len(bad) // 2] ^= 0x40
    with pytest.raises(ChecksumError, match="entry 'liver'.*checksum"):
        v2.decode_entry(info, bytes(bad), "a.mska")


def test_record_fields(masks):
    info, _ = encode(masks["ribs"], "ribs")
    assert isinstance(info, EntryInfo) and info.dtype == "uint16"
    assert info.counts == {300 + i: 26 * 8 for i in range(5)} and info.voxel_count == 5 * 26 * 8
    assert info.codec["id"] in ("rowdelta-zstd", "zstd") and info.crop_shape == (13, 26, 8)
    assert np.dtype(info.dtype) == np.uint16
