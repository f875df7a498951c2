"""``medmask compare`` of a model's archive against a reference holding the same voxels in another axis order
(made from a dicom2nifti NIfTI: rows reversed; or any signed permutation): B is read in A's order exactly,
so every figure equals the same-order comparison. The reordered reference is made by nibabel
(``as_reoriented``) from NIfTI files, not by medmask."""
from __future__ import annotations

import logging
import math
import shutil

import nibabel as nib
import numpy as np
import pytest

import medmask
from medmask import MaskArchive
from medmask.convert.nifti import load_nifti_mask, save_nifti_mask
from medmask.errors import GeometryError
from medmask.stats.source import ReorderedSource
from tests.conftest import TOTALSEG

from .helpers import synthetic_archive
from .test_compare import edited

ROWS_REVERSED = ((0, 1), (1, -1), (2, 1))  # nibabel's j backwards: medmask's rows
ORDERS = [ROWS_REVERSED, ((1, 1), (0, 1), (2, 1)), ((2, -1), (1, 1), (0, 1)), ((1, -1), (2, 1), (0, -1)),
          ((0, -1), (1, -1), (2, -1))]  # rows reversed, a transpose, a transpose with a reversal, a cycle, all reversed


def ornt_id(o) -> str:
    return "".join(f"{a}{'-' if s < 0 else '+'}" for a, s in o)


def reoriented_archive(masks: dict, dst, tmp_path, ornt, shift_mm: float = 0.0):
    """``masks`` written as NIfTI, reoriented by nibabel, read back one file each into a new archive."""
    work = tmp_path / f"nii_{ornt_id(ornt)}_{shift_mm}"
    work.mkdir()
    space = None
    out = {}
    for name, mask in masks.items():
        path = work / f"{name}.nii.gz"
        save_nifti_mask(mask, path, label_names=True)
        img = nib.load(str(path)).as_reoriented(np.array(ornt))
        aff = img.affine.copy()
        aff[:3, 3] += shift_mm
        nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), aff, img.header), str(path))
        out[name] = load_nifti_mask(path, force=True)
        space = space or out[name].space
    dst.parent.mkdir(parents=True, exist_ok=True)
    with MaskArchive(dst, "w", space=space) as archive:
        for name, m in out.items():
            archive.add_segmask(on_space(m, space), name)
    return dst


def on_space(mask, space):  # the masks of one reorientation share one grid up to float noise
    from medmask import SegmentationMask

    return SegmentationMask.from_crop(mask.crop_data if mask.bbox is not None else None, mask.bbox, mask.mapping, space,
                                      mask.dtype, colors=mask.colors)


def same_rows(got: list[dict], want: list[dict]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.keys() == w.keys()
        for key in g:
            if isinstance(w[key], float):
                assert g[key] == pytest.approx(w[key], rel=1e-9, abs=1e-9), (g["entry"], key)
            else:
                assert g[key] == w[key], (g["entry"], key)


@pytest.fixture
def pair(tmp_path):
    a = tmp_path / "model" / "case01.mska"
    a.parent.mkdir()
    masks = synthetic_archive(a)
    b_masks = edited(masks)
    return a, masks, b_masks


@pytest.mark.parametrize("ornt", ORDERS, ids=ornt_id)
def test_a_reference_in_another_axis_order_compares_voxel_exactly(pair, tmp_path, ornt, caplog):
    a, _, b_masks = pair
    same = reoriented_archive(b_masks, tmp_path / "same.mska", tmp_path, ((0, 1), (1, 1), (2, 1)))
    other = reoriented_archive(b_masks, tmp_path / "ref" / "case01.mska", tmp_path, ornt)
    with MaskArchive(other) as o, MaskArchive(a) as m:
        assert tuple(o.space.shape) != tuple(m.space.shape) or not np.allclose(o.space.origin, m.space.origin)
    want = medmask.compare(a, same)
    with caplog.at_level(logging.INFO, logger="medmask"):
        got = medmask.compare(a, other)
    same_rows(got, want)
    assert [r for r in got if r["status"] == "ok" and 0 < r["dice"] < 1 and r["hd95_mm"] > 0]  # real differences
    lines = [r for r in caplog.records if "another axis order" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    # swapped: A in B's order, the same figures with A and B exchanged
    back = {(r["entry"], r["label"]): r for r in medmask.compare(other, a)}
    for r in want:
        s = back[(r["entry"], r["label"])]
        assert (s["voxels_a"], s["voxels_b"], s["overlap_voxels"]) == (r["voxels_b"], r["voxels_a"], r["overlap_voxels"])
        if r["dice"] is not None:
            assert s["dice"] == pytest.approx(r["dice"], rel=1e-12)
        if r["hd95_mm"] is not None:  # now in B's spacing, float32 from its NIfTI header
            assert s["hd95_mm"] == pytest.approx(r["hd95_mm"], rel=1e-6)


def test_folders_of_cases_and_the_cli(pair, tmp_path, capsys):
    from medmask.cli import main

    a, masks, _ = pair
    ref = reoriented_archive(masks, tmp_path / "ref" / "case01.mska", tmp_path, ROWS_REVERSED)
    rows = medmask.compare(a.parent, ref.parent)
    assert all(r["dice"] == 1.0 and r["hd95_mm"] == 0.0 for r in rows if r["status"] == "ok")
    assert {r["status"] for r in rows} <= {"ok", "empty_in_both"}
    assert main(["compare", str(a), str(ref), "-o", str(tmp_path / "c.csv")]) == 0
    assert "1.0" in (tmp_path / "c.csv").read_text()


def test_equal_bytes_in_another_order_are_not_taken_for_equal_voxels(tmp_path):
    """A stripe pattern whose reversed rows hold the same bytes in the same box: decoded, Dice < 1."""
    from medmask import SegmentationMask
    from medmask.core.grid_match import AxisMatch
    from tests.conftest import oblique_space

    space = oblique_space((4, 6, 5))
    x = np.zeros(space.shape, bool)
    x[:, 1:5, :] = np.array([1, 0, 0, 0], bool)[None, :, None]  # rows 1..4: only row 1 set
    flip = AxisMatch((0, 1, 2), (False, True, False))
    flipped = flip.space(space)
    with MaskArchive(tmp_path / "a.mska", "w", space=space) as archive:
        archive.add_segmask(SegmentationMask(x, {"x": 1}, space=space), "x")
    # B stores the same array on the rows-reversed grid: its voxels are A's rows mirrored
    with MaskArchive(tmp_path / "b.mska", "w", space=flipped) as archive:
        archive.add_segmask(SegmentationMask(x, {"x": 1}, space=flipped), "x")
    (row,) = medmask.compare(tmp_path / "a.mska", tmp_path / "b.mska")
    mirrored = x[:, ::-1, :]
    inter = int((x & mirrored).sum())
    assert row["overlap_voxels"] == inter and row["dice"] == pytest.approx(2 * inter / (2 * x.sum()))
    assert row["dice"] < 1


def test_really_another_grid_is_still_refused_with_todays_message(pair, tmp_path):
    a, masks, _ = pair
    moved = reoriented_archive(masks, tmp_path / "moved.mska", tmp_path, ROWS_REVERSED, shift_mm=0.3)
    with pytest.raises(GeometryError, match="lie on different grids .* compare needs both on one grid"):
        medmask.compare(a, moved)


def test_reordered_source_crops_are_views(pair, tmp_path):
    from medmask.core.grid_match import match
    from medmask.stats.compare import b_on_grid_of_a
    from medmask.stats.source import MaskSource

    a, masks, _ = pair
    ref = reoriented_archive(masks, tmp_path / "ref.mska", tmp_path, ((2, -1), (1, 1), (0, 1)))
    with MaskSource(a) as sa, MaskSource(ref) as sb:
        b = b_on_grid_of_a(sa, sb)
        assert isinstance(b, ReorderedSource) and b.order == match(sb.space, sa.space)
        crop = b.crop("liver")
        assert crop.base is not None  # a view of the decoded crop
        assert b.info("liver").bbox == sa.info("liver").bbox
        assert np.array_equal(crop, sa.crop("liver"))
        assert b_on_grid_of_a(sa, MaskSource(a)).__class__ is MaskSource


@pytest.mark.skipif(not TOTALSEG.is_dir(), reason="../shared/data/totalseg_s0000 not present")
def test_totalsegmentator_reference_with_rows_reversed(tmp_path):
    """s0000's colon, left femur and right iliac artery as a model's archive, and the same files rewritten by nibabel with
    rows reversed (as dicom2nifti stores them) as the reference: Dice 1, distances 0, voxel for voxel."""
    from medmask.convert import convert

    names = ("colon", "femur_left", "iliac_artery_right")
    model, ref = tmp_path / "model", tmp_path / "ref"
    model.mkdir()
    ref.mkdir()
    for n in names:
        shutil.copy(TOTALSEG / f"{n}.nii.gz", model / f"{n}.nii.gz")
        img = nib.load(str(TOTALSEG / f"{n}.nii.gz")).as_reoriented(np.array(ROWS_REVERSED))
        nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), img.affine, img.header), str(ref / f"{n}.nii.gz"))
    convert(model, tmp_path / "m" / "s0000.mska", image=False)
    convert(ref, tmp_path / "r" / "s0000.mska", image=False)
    rows = medmask.compare(tmp_path / "m" / "s0000.mska", tmp_path / "r" / "s0000.mska")
    assert len(rows) == 3
    for r in rows:
        n = nib.load(str(TOTALSEG / f"{r['entry']}.nii.gz"))
        count = int(np.count_nonzero(np.asanyarray(n.dataobj)))
        assert count > 500
        assert (r["status"], r["voxels_a"], r["voxels_b"], r["overlap_voxels"]) == ("ok", count, count, count)
        assert r["dice"] == 1.0 and r["hd95_mm"] == 0.0 and r["hd_mm"] == 0.0
        assert r["volume_a_ml"] == pytest.approx(count * math.prod(n.header.get_zooms()[:3]) / 1000, rel=1e-6)
