"""Archive-level attributes and metadata stored once for many entries (format 2.1)."""
import json
import zlib

import numpy as np
import pytest
import zstandard

from medmask import FormatError, MaskArchive, MedMaskError
from medmask.errors import ArchiveModeError
from medmask.format import v2


def index_doc(path):
    raw = path.read_bytes()
    h = v2.unpack_header(raw[:64], len(raw))
    return v2.index_document(raw[h.index_offset:h.index_offset + h.index_length], h)  # as a 2.1 writer stores it


def rewrite_index(path, change):
    raw = path.read_bytes()
    h = v2.unpack_header(raw[:64], len(raw))
    doc = index_doc(path)
    change(doc)
    blob = zstandard.ZstdCompressor(write_content_size=True).compress(json.dumps(doc).encode())
    path.write_bytes(v2.pack_header(raw[:4], h.index_offset, len(blob), zlib.crc32(blob)) + raw[64:h.index_offset] + blob)


NIFTI_A = {"dtype": "uint8", "srow": [1.5, 0.0, 0.0, -100.25], "sform_code": 2}
NIFTI_B = {**NIFTI_A, "srow": [1.5000001, 0.0, 0.0, -100.25]}


@pytest.fixture
def organs(masks):
    out = {}
    for i, (name, m) in enumerate(masks.items()):
        m.metadata = {**m.metadata, "nifti": NIFTI_B if i == 3 else NIFTI_A}
        out[name] = m
    out["liver"].metadata["rater"] = "A"
    return out


def test_attributes_round_trip_and_are_a_copy(organs, tmp_path):
    p = tmp_path / "a.mska"
    space = organs["liver"].space
    with MaskArchive(p, "w", space=space) as a:
        a.add_segmasks(organs)
        a.attributes = {"study": "s0000", "model": {"name": "TotalSegmentator", "version": "2.4.0"}}
    r = MaskArchive(p)
    assert r.attributes == {"study": "s0000", "model": {"name": "TotalSegmentator", "version": "2.4.0"}}
    r.attributes["model"]["name"] = "changed"  # a copy: nothing changes, nothing is written
    assert MaskArchive(p).attributes["model"]["name"] == "TotalSegmentator"
    with pytest.raises(ArchiveModeError, match="read-only"):
        r.attributes = {}
    e = MaskArchive(p, "a")
    e.attributes = {"study": "s0001"}  # written at once
    assert MaskArchive(p).attributes == {"study": "s0001"} and MaskArchive(p).all_names() == list(organs)
    e.rename("tumor", "lesion")  # other edits keep them
    assert MaskArchive(p).attributes == {"study": "s0001"}
    e.attributes = {}
    assert MaskArchive(p).attributes == {} and "attributes" not in index_doc(p)


def test_bad_attributes_are_refused(organs, tmp_path):
    a = MaskArchive(tmp_path / "a.mska", "w", space=organs["liver"].space)
    with pytest.raises(MedMaskError, match="attributes are not JSON"):
        a.attributes = {"when": object()}
    with pytest.raises(MedMaskError, match="must be a dict"):
        a.attributes = ["study"]
    v1 = MaskArchive(tmp_path / "v1.mska", "w", space=organs["liver"].space, format_version=1)
    with pytest.raises(ArchiveModeError, match="version 1"):
        v1.attributes = {"study": "x"}
    assert v1.attributes == {}


def test_metadata_shared_by_entries_is_stored_once_and_read_back_whole(organs, tmp_path):
    p = tmp_path / "a.mska"
    with MaskArchive(p, "w", space=organs["liver"].space) as a:
        a.add_segmasks(organs)
    doc = index_doc(p)
    table = doc["shared"]["metadata"]
    assert table == [["nifti", NIFTI_A]]
    assert all("nifti" not in r.get("metadata", {}) for r in doc["entries"] if r["name"] != "ribs")
    assert doc["entries"][3]["metadata"] == {"nifti": NIFTI_B}  # the odd one out keeps its own
    r = MaskArchive(p)
    for n, m in organs.items():
        assert r[n].metadata == m.metadata and r.entry_info(n).metadata == m.metadata, n


def test_one_entry_shares_nothing(organs, tmp_path):
    p = tmp_path / "a.mska"
    with MaskArchive(p, "w", space=organs["liver"].space) as a:
        a.add_segmask(organs["liver"], "liver")
    assert "shared" not in index_doc(p) and MaskArchive(p)["liver"].metadata == organs["liver"].metadata


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(attributes=["x"]), "attributes must be an object"),
    (lambda d: d.update(shared={"metadata": {"nifti": 1}}), "'shared' must hold"),
    (lambda d: d.update(shared={"metadata": [["nifti"]]}), "'shared' must hold"),
    (lambda d: d["entries"][0].update(shared_metadata=[7]), "names no rows"),
    (lambda d: d["entries"][0].update(shared_metadata=[True]), "names no rows"),
])
def test_lying_index_keys_are_refused(organs, tmp_path, change, message):
    p = tmp_path / "a.mska"
    with MaskArchive(p, "w", space=organs["liver"].space) as a:
        a.add_segmasks(organs)
    rewrite_index(p, change)
    with pytest.raises(FormatError, match=message):
        r = MaskArchive(p)
        r.entry_info(r.all_names()[0])


def test_full_volume_read_matches_crop(organs, tmp_path):
    """Crops of codecs with a transposed axis order decode into the right place of the volume."""
    p = tmp_path / "a.mska"
    with MaskArchive(p, "w", space=organs["liver"].space) as a:
        a.add_segmasks(organs)
    r = MaskArchive(p)
    for n, m in organs.items():
        assert np.array_equal(r[n].data, m.data) and np.array_equal(r[n].crop_data, m.crop_data)
        for label in m.mapping.to_dict():
            assert np.array_equal(r[n].get_binary_mask_by_names(label), m.get_binary_mask_by_names(label))


def test_info_shows_attributes(organs, tmp_path, capsys):
    from medmask.cli import main
    p = tmp_path / "a.mska"
    with MaskArchive(p, "w", space=organs["liver"].space) as a:
        a.add_segmask(organs["liver"], "liver")
        a.attributes = {"study": "s0000"}
    main(["info", str(p)])
    assert 'attributes        {"study": "s0000"}' in capsys.readouterr().out
    main(["info", "--json", str(p)])
    assert json.loads(capsys.readouterr().out)["attributes"] == {"study": "s0000"}
