"""Intensities inside labels against nibabel + numpy on the whole volumes."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import medmask
from medmask import MaskArchive
from medmask.errors import GeometryError, MedMaskError
from tests.conftest import SHARED, oblique_space

from .helpers import synthetic_archive

AORTA = SHARED / "data" / "totalseg_aorta_ct"


def write_ct(path, space, *, scaled: bool, seed: int = 1):
    """A NIfTI scan on ``space`` (random int16, optionally with scl_slope/inter)."""
    import nibabel as nib
    from medmask.convert._geometry import ras_affine_from_space

    rng = np.random.default_rng(seed)
    data = rng.integers(-1000, 1500, size=space.shape, dtype=np.int16)
    img = nib.Nifti1Image(data.transpose(2, 1, 0), ras_affine_from_space(space))
    img.set_data_dtype(np.int16)
    if scaled:
        img.header.set_slope_inter(0.5, -12.25)
    nib.save(img, str(path))
    return path


def nibabel_values(image_path) -> np.ndarray:
    import nibabel as nib

    return nib.load(str(image_path)).get_fdata().transpose(2, 1, 0)


@pytest.mark.parametrize("suffix,scaled", [(".nii", False), (".nii", True), (".nii.gz", True)])
def test_every_label_against_numpy(tmp_path, suffix, scaled):
    archive = tmp_path / "case01.mska"
    masks = synthetic_archive(archive)
    ct = write_ct(tmp_path / f"ct{suffix}", oblique_space(), scaled=scaled)
    image = nibabel_values(ct)
    rows = medmask.compute_stats(archive, image=ct)
    by = {(r["entry"], r["label"]): r for r in rows}
    checked = 0
    for name, mask in masks.items():
        for label, value in mask.mapping.items():
            row = by[(name, label)]
            assert row["image"] == str(ct)
            v = image[mask.data == value]
            if v.size == 0:
                assert all(row[k] is None for k in ("mean", "std", "median", "p5", "p95"))
                continue
            assert row["mean"] == pytest.approx(v.mean(), rel=1e-9, abs=1e-9)
            assert row["std"] == pytest.approx(v.std(), rel=1e-9)
            p5, med, p95 = np.percentile(v, [5, 50, 95])
            assert (row["p5"], row["median"], row["p95"]) == pytest.approx((p5, med, p95), rel=1e-9, abs=1e-9)
            checked += 1
    assert checked >= 10


def test_template_reference_and_errors(tmp_path):
    cases = tmp_path / "masks"
    cases.mkdir()
    synthetic_archive(cases / "c1.mska")
    shutil.copy(cases / "c1.mska", cases / "c2.mska")
    for c in ("c1", "c2"):
        (tmp_path / "scans" / c).mkdir(parents=True)
        write_ct(tmp_path / "scans" / c / "ct.nii", oblique_space(), scaled=False, seed=int(c[1]))
    rows = medmask.compute_stats(cases, image=str(tmp_path / "scans" / "{case}" / "ct.nii"), entries=["tumor"])
    assert [r["case"] for r in rows] == ["c1", "c2"] and rows[0]["mean"] != rows[1]["mean"]
    with pytest.raises(MedMaskError, match="one image for 2 cases"):
        medmask.compute_stats(cases, image=tmp_path / "scans" / "c1" / "ct.nii")
    with pytest.raises(MedMaskError, match="records no image"):
        medmask.compute_stats(cases / "c1.mska", intensity=True)
    # the scan recorded in the archive
    from medmask.convert.image_link import image_reference_for

    with MaskArchive(cases / "c1.mska", "a") as a:
        a.image_reference = image_reference_for(tmp_path / "scans" / "c1" / "ct.nii", cases / "c1.mska", a.space)
    by_ref = medmask.compute_stats(cases / "c1.mska", intensity=True, entries=["tumor"])
    assert by_ref[0]["mean"] == rows[0]["mean"]
    # wrong grid / missing file: one error naming the files
    write_ct(tmp_path / "other.nii", oblique_space((20, 30, 41)), scaled=False)
    with pytest.raises(GeometryError, match="c1"):
        medmask.compute_stats(cases / "c1.mska", image=tmp_path / "other.nii")
    with pytest.raises(MedMaskError, match="image not found"):
        medmask.compute_stats(cases / "c1.mska", image=tmp_path / "nothing.nii.gz")
    (tmp_path / "scans" / "c1" / "ct.nii").unlink()
    with pytest.raises(MedMaskError, match="recorded image"):
        medmask.compute_stats(cases / "c1.mska", intensity=True)


def test_truncated_image_is_one_error(tmp_path):
    archive = tmp_path / "case01.mska"
    synthetic_archive(archive)
    ct = write_ct(tmp_path / "ct.nii", oblique_space(), scaled=False)
    data = ct.read_bytes()
    ct.write_bytes(data[: len(data) // 2])
    with pytest.raises(MedMaskError, match="ct.nii"):
        medmask.compute_stats(archive, image=ct)


@pytest.mark.skipif(not AORTA.is_dir(), reason="../shared/data/totalseg_aorta_ct not present")
def test_real_ct_against_nibabel(tmp_path):
    import nibabel as nib
    from medmask.convert import convert

    archive = convert(AORTA / "segmentations", tmp_path / "aorta.mska")
    rows = medmask.compute_stats(archive, image=AORTA / "ct.nii.gz")
    ct = nib.load(str(AORTA / "ct.nii.gz")).get_fdata()
    checked = 0
    for r in rows:
        if not r["voxels"]:
            assert r["mean"] is None
            continue
        seg = np.asarray(nib.load(str(AORTA / "segmentations" / f"{r['entry']}.nii.gz")).dataobj)
        v = ct[seg == r["value"]]
        assert v.size == r["voxels"]
        assert r["mean"] == pytest.approx(v.mean(), rel=1e-9, abs=1e-9)
        assert (r["p5"], r["median"], r["p95"]) == pytest.approx(tuple(np.percentile(v, [5, 50, 95])), abs=1e-9)
        checked += 1
    assert checked >= 12
    aorta = next(r for r in rows if r["entry"] == "aorta")
    assert 100 < aorta["median"] < 600  # contrast-enhanced blood, in HU


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("axes, flips", [((0, 1, 2), (False, True, False)), ((2, 0, 1), (True, False, True))],
                         ids=["rows-reversed", "transposed-and-reversed"])
def test_a_scan_of_the_same_voxels_in_another_axis_order_gives_the_same_numbers(tmp_path, suffix, axes, flips,
                                                                                   caplog):
    """A dicom2nifti NIfTI of the scan (rows reversed) or a resliced export: read through a view, never refused."""
    import logging

    import nibabel as nib
    from medmask.convert._geometry import ras_affine_from_space
    from medmask.core.grid_match import AxisMatch

    archive = tmp_path / "case01.mska"
    synthetic_archive(archive)
    ct = write_ct(tmp_path / f"ct{suffix}", oblique_space(), scaled=True)
    m = AxisMatch(axes, flips)
    values = nib.load(str(ct)).dataobj.get_unscaled().transpose(2, 1, 0)
    other = nib.Nifti1Image(np.ascontiguousarray(m.reorder(values).transpose(2, 1, 0)),
                            ras_affine_from_space(m.space(oblique_space())))
    other.set_data_dtype(np.int16)
    other.header.set_slope_inter(0.5, -12.25)
    nib.save(other, str(tmp_path / f"other{suffix}"))
    want = medmask.compute_stats(archive, image=ct)
    with caplog.at_level(logging.INFO, logger="medmask"):
        got = medmask.compute_stats(archive, image=tmp_path / f"other{suffix}")
    assert [r.levelno for r in caplog.records if "another axis order" in r.getMessage()] == [logging.INFO]
    assert any(r["mean"] is not None for r in got)
    for a, b in zip(want, got):
        assert {k: v for k, v in a.items() if k != "image"} == {k: v for k, v in b.items() if k != "image"}
