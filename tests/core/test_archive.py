import os

import numpy as np
import pytest

import medmask
from medmask import (EntryNotFoundError, GeometryError, MaskArchive, MedMaskError, SegmentationMask, load_mask,
                     save_mask)
from medmask.core.geometry import space_to_dict
from medmask.errors import ArchiveModeError, EntryExistsError
from medmask.storage import writer
from tests.conftest import oblique_space


def write_archive(path, masks):
    a = MaskArchive(path, mode="w", space=next(iter(masks.values())).space)
    a.add_segmasks(masks)
    return a


def test_write_read_every_entry(tmp_path, masks):
    p = tmp_path / "organs.mska"
    write_archive(p, masks)
    a = MaskArchive(p, mode="r")
    assert a.all_names() == list(masks) and len(a) == 5 and list(a) == list(masks)
    assert "liver" in a and "heart" not in a
    for name, m in masks.items():
        back = a.load_segmask(name)
        assert back.same_content(m), name
        assert np.array_equal(back.data, m.data) and back.data.dtype == m.data.dtype
        assert space_to_dict(back.space) == space_to_dict(m.space)
    assert a["tumor"].mapping == {"tumor": 1}
    assert a.read_all_mapping()["liver_segments"] == {"liver_upper": 1, "liver_lower": 2}
    assert set(a.read_all_masks()) == set(masks)
    assert a.verify() == list(masks)


def test_entry_info_knows_without_decoding(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    a = MaskArchive(p)
    info = a.entry_info("liver")
    assert info.bbox == ((2, 12), (3, 20), (4, 24)) and info.counts == {1: 3400}
    assert info.colors == {"liver": pytest.approx((0.866667, 0.533333, 0.333333, 1.0))}
    assert info.metadata == {"snomed": "10200004", "source": "test"}
    assert a.entry_info("empty").stored_bytes == 0 and a.entry_info("empty").is_empty
    assert [e.name for e in a.entries()] == list(masks)


def test_colors_and_metadata_round_trip(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    m = MaskArchive(p).load_segmask("liver")
    assert m.metadata["snomed"] == "10200004" and m.colors["liver"][0] == pytest.approx(0.866667)


def test_missing_entry_error_names_file_and_entries(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    with pytest.raises(EntryNotFoundError, match=r"a\.mska: no entry named 'heart'; entries: 'liver'"):
        MaskArchive(p).load_segmask("heart")


def test_read_only_mode_refuses_changes(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    a = MaskArchive(p, mode="r")
    with pytest.raises(ArchiveModeError, match="read-only"):
        a.add_segmask(masks["liver"], "x")
    with pytest.raises(ArchiveModeError, match="mode"):
        MaskArchive(p, mode="x")


def test_space_mismatch_rejected(tmp_path, masks):
    p = tmp_path / "a.mska"
    a = write_archive(p, masks)
    other = SegmentationMask(np.zeros((20, 30, 40), np.uint8), {"a": 1})
    with pytest.raises(GeometryError, match="space"):
        a.add_segmask(other, "other")


def test_existing_name_needs_replace(tmp_path, masks):
    p = tmp_path / "a.mska"
    a = write_archive(p, masks)
    with pytest.raises(EntryExistsError, match="replace=True"):
        a.add_segmask(masks["tumor"], "liver")


def payloads(path):
    a = MaskArchive(path)
    return {n: a.raw_payload(n) for n in a.all_names()}


def test_append_replace_delete_rename_keep_other_entries_byte_identical(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    before = payloads(p)
    offsets = {n: MaskArchive(p).entry_info(n).offset for n in masks}
    a = MaskArchive(p, mode="a")
    extra = masks["tumor"]
    a.add_segmask(extra, "tumor_copy")
    after_add = MaskArchive(p)
    assert {n: after_add.entry_info(n).offset for n in masks} == offsets  # appending moves nothing
    new_liver = np.zeros(extra.shape, np.uint8)
    new_liver[0:3, 0:3, 0:3] = 1
    a.replace("liver", SegmentationMask(new_liver, {"liver": 1}, space=extra.space))
    a.remove("ribs")
    a.rename("tumor", "lesion")
    b = MaskArchive(p)
    assert b.all_names() == ["liver", "liver_segments", "lesion", "empty", "tumor_copy"]
    assert b["liver"].voxel_counts() == {1: 27}
    now = payloads(p)
    assert now["liver_segments"] == before["liver_segments"] and now["lesion"] == before["tumor"]
    assert now["tumor_copy"] == before["tumor"]
    assert b.verify()


def test_set_attributes_changes_index_only(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    before = payloads(p)
    a = MaskArchive(p, mode="a")
    a.set_attributes("ribs", colors={"rib_0": "#112233"}, metadata={"group": "ribs"})
    b = MaskArchive(p)
    assert b.entry_info("ribs").metadata == {"group": "ribs"}
    assert b.load_segmask("ribs").colors["rib_0"][:3] == pytest.approx((0x11 / 255, 0x22 / 255, 0x33 / 255), abs=1e-6)
    assert payloads(p) == before
    with pytest.raises(medmask.LabelError, match="rib_99"):
        a.set_attributes("ribs", colors={"rib_99": "#000000"})


def test_with_block_writes_once_and_drops_on_error(tmp_path, masks, monkeypatch):
    p = tmp_path / "a.mska"
    calls = []
    real = writer.write_v2
    monkeypatch.setattr("medmask.storage.container_v2.write_v2", lambda *a, **k: calls.append(1) or real(*a, **k))
    space = masks["liver"].space
    with MaskArchive(p, mode="w", space=space) as a:
        a.add_segmasks(masks)
        assert len(a) == 5
    assert len(calls) == 1  # one write for all five entries, none at open
    assert MaskArchive(p).all_names() == list(masks)
    with pytest.raises(RuntimeError):
        with MaskArchive(p, mode="a") as a:
            a.remove("liver")
            a.add_segmask(masks["liver"], "liver2")
            raise RuntimeError("boom")
    assert MaskArchive(p).all_names() == list(masks)


def test_failure_mid_write_leaves_old_file(tmp_path, masks, monkeypatch):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    original = p.read_bytes()
    from medmask.format import v2

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(v2, "encode_index", explode)  # payloads already written to the temp file
    a = MaskArchive(p, mode="a")
    with pytest.raises(OSError, match="disk full"):
        a.remove("liver")
    assert p.read_bytes() == original
    assert [f for f in os.listdir(tmp_path) if f != "a.mska"] == []  # temp file cleaned up


def test_reader_keeps_its_snapshot_while_writer_replaces(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    reader = MaskArchive(p)
    w = MaskArchive(p, mode="a")
    w.remove("liver")
    w.add_segmask(masks["tumor"], "tumor2")
    assert reader.load_segmask("liver").same_content(masks["liver"])
    assert MaskArchive(p).all_names()[-1] == "tumor2"


def test_mode_w_truncates_and_a_creates(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    w = MaskArchive(p, mode="w", space=masks["liver"].space)
    assert len(MaskArchive(p)) == 5  # untouched until the first change or close
    w.close()
    assert len(MaskArchive(p)) == 0
    q = tmp_path / "new.mska"
    a = MaskArchive(q, mode="a")
    a.add_segmask(masks["liver"], "liver")
    assert MaskArchive(q).all_names() == ["liver"]
    r = tmp_path / "lazy.mska"
    a = MaskArchive(r, mode="w")  # no space yet: taken from the first mask
    assert not r.exists()
    a.add_segmask(masks["tumor"], "t")
    assert MaskArchive(r).space == masks["tumor"].space


def test_msk_and_mska_are_not_confused(tmp_path, masks):
    save_mask(masks["liver"], tmp_path / "l.msk")
    write_archive(tmp_path / "a.mska", masks)
    with pytest.raises(MedMaskError, match="single-mask"):
        MaskArchive(tmp_path / "l.msk")
    with pytest.raises(MedMaskError, match="archive"):
        load_mask(tmp_path / "a.mska")


@pytest.mark.parametrize("name", ["liver", "liver_segments", "tumor", "ribs", "empty"])
def test_msk_round_trip(tmp_path, masks, name):
    p = tmp_path / f"{name}.msk"
    masks[name].save(p)
    back = SegmentationMask.load(p)
    assert back.same_content(masks[name]) and back.colors == masks[name].colors
    assert np.array_equal(back.data, masks[name].data)


def test_many_entries_and_unicode_names(tmp_path):
    space = oblique_space((8, 9, 10))
    p = tmp_path / "many.mska"
    with MaskArchive(p, mode="w", space=space) as a:
        for i in range(300):
            arr = np.zeros(space.shape, np.uint8)
            arr[i % 8, i % 9, i % 10] = 1
            a.add_segmask(SegmentationMask(arr, {f"organ_{i}": 1}, space=space), f"organ_{i}_é")
    b = MaskArchive(p)
    assert len(b) == 300 and b["organ_299_é"].voxel_counts() == {1: 1}


def test_stale_temporaries_of_killed_writers_are_removed(tmp_path, masks):
    p = tmp_path / "a.mska"
    stale = tmp_path / ".a.mska.abc123.tmp"
    fresh = tmp_path / ".a.mska.def456.tmp"
    other = tmp_path / ".b.mska.zzz.tmp"
    for f in (stale, fresh, other):
        f.write_bytes(b"half-written")
    old = os.path.getmtime(stale) - 7200
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    write_archive(p, masks)
    assert not stale.exists() and fresh.exists() and other.exists()


def test_using_a_closed_archive_is_a_clear_error(tmp_path, masks):
    p = tmp_path / "a.mska"
    write_archive(p, masks)
    a = MaskArchive(p, mode="a")
    with a:
        a.remove("empty")
    with pytest.raises(ArchiveModeError, match="closed"):
        a.add_segmask(masks["tumor"], "t2")
    with pytest.raises(ArchiveModeError, match="closed"):
        a.load_segmask("liver")
    assert MaskArchive(p).all_names() == ["liver", "liver_segments", "tumor", "ribs"]


def test_read_masks_own_their_mapping_metadata_and_empty_crop(tmp_path, masks):
    """Masks read from an archive skip re-checking their record's mapping (checked when the index
    row was read), yet each owns its mapping and metadata, and an empty entry's shared (0, 0, 0)
    crop cannot be changed through one mask."""
    import pickle

    p = tmp_path / "a.mska"
    write_archive(p, masks)
    a = MaskArchive(p)
    ribs, again = a.load_segmask("ribs"), a.load_segmask("ribs")
    assert ribs.mapping.inverse(302) == "rib_2" and ribs.mapping.has_label(304) and ribs.dtype == np.uint16
    ribs.mapping["rib_extra"] = 400
    ribs.metadata["edited"] = True
    assert "rib_extra" not in again.mapping and "rib_extra" not in a.entry_info("ribs").mapping
    assert "edited" not in a.load_segmask("ribs").metadata
    liver = a.load_segmask("liver")
    liver.metadata["snomed"] = "changed"
    assert a.load_segmask("liver").metadata["snomed"] == "10200004"
    assert a.load_segmask("liver").colors == masks["liver"].colors

    empty, other = a.load_segmask("empty"), a.load_segmask("empty")
    assert empty.is_empty and empty.crop_data.shape == (0, 0, 0) and empty.dtype == np.uint8
    with pytest.raises(ValueError):
        empty.crop_data[...] = 1  # read-only
    assert empty.data.shape == masks["empty"].shape and not empty.data.any()
    region = np.zeros(empty.shape, bool)
    region[1:3, 1:3, 1:3] = True
    empty.add_label(region, 1, "nothing")
    assert empty.bbox == ((1, 3), (1, 3), (1, 3)) and other.is_empty and not other.data.any()
    assert a.load_segmask("empty").is_empty
    back = pickle.loads(pickle.dumps(ribs))  # the cached shape does not stop a mask being pickled
    assert back.same_content(ribs) and back.shape == ribs.shape


def test_loaded_mask_labels_that_do_not_fit_are_still_refused_by_from_crop(space):
    """from_crop keeps checking callers' mappings (only index records, checked on reading, skip it)."""
    from medmask.errors import LabelError

    with pytest.raises(LabelError, match="do not fit"):
        SegmentationMask.from_crop(None, None, {"big": 300}, space, np.uint8)
    with pytest.raises(LabelError):
        SegmentationMask.from_crop(None, None, {"a": 1, "b": 1}, space, np.uint8)
