"""medmask.compute_stats against direct numpy/nibabel answers."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

import medmask
from medmask.errors import MedMaskError
from tests.conftest import TOTALSEG

from .helpers import corner_box, synthetic_archive, voxel_world, world_affine_by_nibabel


@pytest.fixture
def case(tmp_path):
    path = tmp_path / "case01.mska"
    return path, synthetic_archive(path)


def _rows(rows, entry):
    return {r["label"]: r for r in rows if r["entry"] == entry}


def test_every_label_of_every_entry_against_numpy(case, tmp_path):
    path, masks = case
    rows = medmask.compute_stats(path, centroid=True)
    assert len(rows) == sum(max(1, len(m.mapping)) for m in masks.values())
    ml = 2.5 * 0.8 * 0.7 / 1000
    for name, mask in masks.items():
        aff, nib_array = world_affine_by_nibabel(mask, tmp_path)
        assert np.array_equal(nib_array, mask.data)
        got = _rows(rows, name)
        for label, value in mask.mapping.items():
            row = got[label]
            region = mask.data == value
            n = int(region.sum())
            assert (row["case"], row["value"], row["voxels"]) == ("case01", value, n)
            assert row["volume_ml"] == pytest.approx(n * ml, rel=1e-12)
            if n == 0:
                assert row["bbox_start_0"] is None and row["centroid_lps_x"] is None
                continue
            idx = np.argwhere(region)
            for a in range(3):
                assert row[f"bbox_start_{a}"] == idx[:, a].min()
                assert row[f"bbox_stop_{a}"] == idx[:, a].max() + 1
                spacing = mask.space.spacing[a]
                assert row[f"extent_mm_{a}"] == pytest.approx((idx[:, a].max() + 1 - idx[:, a].min()) * spacing)
            # the LPS box around the index box (not the tighter one around the voxels of an oblique organ)
            box = np.zeros(region.shape, bool)
            box[tuple(slice(idx[:, a].min(), idx[:, a].max() + 1) for a in range(3))] = True
            lo, hi = corner_box(aff, box)
            centroid = voxel_world(aff, idx.astype(float)).mean(axis=0)
            for c, axis in zip("xyz", range(3)):
                assert row[f"bbox_lps_min_{c}"] == pytest.approx(lo[axis], abs=1e-6)
                assert row[f"bbox_lps_max_{c}"] == pytest.approx(hi[axis], abs=1e-6)
                assert row[f"centroid_lps_{c}"] == pytest.approx(centroid[axis], abs=1e-6)


def test_index_only_without_centroid_decodes_nothing_for_single_label_entries(case, monkeypatch):
    path, masks = case
    from medmask.stats import source as source_mod

    decoded = []
    real = source_mod.MaskSource.crop
    monkeypatch.setattr(source_mod.MaskSource, "crop", lambda self, name: decoded.append(name) or real(self, name))
    rows = medmask.compute_stats(path)
    # per-label boxes of entries with several filled labels need their crop; nothing else is decoded
    assert sorted(decoded) == ["liver_segments", "ribs"]
    assert "centroid_lps_x" not in rows[0]


def test_empty_entry_and_unnamed_values_are_rows(tmp_path):
    from medmask import MaskArchive, SegmentationMask
    from tests.conftest import oblique_space

    space = oblique_space((6, 7, 8))
    arr = np.zeros((6, 7, 8), np.uint8)
    arr[1:3, 1:3, 1:3] = 1
    arr[4, 4, 4] = 7  # a value nobody named
    with MaskArchive(tmp_path / "u.mska", "w", space=space) as a:
        a.add_segmask(SegmentationMask(arr, {"named": 1}, space=space), "partly_named")
        a.add_segmask(SegmentationMask(np.zeros((6, 7, 8), bool), {}, space=space), "nothing")
    rows = medmask.compute_stats(tmp_path / "u.mska")
    got = {(r["entry"], r["label"], r["value"]): r["voxels"] for r in rows}
    assert got == {("partly_named", "named", 1): 8, ("partly_named", None, 7): 1, ("nothing", None, 0): 0}


def test_folders_globs_entries_and_frame(case, tmp_path):
    path, masks = case
    sub = tmp_path / "cohort" / "site_b"
    sub.mkdir(parents=True)
    shutil.copy(path, tmp_path / "cohort" / "a1.mska")
    shutil.copy(path, sub / "b1.mska")
    (tmp_path / "cohort" / ".b2.mska.123.tmp").write_bytes(b"half written")
    rows = medmask.compute_stats(tmp_path / "cohort", entries=["tumor"])
    assert [(r["case"], r["entry"]) for r in rows] == [("a1", "tumor"), ("site_b/b1", "tumor")]
    rows = medmask.compute_stats(str(tmp_path / "cohort" / "*.mska"))
    assert {r["case"] for r in rows} == {"a1"}
    frame = medmask.compute_stats([path], entries="liver", frame=True)
    assert list(frame["voxels"]) == [int(masks["liver"].data.sum())]
    with pytest.raises(MedMaskError, match="no archive has an entry named 'kidney'"):
        medmask.compute_stats(path, entries=["kidney"])
    with pytest.raises(MedMaskError, match="no such file"):
        medmask.compute_stats(tmp_path / "nope.mska")
    with pytest.raises(MedMaskError, match="matches no"):
        medmask.compute_stats(str(tmp_path / "*.zip"))


def test_same_case_name_twice_is_an_error(case, tmp_path):
    path, _ = case
    (tmp_path / "x").mkdir()
    shutil.copy(path, tmp_path / "x" / "case01.mska")
    with pytest.raises(MedMaskError, match="case name 'case01' is given by two files"):
        medmask.compute_stats([path, tmp_path / "x" / "case01.mska"])


def test_single_mask_file_and_v1_archive(case, tmp_path):
    path, masks = case
    from medmask import MaskArchive, save_mask

    save_mask(masks["ribs"], tmp_path / "ribs.msk")
    rows = medmask.compute_stats(tmp_path / "ribs.msk")
    assert {r["label"]: r["voxels"] for r in rows} == {f"rib_{i}": int((masks["ribs"].data == 300 + i).sum())
                                                       for i in range(5)}
    with MaskArchive(tmp_path / "old.mska", "w", space=masks["liver"].space, format_version=1) as a:
        a.add_segmask(masks["liver_segments"], "liver_segments")
    rows = medmask.compute_stats(tmp_path / "old.mska")
    assert {r["label"]: r["voxels"] for r in rows} == {"liver_upper": 5 * 17 * 20, "liver_lower": 5 * 17 * 20}


def test_damaged_archive_names_the_file(case, tmp_path):
    path, _ = case
    bad = tmp_path / "bad.mska"
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(MedMaskError, match="bad.mska"):
        medmask.compute_stats(bad)


@pytest.mark.skipif(not TOTALSEG.is_dir(), reason="../shared/data/totalseg_s0000 not present")
def test_totalsegmentator_case_against_nibabel(tmp_path):
    import nibabel as nib
    from medmask.convert import convert

    archive = convert(TOTALSEG, tmp_path / "s0000.mska")
    rows = {r["entry"]: r for r in medmask.compute_stats(archive, centroid=True)}
    assert len(rows) == 117
    ras_to_lps = np.diag([-1.0, -1.0, 1.0])
    for name in ("colon", "femur_left", "vertebrae_L3", "adrenal_gland_left"):
        img = nib.load(str(TOTALSEG / f"{name}.nii.gz"))
        data = np.asarray(img.dataobj) > 0
        n = int(data.sum())
        row = rows[name]
        assert row["voxels"] == n
        assert row["volume_ml"] == pytest.approx(n * abs(np.linalg.det(img.affine[:3, :3])) / 1000, rel=1e-6)
        if n:
            ijk = np.argwhere(data).astype(float)
            world = ras_to_lps @ (ijk @ img.affine[:3, :3].T + img.affine[:3, 3]).mean(axis=0)
            # the archive keeps the float32, not quite orthogonal sform as spacing x unit directions:
            # positions agree to ~0.01 mm (1/100 voxel) at 200 mm from the origin
            for c, v in zip("xyz", world):
                assert row[f"centroid_lps_{c}"] == pytest.approx(v, abs=0.03)
            # medmask axis a is nibabel axis 2 - a
            assert row["bbox_start_0"] == ijk[:, 2].min() and row["bbox_stop_2"] == ijk[:, 0].max() + 1
        else:
            assert row["bbox_start_0"] is None
