"""Version-1 invariants (issue 12, item 6) and forged v2 files whose checksums were recomputed (item 7)."""
import json
import struct
import zlib

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from medmask.codecs.varint import decode_varints, encode_varints
from medmask.errors import CodecError, FormatError, MedMaskError
from medmask.format import v1

from . import hostile as H


@pytest.fixture
def v1_archive(tmp_path):
    p = str(tmp_path / "old.mska")
    with MaskArchive(p, "w", format_version=1) as a:
        for name, m in H.sample_masks().items():
            if name != "empty":
                a.add_segmask(SegmentationMask(m.data, m.mapping, m.space), name)
    return p


def _header(data: bytes) -> dict:
    return v1.unpack_archive_header(data, len(data), None)


def test_zeroed_v1_index_is_refused(v1_archive):
    data = bytearray(open(v1_archive, "rb").read())
    h = _header(bytes(data))
    data[h["index_offset"]:h["index_offset"] + h["index_length"]] = bytes(h["index_length"])
    H.write(v1_archive, bytes(data))
    with pytest.raises(FormatError, match="header says 3 masks, the index lists 0"):
        MaskArchive(v1_archive)


def test_compat_archive_with_zeroed_index(tmp_path):
    src = [p for p in H.compat_files() if p.endswith(".mska")]
    if not src:
        pytest.skip("no /work/shared/compat")
    data = bytearray(open(src[0], "rb").read())
    h = _header(bytes(data))
    data[h["index_offset"]:h["index_offset"] + h["index_length"]] = bytes(h["index_length"])
    p = H.write(str(tmp_path / "z.mska"), bytes(data))
    with pytest.raises(FormatError, match="masks"):
        MaskArchive(p)


def _rewrite_index(path: str, edit) -> None:
    data = open(path, "rb").read()
    h = _header(data)
    io, il = h["index_offset"], h["index_length"]
    index = json.loads(data[io:io + il].rstrip(b"\0"))
    new = json.dumps(edit(index)).encode().ljust(il, b"\0")
    H.write(path, data[:io] + new[:il] + data[io + il:])


@pytest.mark.parametrize("edit,match", [
    (lambda ix: [dict(ix[0], offset=ix[0]["offset"] + 1)] + ix[1:], "do not follow"),
    (lambda ix: ix[1:] + ix[:1], "do not follow"),                                  # out of order
    (lambda ix: [dict(ix[0], length=ix[0]["length"] - 1)] + ix[1:], "do not follow"),
    (lambda ix: [dict(ix[0], extra=1)] + ix[1:], "record keys"),
    (lambda ix: [dict(ix[0], mapping={"a": 1, "b": 1})] + ix[1:], "same label"),
])
def test_v1_index_invariants(v1_archive, edit, match):
    _rewrite_index(v1_archive, edit)
    with pytest.raises(FormatError, match=match):
        H.read_everything(v1_archive)


@pytest.mark.parametrize("field,delta,match", [("mask_count", 1, "masks"), ("data_length", -1, "regions end"),
                                               ("space_offset", 1, "space region")])
def test_v1_header_invariants(v1_archive, field, delta, match):
    data = open(v1_archive, "rb").read()
    h = _header(data)
    h[field] += delta
    head = v1.ARCHIVE_HEADER.pack(b"MSKA", 1, 0, 0, h["space_offset"], h["space_length"], h["index_offset"],
                                  h["index_length"], h["data_offset"], h["data_length"], h["mask_count"])
    H.write(v1_archive, head + data[v1.ARCHIVE_HEADER.size:])
    with pytest.raises(FormatError, match=match):
        MaskArchive(v1_archive)


def test_v1_mask_appended_bytes_and_blob_checks(tmp_path):
    p = str(tmp_path / "m.msk")
    save_mask(SegmentationMask(H.sample_masks()["labels"].data, {"a": 1, "b": 2}, H.sample_space()), p, format_version=1)
    good = open(p, "rb").read()
    H.write(p, good + b"\0")
    with pytest.raises(FormatError, match="regions end"):
        load_mask(p)
    h = v1.unpack_mask_header(good, len(good), None)
    blob = good[h["data_offset"]:]
    arr = np.full(H.SHAPE, 3, np.uint8)  # value 3 has no name
    for label, new_blob, exc, match in [
            ("trailing frame", blob + H.zstd(b"x"), CodecError, "follow the zstd frame"),
            ("no content size", blob[:blob.index(b"\x28\xb5\x2f\xfd")] + H.zstd(np.ascontiguousarray(
                H.sample_masks()["labels"].data).tobytes(), content_size=False), CodecError, "undeclared")]:
        data = H.craft_v1_mask(good[h["space_offset"]:h["mapping_offset"]], good[h["mapping_offset"]:h["data_offset"]], new_blob)
        H.write(p, data)
        with pytest.raises(exc, match=match):
            load_mask(p)


def test_v1_negative_values_refused(tmp_path):
    blob = H.v1_blob("int8", (4, 4, 4), H.zstd(b"\xff" * 64))
    p = H.write(str(tmp_path / "n.msk"), H.craft_v1_mask(H.V1_SPACE, b'{"x":1}', blob))
    with pytest.raises(MedMaskError):
        load_mask(p)


def test_compat_files_still_read(tmp_path):
    for path in H.compat_files():
        assert H.outcome(path)[0] == "ok", path


# --- forged v2 files: checksums recomputed, data contradicting the index ----------------------------
def _forge(tmp_path, payload: bytes, codec: dict, **kw) -> str:
    doc = H.entry_doc(payload, codec=codec, **kw)
    return H.write(str(tmp_path / "forged.mska"), H.craft_v2(doc, payload))


def test_varint_wrapping_modulo_2_64_is_refused(tmp_path):
    wrap = bytes([0xFF] * 9 + [0x7F])  # 70 bits: would wrap to a small number
    with pytest.raises(ValueError, match="64 bits"):
        decode_varints(wrap)
    assert decode_varints(encode_varints(np.array([2**64 - 1], np.uint64)))[0] == 2**64 - 1
    stream = encode_varints(np.array([2, 0, 1], np.uint64)) + wrap + encode_varints(np.array([64], np.uint64))
    p = _forge(tmp_path, H.zstd(stream), {"id": "rle-zstd"})
    with pytest.raises(CodecError, match="64 bits"):
        H.read_everything(p)


@pytest.mark.parametrize("tail", [b"x", H.zstd(b"\x01" * 64), b"\x50\x2a\x4d\x18\x00\x00\x00\x00"])
def test_trailing_bytes_or_frames_are_refused(tmp_path, tail):
    p = _forge(tmp_path, H.zstd(b"\x01" * 64) + tail, {"id": "zstd"})
    with pytest.raises(CodecError, match="follow the zstd frame"):
        H.read_everything(p)


def test_unnamed_voxel_values_are_refused(tmp_path):
    payload = H.zstd(bytes([1] * 32 + [2] * 32))
    p = _forge(tmp_path, payload, {"id": "zstd"}, mapping={"x": 1})
    with pytest.raises(FormatError, match=r"values \[2\] are neither named"):
        H.read_everything(p)
    p = _forge(tmp_path, H.rle_payload([2, 1, 5, 32, 32]), {"id": "rle-zstd"}, mapping={"x": 1, "y": 3})
    with pytest.raises(FormatError, match=r"values \[5\]"):
        H.read_everything(p)
    p = _forge(tmp_path, payload, {"id": "zstd"}, mapping={"x": 1}, counts={"1": 32, "2": 32})
    assert H.outcome(p)[0] == "ok"  # counted but unnamed: what medmask itself writes for such masks


def test_masks_with_unnamed_values_round_trip(tmp_path):
    arr = np.zeros(H.SHAPE, np.uint8)
    arr[1, 1, 1], arr[2, 2, 2] = 1, 7
    m = SegmentationMask(arr, {"named": 1}, H.sample_space())
    for version in (1, 2):
        p = tmp_path / f"u{version}.mska"
        with MaskArchive(p, "w", format_version=version) as a:
            a.add_segmask(m, "e")
        assert (MaskArchive(p).load_segmask("e").data == arr).all()


def test_verify_deep_finds_wrong_counts_and_loose_bbox(tmp_path):
    from medmask.storage.verify import verify_archive
    payload = H.zstd(bytes([1] * 64))
    p = _forge(tmp_path, payload, {"id": "zstd"}, counts={"1": 63})
    assert H.outcome(p)[0] == "ok"  # the cheap read trusts the counts
    problems = verify_archive(p, deep=True)
    assert any("counts" in x for x in problems), problems
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[1:3, 1:3, 1:3] = 1
    payload = H.zstd(arr.tobytes())
    p = _forge(tmp_path, payload, {"id": "zstd"}, counts={"1": 8})
    problems = verify_archive(p, deep=True)
    assert any("not tight" in x for x in problems) and not any("counts" in x for x in problems), problems
    assert verify_archive(p, deep=False) == []
