"""Every kind of bad file gives one MedMaskError subclass naming the file and the problem."""
import json
import struct
import zlib

import numpy as np
import pytest
import zstandard

from medmask import (ChecksumError, CodecError, FormatError, MaskArchive, MedMaskError, UnsupportedVersionError,
                     load_mask, save_mask)
from medmask.errors import LimitError
from medmask.format import v1, v2
from tests.conftest import organ_masks


@pytest.fixture
def archive(tmp_path):
    masks = organ_masks()
    p = tmp_path / "organs.mska"
    with MaskArchive(p, mode="w", space=masks["liver"].space) as a:
        for n, m in masks.items():
            a.add_segmask(m, n)
    return p


def read_everything(path):
    a = MaskArchive(path)
    for n in a:
        a.load_segmask(n).data


def expect(path, exc, match):
    with pytest.raises(exc, match=match) as info:
        read_everything(path)
    assert str(path) in str(info.value)
    return info.value


def rewrite_index(path, mutate):
    """Rebuild a file with a changed index but valid checksums: the parser, not the crc, must object."""
    raw = path.read_bytes()
    h = v2.unpack_header(raw, len(raw))
    doc = v2.index_document(raw[h.index_offset:h.index_offset + h.index_length], h)  # rewritten as a 2.1 JSON index
    mutate(doc)
    blob = zstandard.ZstdCompressor().compress(json.dumps(doc).encode())
    path.write_bytes(raw[:h.index_offset] + blob)
    path.write_bytes(v2.pack_header(h.magic, h.index_offset, len(blob), zlib.crc32(blob)) + path.read_bytes()[64:])


def test_not_a_file(tmp_path):
    with pytest.raises(MedMaskError, match="no such file"):
        MaskArchive(tmp_path / "missing.mska")
    with pytest.raises(MedMaskError, match="directory"):
        load_mask(tmp_path)


def test_wrong_magic(tmp_path):
    p = tmp_path / "x.mska"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    expect(p, FormatError, "not a medmask file")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.msk"
    p.write_bytes(b"")
    with pytest.raises(FormatError, match="empty or truncated"):
        load_mask(p)


def test_unknown_version(archive):
    raw = bytearray(archive.read_bytes())
    raw[4] = 9
    archive.write_bytes(bytes(raw))
    expect(archive, UnsupportedVersionError, "version 9")


@pytest.mark.parametrize("cut", [10, 63, 64, 100, -1, -20])
def test_truncated(archive, cut):
    raw = archive.read_bytes()
    archive.write_bytes(raw[:cut])
    expect(archive, FormatError, "truncated|outside|shorter")


def test_index_offset_beyond_file(archive):
    raw = archive.read_bytes()
    h = v2.unpack_header(raw, len(raw))
    archive.write_bytes(v2.pack_header(h.magic, 10**15, h.index_length, h.index_crc32) + raw[64:])
    expect(archive, FormatError, "outside")


def test_entry_offset_beyond_data(archive):
    rewrite_index(archive, lambda d: d["entries"][0].update(offset=10**9))
    expect(archive, FormatError, "entry 'liver'.*outside")


def test_gigantic_shape(archive):
    rewrite_index(archive, lambda d: d["space"].update(shape=[100000, 100000, 100000]))
    expect(archive, LimitError, "limit")


def test_unknown_codec(archive):
    rewrite_index(archive, lambda d: d["entries"][0]["codec"].update(id="future-codec"))
    expect(archive, CodecError, "entry 'liver': unknown codec 'future-codec'")


def test_lying_bbox(archive):
    rewrite_index(archive, lambda d: d["entries"][0].update(bbox=[[0, 20], [0, 30], [0, 40]]))
    expect(archive, CodecError, "entry 'liver'")


def test_invalid_json(archive):
    raw = archive.read_bytes()
    h = v2.unpack_header(raw, len(raw))
    blob = zstandard.ZstdCompressor().compress(b'{"kind": "archive", "entries": [')
    archive.write_bytes(v2.pack_header(h.magic, h.index_offset, len(blob), zlib.crc32(blob))
                        + raw[64:h.index_offset] + blob)
    expect(archive, FormatError, "JSON")


def test_checksum_mismatch_names_entry(archive):
    a = MaskArchive(archive)
    info = a.entry_info("ribs")
    raw = bytearray(archive.read_bytes())
    raw[info.offset + info.length // 2] ^= 0x01
    archive.write_bytes(bytes(raw))
    exc = expect(archive, ChecksumError, "entry 'ribs': checksum mismatch")
    assert exc.path == str(archive)
    assert MaskArchive(archive)["liver"].voxel_counts() == {1: 3400}  # other entries still readable


def test_damaged_index_bytes(archive):
    raw = bytearray(archive.read_bytes())
    raw[-3] ^= 0xFF
    archive.write_bytes(bytes(raw))
    expect(archive, ChecksumError, "index checksum")


def _grow_v1_space(src: bytes, h: dict, old: bytes, new: bytes) -> bytes:
    """Edit the space JSON of a v1 .msk and shift the regions after it (the header must agree)."""
    d = len(new) - len(old)
    head = v1.MASK_HEADER.pack(b"MSK1", 1, 0, 0, h["space_offset"], h["space_length"] + d, h["mapping_offset"] + d,
                               h["mapping_length"], h["data_offset"] + d, h["data_length"])
    return head + src[v1.MASK_HEADER.size:].replace(old, new)


def test_v1_bad_inputs(compat_dir, tmp_path):
    src = (compat_dir / "labels_uint8.msk").read_bytes()
    h = v1.unpack_mask_header(src, len(src), None)
    cases = {
        "truncated": src[:-10],
        "lying_data_length": v1.MASK_HEADER.pack(b"MSK1", 1, 0, 0, h["space_offset"], h["space_length"],
                                                 h["mapping_offset"], h["mapping_length"], h["data_offset"],
                                                 10**12) + src[62:],
        "bad_codec": src[:6] + bytes([5]) + src[7:],
        "bad_space_json": src[:h["space_offset"]] + b"[" + src[h["space_offset"] + 1:],
        "huge_shape": _grow_v1_space(src, h, b'"shape": [40, 30, 20]', b'"shape": [99999, 99999, 9999]'),
    }
    expected = {"truncated": "outside", "lying_data_length": "outside", "bad_codec": "codec id 5",
                "bad_space_json": "JSON", "huge_shape": "limit"}
    for name, raw in cases.items():
        p = tmp_path / f"{name}.msk"
        p.write_bytes(raw)
        with pytest.raises(MedMaskError, match=expected[name]) as info:
            load_mask(p).data
        assert str(p) in str(info.value), name


def test_v1_blob_shape_lie(tmp_path):
    space_arr = np.zeros((3, 4, 5), np.uint8)
    from medmask import SegmentationMask
    p = tmp_path / "v1.msk"
    save_mask(SegmentationMask(space_arr, {"a": 1}), p, format_version=1)
    raw = bytearray(p.read_bytes())
    h = v1.unpack_mask_header(bytes(raw), len(raw), None)
    pos = h["data_offset"] + 2 + len("uint8") + 1
    raw[pos:pos + 8] = struct.pack("<Q", 3000)
    p.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="shape"):
        load_mask(p)
