"""medmask.compare against direct numpy answers (Dice, volumes, brute-force surface distances)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import medmask
from medmask import MaskArchive, SegmentationMask
from medmask.errors import GeometryError, MedMaskError
from tests.conftest import TOTALSEG, oblique_space

from .helpers import synthetic_archive


def surface_world(region: np.ndarray, space) -> np.ndarray:
    """Surface voxels by direct neighbour tests on the zero-padded array, in LPS mm via the affine."""
    from medmask.core.geometry import index_to_world_affine

    p = np.pad(region, 1)
    inner = p[1:-1, 1:-1, 1:-1].copy()
    for axis in range(3):
        for shift in (-1, 1):
            inner &= np.roll(p, shift, axis=axis)[1:-1, 1:-1, 1:-1]
    idx = np.argwhere(region & ~inner).astype(float)
    aff = index_to_world_affine(space)
    return idx @ aff[:3, :3].T + aff[:3, 3]


def brute_hd95(a: np.ndarray, b: np.ndarray, space) -> tuple[float, float, float]:
    pa, pb = surface_world(a, space), surface_world(b, space)
    d = np.linalg.norm(pa[:, None, :] - pb[None, :, :], axis=2)
    d_ab, d_ba = d.min(axis=1), d.min(axis=0)
    return (max(np.percentile(d_ab, 95), np.percentile(d_ba, 95)), max(d_ab.max(), d_ba.max()),
            (d_ab.sum() + d_ba.sum()) / (d_ab.size + d_ba.size))


def edited(masks: dict[str, SegmentationMask]) -> dict[str, SegmentationMask]:
    """Shift the blob, erode the tumor to nothing, relabel half of a rib, drop 'ribs' label 304."""
    out = dict(masks)
    space = masks["blob"].space
    out["blob"] = SegmentationMask(np.roll(masks["blob"].data, (1, -2, 3), axis=(0, 1, 2)), {"blob": 1}, space=space)
    out["tumor"] = SegmentationMask(np.zeros(space.shape, bool), {"tumor": 1}, space=space)
    ribs = masks["ribs"].data.copy()
    ribs[ribs == 304] = 0
    ribs[3, 2:10, 30:38] = 0
    out["ribs"] = SegmentationMask(ribs, {f"rib_{i}": 300 + i for i in range(4)}, space=space)
    liver = masks["liver"].data.copy()
    liver[:, :, 30:34] = 1  # a disjoint piece: two components
    out["liver"] = SegmentationMask(liver, {"liver": 1}, space=space)
    del out["liver_segments"]
    empty_now_full = np.zeros(space.shape, np.uint8)
    empty_now_full[15:18, 20:25, 5:9] = 1
    out["empty"] = SegmentationMask(empty_now_full, {"nothing": 1}, space=space)
    out["new_organ"] = SegmentationMask(empty_now_full.astype(bool), {"new_organ": 1}, space=space)
    return out


@pytest.fixture
def pair(tmp_path):
    a = tmp_path / "a" / "case01.mska"
    a.parent.mkdir()
    masks = synthetic_archive(a)
    b_masks = edited(masks)
    b = tmp_path / "b" / "case01.mska"
    b.parent.mkdir()
    with MaskArchive(b, "w", space=oblique_space()) as archive:
        for name, m in b_masks.items():
            archive.add_segmask(m, name)
    return a, b, masks, b_masks


def test_every_figure_against_numpy(pair):
    a, b, ma, mb = pair
    rows = {(r["entry"], r["label"]): r for r in medmask.compare(a, b)}
    space = ma["blob"].space
    ml = 2.5 * 0.8 * 0.7 / 1000
    checked = 0
    for entry in set(ma) & set(mb):
        for label, va in ma[entry].mapping.items():
            if label not in mb[entry].mapping:
                continue
            A, B = ma[entry].data == va, mb[entry].data == mb[entry].mapping[label]
            r = rows[(entry, label)]
            na, nb = int(A.sum()), int(B.sum())
            assert (r["voxels_a"], r["voxels_b"]) == (na, nb)
            assert r["volume_a_ml"] == pytest.approx(na * ml) and r["volume_b_ml"] == pytest.approx(nb * ml)
            assert r["volume_diff_ml"] == pytest.approx((nb - na) * ml)
            if na and nb:
                assert r["status"] == "ok"
                assert r["overlap_voxels"] == int((A & B).sum())
                assert r["dice"] == pytest.approx(2 * (A & B).sum() / (na + nb), rel=1e-12)
                assert r["volume_diff_pct"] == pytest.approx(100 * (nb - na) / na)
                hd95, hd, assd = brute_hd95(A, B, space)
                assert r["hd95_mm"] == pytest.approx(hd95, abs=1e-9)
                assert r["hd_mm"] == pytest.approx(hd, abs=1e-9)
                assert r["assd_mm"] == pytest.approx(assd, abs=1e-9)
                checked += 1
    assert checked >= 6
    assert 0 < rows[("blob", "blob")]["dice"] < 1 and rows[("blob", "blob")]["hd95_mm"] > 0
    assert rows[("liver", "liver")]["hd_mm"] > rows[("liver", "liver")]["hd95_mm"] > 0


def test_missing_and_empty_are_reported_not_dice_zero_over_zero(pair):
    a, b, ma, mb = pair
    rows = {(r["entry"], r["label"]): r for r in medmask.compare(a, b)}
    tumor = rows[("tumor", "tumor")]
    assert (tumor["status"], tumor["dice"], tumor["hd95_mm"], tumor["voxels_b"]) == ("empty_in_b", 0.0, None, 0)
    assert tumor["volume_diff_pct"] == pytest.approx(-100.0)
    empty = rows[("empty", "nothing")]
    assert (empty["status"], empty["dice"], empty["volume_diff_pct"]) == ("empty_in_a", 0.0, None)
    gone = rows[("liver_segments", "liver_upper")]
    assert (gone["status"], gone["voxels_a"], gone["voxels_b"], gone["dice"]) == ("missing_in_b", 5 * 17 * 20, None, None)
    new = rows[("new_organ", "new_organ")]
    assert (new["status"], new["voxels_a"], new["voxels_b"]) == ("missing_in_a", None, 60)
    rib = rows[("ribs", "rib_4")]
    assert rib["status"] == "missing_in_b"
    # both empty: nothing to compare, no number pretending otherwise
    rows = medmask.compare(a, a, entries=["empty"])
    assert [(r["status"], r["dice"], r["hd95_mm"]) for r in rows] == [("empty_in_both", None, None)]


def test_identical_bytes_need_no_decoding(pair, monkeypatch):
    a, _, ma, _ = pair
    from medmask.stats import source as source_mod

    monkeypatch.setattr(source_mod.MaskSource, "crop", lambda self, name: pytest.fail(f"decoded {name}"))
    rows = medmask.compare(a, a)
    assert all(r["dice"] == 1.0 and r["hd95_mm"] == 0.0 for r in rows if r["status"] == "ok")


def test_disjoint_boxes_decode_only_for_surfaces(tmp_path, monkeypatch):
    space = oblique_space((10, 10, 10))
    x = np.zeros((10, 10, 10), bool)
    x[1:3, 1:3, 1:3] = True
    y = np.zeros((10, 10, 10), bool)
    y[6:9, 6:9, 6:9] = True
    for name, arr in (("x", x), ("y", y)):
        with MaskArchive(tmp_path / f"{name}.mska", "w", space=space) as archive:
            archive.add_segmask(SegmentationMask(arr, {"organ": 1}, space=space), "organ")
    from medmask.stats import source as source_mod

    monkeypatch.setattr(source_mod.MaskSource, "crop", lambda self, name: pytest.fail("decoded"))
    (row,) = medmask.compare(tmp_path / "x.mska", tmp_path / "y.mska", surface=False)
    assert (row["dice"], row["overlap_voxels"], row["hd95_mm"]) == (0.0, 0, None)


def test_folders_pair_by_case_name(pair, tmp_path):
    a, b, _, _ = pair
    shutil.copy(a, a.parent / "only_a.mska")
    shutil.copy(b, b.parent / "only_b.mska")
    frame = medmask.compare(a.parent, b.parent, entries=["blob"], frame=True)
    got = sorted(zip(frame["case"], frame["status"]))
    assert got == [("case01", "ok"), ("only_a", "case_missing_in_b"), ("only_b", "case_missing_in_a")]


def test_different_grids_refused(pair, tmp_path):
    a, _, _, _ = pair
    space = oblique_space((20, 30, 41))
    with MaskArchive(tmp_path / "other.mska", "w", space=space) as archive:
        archive.add_segmask(SegmentationMask(np.zeros(space.shape, bool), {"blob": 1}, space=space), "blob")
    with pytest.raises(GeometryError, match="different grids"):
        medmask.compare(a, tmp_path / "other.mska")
    with pytest.raises(MedMaskError, match="'kidney'"):
        medmask.compare(a, a, entries=["kidney"])


@pytest.mark.skipif(not TOTALSEG.is_dir(), reason="../shared/data/totalseg_s0000 not present")
def test_totalsegmentator_against_edited_copy(tmp_path):
    import nibabel as nib
    from scipy import ndimage
    from medmask.convert import convert

    src = convert(TOTALSEG, tmp_path / "s0000.mska")
    dst = tmp_path / "s0000_edit.mska"
    shutil.copy(src, dst)
    with MaskArchive(dst, "a") as archive:
        colon = archive["colon"]
        grown = ndimage.binary_dilation(colon.data)
        archive["colon"] = SegmentationMask(grown, {"colon": 1}, space=archive.space)
    rows = {r["entry"]: r for r in medmask.compare(src, dst)}
    assert len(rows) == 117
    A = np.asarray(nib.load(str(TOTALSEG / "colon.nii.gz")).dataobj).transpose(2, 1, 0) > 0
    B = ndimage.binary_dilation(A)
    r = rows["colon"]
    assert r["dice"] == pytest.approx(2 * (A & B).sum() / (A.sum() + B.sum()), rel=1e-12)
    assert (r["voxels_a"], r["voxels_b"]) == (int(A.sum()), int(B.sum()))
    # one dilation step moves every surface by at most one voxel (1.5 mm)
    assert 0 < r["hd95_mm"] <= 1.5 + 1e-4
    assert rows["femur_left"]["dice"] == 1.0 and rows["liver"]["status"] == "empty_in_both"
