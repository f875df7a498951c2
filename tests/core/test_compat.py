"""Files written by the original medmask 0.1.3 decode to exactly what their JSON says."""
import hashlib
import json

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from medmask.core.geometry import space_to_dict
from medmask.format import v1

MSK_FILES = ["labels_uint8.msk", "labels_uint16.msk", "mask_bool.msk"]


def sha(arr):
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()


def counts(arr):
    values, n = np.unique(arr.astype(np.int64), return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, n)}


@pytest.mark.parametrize("name", MSK_FILES)
def test_v1_msk_decodes_as_documented(compat_dir, name):
    exp = json.loads((compat_dir / f"{name}.json").read_text())
    m = load_mask(compat_dir / name)
    assert str(m.dtype) == exp["expected"]["dtype"] and list(m.shape) == exp["expected"]["shape"]
    assert sha(m.data) == exp["expected"]["array_sha256"]
    assert counts(m.data) == exp["expected"]["counts"]
    assert m.mapping.to_dict() == exp["mapping"]
    assert space_to_dict(m.space) == exp["space_after_load"]


def test_v1_archive_decodes_as_documented(compat_dir):
    exp = json.loads((compat_dir / "archive.mska.json").read_text())
    a = MaskArchive(compat_dir / "archive.mska")
    assert a.all_names() == [e["name"] for e in exp["entries"]]
    assert space_to_dict(a.space) == exp["space_after_load"]
    for e in exp["entries"]:
        m = a.load_segmask(e["name"])
        assert str(m.dtype) == e["dtype"] and sha(m.data) == e["array_sha256"], e["name"]
        assert counts(m.data) == e["counts"] and m.mapping.to_dict() == e["mapping"]
        info = a.entry_info(e["name"])
        assert info.counts == {int(k): v for k, v in e["counts"].items() if k != "0"}
    assert a.verify()


def test_v1_archive_can_be_upgraded_and_edited(compat_dir, tmp_path):
    p = tmp_path / "old.mska"
    p.write_bytes((compat_dir / "archive.mska").read_bytes())
    old = {n: m.data.copy() for n, m in MaskArchive(p).read_all_masks().items()}
    a = MaskArchive(p, mode="a")  # keeps version 1 so old installations can still read it
    assert a.format_version == 1
    a.remove("tumor")
    assert p.read_bytes()[4] == 1 and MaskArchive(p).all_names() == ["liver", "liver_segments"]
    up = MaskArchive(p, mode="a", format_version=2)
    up.rename("liver", "liver_whole")
    assert p.read_bytes()[4] == 2
    assert np.array_equal(MaskArchive(p)["liver_whole"].data, old["liver"])


@pytest.mark.parametrize("name", MSK_FILES)
def test_writing_v1_reproduces_the_original_layout(compat_dir, tmp_path, name):
    m = load_mask(compat_dir / name)
    out = tmp_path / name
    save_mask(m, out, format_version=1)
    ours, theirs = out.read_bytes(), (compat_dir / name).read_bytes()
    # header fields, space JSON and mapping JSON are byte-identical; only the zstd level may differ
    exp = json.loads((compat_dir / f"{name}.json").read_text())
    h = v1.unpack_mask_header(ours, len(ours), None)
    assert ours[:4] == b"MSK1" and ours[4:6] == bytes([1, 0])
    assert ours[h["space_offset"]:h["mapping_offset"] + h["mapping_length"]] == \
        theirs[exp["header"]["space_offset"]:exp["header"]["mapping_offset"] + exp["header"]["mapping_length"]]
    assert ours[h["data_offset"]:h["data_offset"] + exp["data_blob"]["payload_offset_in_blob"]] == \
        theirs[exp["header"]["data_offset"]:exp["header"]["data_offset"] + exp["data_blob"]["payload_offset_in_blob"]]
    assert load_mask(out).same_content(m)


@pytest.mark.filterwarnings("ignore:.*version 1 cannot store")
def test_writing_v1_archive_round_trips(masks, tmp_path):
    p = tmp_path / "v1.mska"
    with MaskArchive(p, mode="w", space=masks["liver"].space, format_version=1) as a:
        for n, m in masks.items():
            a.add_segmask(m, n)
    raw = p.read_bytes()
    assert raw[:6] == b"MSKA\x01\x00" and len(raw) >= v1.ARCHIVE_HEADER.size + v1.INDEX_RESERVE
    b = MaskArchive(p)
    for n, m in masks.items():
        assert np.array_equal(b[n].data, m.data) and b[n].mapping == m.mapping
    assert b.space == masks["liver"].space


GOLDEN = __import__("pathlib").Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize("stem", ["golden_v2_archive.mska", "golden_v2_mask.msk",
                                  "golden_v2_1_archive.mska", "golden_v2_1_mask.msk",
                                  "golden_v2_2_archive.mska", "golden_v2_2_mask.msk"])
def test_golden_v2_files_decode_forever(stem):
    """Files written by this release; later releases must keep decoding them identically."""
    exp = json.loads((GOLDEN / f"{stem}.json").read_text())
    if stem.endswith(".mska"):
        a = MaskArchive(GOLDEN / stem)
        got = {n: a[n] for n in a}
    else:
        got = {"mask": load_mask(GOLDEN / stem)}
    assert list(got) == list(exp["entries"])
    for n, m in got.items():
        e = exp["entries"][n]
        assert sha(m.data) == e["array_sha256"] and m.mapping.to_dict() == e["mapping"] and str(m.dtype) == e["dtype"]
        assert space_to_dict(m.space) == exp["space"]
        if "metadata" in e:
            assert m.metadata == e["metadata"]
        if "record" in e:  # what the index says without decoding (2.2 golden files)
            i, r = a.entry_info(n), e["record"]
            assert i.bbox == (None if r["bbox"] is None else tuple(tuple(p) for p in r["bbox"]))
            assert (i.codec, i.length, i.crc32) == (r["codec"], r["length"], r["crc32"])
            assert {str(k): v for k, v in i.counts.items()} == r["counts"]
            assert {k: list(v) for k, v in i.colors.items()} == r["colors"]
    if stem.endswith(".mska"):
        assert a.attributes == exp.get("attributes", {})
        assert (a.image_reference.to_json() if a.image_reference else None) == exp.get("image")


def test_golden_v2_1_covers_the_new_codec():
    """The 2.1 golden archive holds rowdelta-zstd in both axis orders and both value modes."""
    a = MaskArchive(GOLDEN / "golden_v2_1_archive.mska")
    rowdelta = [a.entry_info(n) for n in a if (a.entry_info(n).codec or {}).get("id") == "rowdelta-zstd"]
    assert {tuple(i.codec["order"]) for i in rowdelta} >= {(0, 1, 2), (1, 0, 2)}
    assert {i.dtype for i in rowdelta} >= {"bool", "uint8", "uint16"}
    assert GOLDEN.joinpath("golden_v2_1_archive.mska").read_bytes()[4:6] == bytes([2, 1])


def test_golden_v2_2_is_a_table_and_covers_every_row_form():
    """The 2.2 golden archive's index is the binary table, with rows of every form: empty, binary
    ({name: 1}), multi-label (mapping and counts in the extra), colours, own and shared metadata."""
    from medmask.format import table, v2
    data = GOLDEN.joinpath("golden_v2_2_archive.mska").read_bytes()
    assert data[4:6] == bytes([2, 2])
    h = v2.unpack_header(data, len(data))
    raw = v2.decompress_index(data[h.index_offset:h.index_offset + h.index_length], h)
    assert table.is_table(raw)
    t = table.Table(raw, 1 << 30, "golden")
    flags = {n: table.RECORD.unpack_from(raw, t.table_start + i * t.row_size)[-2] for i, n in enumerate(t.names)}
    assert flags["empty"] == 0 and flags["tumor"] == table.HAS_BBOX | table.MAPPING_SELF | table.COUNT_ONE
    assert flags["ribs"] == table.HAS_BBOX and len(t.shared) == 1 and len(t.codecs) >= 3


def test_writing_v1_warns_about_colours_and_metadata(masks, tmp_path):
    liver = masks["liver"]  # has a colour and metadata
    with pytest.warns(UserWarning, match="version 1 cannot store colours and metadata"):
        save_mask(liver, tmp_path / "l.msk", format_version=1)
    with pytest.warns(UserWarning, match="entry 'liver'.*colours and metadata"):
        with MaskArchive(tmp_path / "a.mska", mode="w", space=liver.space, format_version=1) as a:
            a.add_segmask(liver, "liver")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        save_mask(masks["tumor"], tmp_path / "t.msk", format_version=1)  # nothing to lose: no warning
