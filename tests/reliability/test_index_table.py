"""Forged 2.2 index tables (checksums recomputed): every lie is one MedMaskError naming the file,
found before anything is allocated by the lying number."""
import json
import struct
import zlib

import numpy as np
import pytest
import zstandard

from medmask import MaskArchive, SegmentationMask
from medmask.errors import FormatError, LimitError, MedMaskError
from medmask.format import table, v2

from . import hostile as H

MiB = 1 << 20


@pytest.fixture
def archive(tmp_path, space):
    """A 2.2 archive with an empty entry, a binary one, and a multi-label one with colours and metadata."""
    p = tmp_path / "a.mska"
    shape = tuple(space.shape)
    ball = np.zeros(shape, bool)
    ball[2:6, 3:9, 4:12] = True
    two = np.zeros(shape, np.uint8)
    two[1:4, 1:5, 1:6] = 1
    two[4:7, 1:5, 1:6] = 2
    with MaskArchive(p, "w", space=space) as a:
        a.add_segmask(SegmentationMask(np.zeros(shape, bool), {"none": 1}, space=space), "none")
        a.add_segmask(SegmentationMask(ball, {"ball": 1}, space=space), "ball")
        a.add_segmask(SegmentationMask(two, {"a": 1, "b": 2}, space=space, colors={"a": (1, 0, 0, 1)},
                                       metadata={"rater": "x"}), "two")
    assert p.read_bytes()[4:6] == bytes([2, 2])
    return p


def _index(path) -> tuple[bytes, v2.Header, bytes]:
    data = path.read_bytes()
    h = v2.unpack_header(data, len(data))
    return data, h, v2.decompress_index(data[h.index_offset:h.index_offset + h.index_length], h)


def _rewrite(path, raw: bytes) -> None:
    data, h, _ = _index(path)
    blob = zstandard.ZstdCompressor(write_content_size=True).compress(raw)
    path.write_bytes(v2.pack_header(h.magic, h.index_offset, len(blob), zlib.crc32(blob))
                     + data[v2.HEADER_SIZE:h.index_offset] + blob)


def _head(raw: bytes, **changes) -> bytes:
    magic, j, n, r, e = table.HEAD.unpack_from(raw)
    f = dict(j=j, n=n, r=r, e=e)
    f.update(changes)
    return table.HEAD.pack(magic, f["j"], f["n"], f["r"], f["e"]) + raw[table.HEAD.size:]


def _row(raw: bytes, name: str, **changes) -> bytes:
    t = table.Table(raw, 1 << 30, None)
    at = t.table_start + t.position[name] * t.row_size
    fields = ("offset", "length", "voxels", "z0", "z1", "y0", "y1", "x0", "x1", "crc32", "codec", "meta",
              "xoff", "xlen", "dtype", "flags", "reserved")
    row = dict(zip(fields, table.RECORD.unpack_from(raw, at)))
    row.update(changes)
    return raw[:at] + table.RECORD.pack(*(row[k] for k in fields)) + raw[at + table.RECORD.size:]


def _json_head(raw: bytes, edit) -> bytes:
    magic, j, n, r, e = table.HEAD.unpack_from(raw)
    doc = json.loads(raw[table.HEAD.size:table.HEAD.size + j])
    edit(doc)
    text = json.dumps(doc).encode()
    return table.HEAD.pack(magic, len(text), n, r, e) + text + raw[table.HEAD.size + j:]


def _refused_at_open(path, cls=FormatError, match=None):
    (result, name), peak = H.measured_outcome(str(path))
    assert (result, name) == ("error", cls.__name__)
    assert peak < 4 * MiB, f"{peak} bytes traced"
    if match:
        with pytest.raises(cls, match=match):
            MaskArchive(path)


@pytest.mark.parametrize("change, match", [
    (dict(n=0xFFFFFFFF), None),              # 4 billion rows: a LimitError or a FormatError, never an allocation
    (dict(n=4), "do not add up"),
    (dict(j=0xFFFFFF00), "do not add up"),
    (dict(e=1 << 31), "do not add up"),
    (dict(r=40), "shorter than the 72"),
])
def test_lying_table_sizes_are_refused_at_open(archive, change, match):
    _, _, raw = _index(archive)
    _rewrite(archive, _head(raw, **change))
    if match is None:
        with pytest.raises((FormatError, LimitError), match=str(archive).replace("\\", "\\\\")):
            MaskArchive(archive)
    else:
        _refused_at_open(archive, FormatError, match)


def test_truncated_table_is_refused(archive):
    _, _, raw = _index(archive)
    _rewrite(archive, raw[:-7])
    _refused_at_open(archive, FormatError, "do not add up")
    _rewrite(archive, raw[:10])
    _refused_at_open(archive, FormatError, "shorter than its")


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(names=["none", "ball"]), "2 names for 3 table rows"),
    (lambda d: d.update(names=["none", "ball", "ball"]), "twice"),
    (lambda d: d.update(names=["none", "", "two"]), "no valid name"),
    (lambda d: d.update(names=["none", 7, "two"]), "no valid name"),
    (lambda d: d.update(codecs={"id": "zstd"}), "'codecs' must be"),
    (lambda d: d.update(metadata=[1]), "'metadata' must be"),
    (lambda d: d.update(kind="zip"), "kind"),
    (lambda d: d["space"].update(shape=[100000, 100000, 100000]), "space"),
])
def test_lying_json_head_is_refused_at_open(archive, edit, match):
    _, _, raw = _index(archive)
    _rewrite(archive, _json_head(raw, edit))
    with pytest.raises(MedMaskError, match=match) as info:
        MaskArchive(archive)
    assert str(archive) in str(info.value)


@pytest.mark.parametrize("name, change, match", [
    ("ball", dict(offset=1 << 62), "outside the data region"),
    ("ball", dict(length=1 << 62), "outside the data region"),
    ("ball", dict(offset=10), "outside the data region"),
    ("ball", dict(z1=10 ** 6), "outside the volume"),
    ("ball", dict(z0=7, z1=7), "empty or outside"),
    ("ball", dict(codec=9), "names none of the index's"),
    ("ball", dict(meta=5), "shared metadata 5"),
    ("ball", dict(dtype=9), "unknown dtype code"),
    ("ball", dict(flags=0x81), "flags"),
    ("none", dict(codec=0), "empty entry"),
    ("two", dict(xoff=0xFFFFFF00), "outside the"),
    ("two", dict(xlen=0xFFFFFFF0), "outside the"),
    ("two", dict(xoff=1, xlen=5), "not valid JSON"),
    ("two", dict(xoff=16, xlen=1), "not a JSON object"),
    ("two", dict(flags=table.HAS_BBOX | table.MAPPING_SELF), "two mappings"),
    ("two", dict(flags=table.HAS_BBOX | table.COUNT_ONE), "two voxel counts"),
    ("ball", dict(flags=table.HAS_BBOX), "invalid mapping"),
])
def test_lying_rows_make_only_their_entry_unreadable(archive, name, change, match):
    _, _, raw = _index(archive)
    _rewrite(archive, _row(raw, name, **change))
    a = MaskArchive(archive)  # the archive opens and lists its entries
    assert a.names == ["none", "ball", "two"]
    with pytest.raises(FormatError, match=match) as info:
        a.entry_info(name)
    assert str(archive) in str(info.value) and repr(name) in str(info.value)
    for other in {"none", "ball", "two"} - {name}:
        a.load_segmask(other).data  # every other entry still reads


def test_extras_bomb_is_refused_before_parsing(archive):
    _, _, raw = _index(archive)
    magic, j, n, r, e = table.HEAD.unpack_from(raw)
    bomb = b"[" * (40 << 20)  # 40 MiB of brackets: compresses to a few KB, would need GBs to parse
    _rewrite(archive, table.HEAD.pack(magic, j, n, r, e + len(bomb)) + raw[table.HEAD.size:] + bomb)
    (result, name), peak = H.measured_outcome(str(archive))
    assert (result, name) == ("error", "LimitError") and peak < 100 * MiB


def test_a_json_index_under_a_2_2_header_still_reads(archive):
    """Readers tell the index forms apart by the table magic, not the minor version."""
    data, h, raw = _index(archive)
    doc = v2.index_document(data[h.index_offset:h.index_offset + h.index_length], h)
    before = H.read_everything(str(archive))
    _rewrite(archive, json.dumps(doc).encode())
    assert archive.read_bytes()[4:6] == bytes([2, 2]) and H.read_everything(str(archive)) == before


def test_rows_longer_than_72_bytes_are_read_by_their_first_72(archive):
    """A later minor may append fields to a row; this reader skips them."""
    before = H.read_everything(str(archive))
    _, _, raw = _index(archive)
    t = table.Table(raw, 1 << 30, None)
    magic, j, n, r, e = table.HEAD.unpack_from(raw)
    rows = b"".join(raw[t.table_start + i * r:t.table_start + (i + 1) * r] + b"\x00" * 8 for i in range(n))
    _rewrite(archive, table.HEAD.pack(magic, j, n, r + 8, e) + raw[table.HEAD.size:t.table_start] + rows
             + raw[t.extras_start:])
    assert H.read_everything(str(archive)) == before


def test_struct_of_the_row_is_as_documented():
    assert table.RECORD.format == "<QQQ6IIIIIIBBH" and table.RECORD.size == 72 and table.HEAD.size == 20
    assert struct.calcsize("<4sIIII") == 20


@pytest.mark.parametrize("op", ["remove", "replace", "setitem"])
def test_an_entry_with_a_damaged_row_can_be_removed_or_replaced(archive, space, op):
    """The user's way out of one bad row: drop or overwrite that entry; the others are copied as stored."""
    before = {n: MaskArchive(archive).load_segmask(n).data.copy() for n in ("none", "two")}
    _, _, raw = _index(archive)
    _rewrite(archive, _row(raw, "ball", z1=10 ** 6))
    new = SegmentationMask(np.ones(tuple(space.shape), bool), {"ball": 1}, space=space)
    with MaskArchive(archive, "a") as a:
        if op == "remove":
            a.remove("ball")
        elif op == "replace":
            a.replace("ball", new)
        else:
            a["ball"] = new
    b = MaskArchive(archive)
    assert b.names == (["none", "two"] if op == "remove" else ["none", "ball", "two"])
    assert all(np.array_equal(b.load_segmask(n).data, before[n]) for n in before)
    if op != "remove":
        assert b.load_segmask("ball").data.all()
    assert b.verify() == b.names


def test_other_edits_refuse_to_copy_a_damaged_row_and_leave_the_file_alone(archive):
    _, _, raw = _index(archive)
    _rewrite(archive, _row(raw, "ball", z1=10 ** 6))
    data = archive.read_bytes()
    a = MaskArchive(archive, "a")  # each edit commits at once
    with pytest.raises(FormatError, match="'ball'"):
        a.rename("two", "three")
    assert a.names == ["none", "ball", "two"]  # the handle shows the file as it is
    with pytest.raises(MedMaskError, match="no entry named 'nope'"):
        a.remove("nope")
    a.close()
    assert archive.read_bytes() == data


def test_info_lists_every_entry_and_names_the_damaged_one(archive, capsys):
    from medmask.cli import main
    _, _, raw = _index(archive)
    _rewrite(archive, _row(raw, "ball", z1=10 ** 6))
    assert main(["info", str(archive)]) == 1
    out = capsys.readouterr().out
    assert all(n in out for n in ("none", "ball", "two")) and "3 entries" in out
    assert "DAMAGED index record: entry 'ball': bbox" in out and "outside the volume" in out
    assert main(["info", "--json", str(archive)]) == 1
    entries = json.loads(capsys.readouterr().out)["entries"]
    assert [e["name"] for e in entries] == ["none", "ball", "two"]
    assert "outside the volume" in entries[1]["error"] and entries[2]["labels"] == {"a": 1, "b": 2}
    assert main(["verify", str(archive)]) == 1
    assert "entry 'ball'" in capsys.readouterr().out


def test_verify_names_every_damaged_entry_and_checks_the_others(archive, capsys):
    from medmask.cli import main
    from medmask.storage.verify import verify_file
    two = MaskArchive(archive).entry_info("two")
    _, _, raw = _index(archive)
    _rewrite(archive, _row(raw, "ball", z1=10 ** 6))
    data = bytearray(archive.read_bytes())
    data[two.offset + two.length // 2] ^= 0xFF  # and damage another entry's bytes
    archive.write_bytes(bytes(data))
    result = verify_file(archive, deep=True)
    assert result.entries == ["none"] and result.damaged == ["ball", "two"] and not result.ok
    assert "entry 'ball': bbox" in result.problems[0] and "entry 'two': checksum mismatch" in result.problems[1]
    assert main(["verify", str(archive)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"FAIL  {archive} (1 entry read, 2 damaged): entry 'ball'") and "'two'" in out
