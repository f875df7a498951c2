"""Issue 11.8: sform/qform disagreement is reported; --orthonormalize writes what ITK accepts."""
from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest

from medmask import MaskArchive
from medmask.convert import load_nifti_mask
from medmask.errors import GeometryWarning

from interop_helpers import SHAPE_IJK, blob, make_affine
from test_cli import run


def write(path, sform, qform=None, qcode=0):
    data = blob(SHAPE_IJK, (4, 5, 3), (3, 4, 2.5)).astype(np.uint8)
    img = nib.Nifti1Image(data, sform)
    img.set_sform(sform, code=1)
    img.set_qform(qform if qform is not None else sform, code=qcode)
    nib.save(img, str(path))
    return data


def shifted(aff, mm=100.0):
    q = aff.copy()
    q[0, 3] += mm
    return q


def test_disagreeing_sform_qform_is_reported(tmp_path):
    aff = make_affine("oblique")
    write(tmp_path / "m.nii.gz", aff, shifted(aff), qcode=1)
    with pytest.warns(GeometryWarning, match=r"sform and qform disagree: .* up to 100 mm"):
        load_nifti_mask(tmp_path / "m.nii.gz")
    proc = run("convert", tmp_path / "m.nii.gz", tmp_path / "m.msk")
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("medmask: warning:")]
    assert len(lines) == 1 and "m.nii.gz" in lines[0] and "qform" in lines[0], proc.stderr
    assert proc.stderr.count("\n") == 1


def test_agreeing_or_single_form_is_silent(tmp_path):
    aff = make_affine("flipped")
    write(tmp_path / "a.nii.gz", aff, qcode=1)
    write(tmp_path / "b.nii.gz", aff, shifted(aff), qcode=0)  # qform unset: nothing to disagree with
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeometryWarning)
        load_nifti_mask(tmp_path / "a.nii.gz")
        load_nifti_mask(tmp_path / "b.nii.gz")


def test_folder_reports_once(tmp_path):
    aff = make_affine("plain")
    (tmp_path / "case").mkdir()
    for name in ("liver", "spleen", "kidney"):
        write(tmp_path / "case" / f"{name}.nii.gz", aff, shifted(aff, 40), qcode=1)
    proc = run("convert", tmp_path / "case", tmp_path / "c.mska")
    lines = [ln for ln in proc.stderr.splitlines() if "warning:" in ln]
    assert len(lines) == 1 and "3 of 3 files" in lines[0] and "40 mm" in lines[0], proc.stderr


def sheared(shear=5e-4):
    aff = make_affine("oblique").copy()
    aff[:3, 1] += shear * aff[:3, 0]  # axes a hair off perpendicular, like float32 headers
    return aff


def test_orthonormalize_is_what_itk_reads(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    aff = sheared()
    data = write(tmp_path / "m.nii.gz", aff)
    with pytest.raises(RuntimeError, match="orthonormal"):
        sitk.ReadImage(str(tmp_path / "m.nii.gz"))
    run("convert", tmp_path / "m.nii.gz", tmp_path / "m.msk")
    run("convert", tmp_path / "m.msk", tmp_path / "plain.nii.gz")  # default: the original header, exactly
    np.testing.assert_array_equal(nib.load(str(tmp_path / "plain.nii.gz")).affine, nib.load(str(tmp_path / "m.nii.gz")).affine)
    run("convert", tmp_path / "m.msk", tmp_path / "ortho.nii.gz", "--orthonormalize")
    img = sitk.ReadImage(str(tmp_path / "ortho.nii.gz"))
    direction = np.array(img.GetDirection()).reshape(3, 3)
    np.testing.assert_allclose(direction.T @ direction, np.eye(3), atol=1e-6)
    out = nib.load(str(tmp_path / "ortho.nii.gz"))
    np.testing.assert_allclose(out.get_sform(), out.get_qform(), atol=1e-4)
    np.testing.assert_array_equal(np.asanyarray(out.dataobj), data)
    # every voxel lands within a tenth of a voxel of where the original header put it
    ijk = np.array([[i, j, k, 1.0] for i in (0, SHAPE_IJK[0] - 1) for j in (0, SHAPE_IJK[1] - 1)
                    for k in (0, SHAPE_IJK[2] - 1)]).T
    moved = np.linalg.norm((out.affine @ ijk - aff @ ijk)[:3], axis=0).max()
    assert moved < 0.1 * min(np.linalg.norm(aff[:3, :3], axis=0))
    # and ITK agrees with nibabel on where voxel (i, j, k) is (LPS = RAS with x, y negated)
    p_itk = np.array(img.TransformIndexToPhysicalPoint((3, 5, 7)))
    p_nib = out.affine @ [3, 5, 7, 1]
    np.testing.assert_allclose(p_itk, [-p_nib[0], -p_nib[1], p_nib[2]], atol=1e-3)


def test_totalsegmentator_case_orthonormalized_for_itk(tmp_path, totalseg_dir):
    sitk = pytest.importorskip("SimpleITK")
    run("convert", totalseg_dir, tmp_path / "s.mska")
    run("convert", tmp_path / "s.mska", tmp_path / "ortho", "--orthonormalize")
    refused = []
    for f in sorted((tmp_path / "ortho").glob("*.nii.gz")):
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(f))
        try:
            reader.ReadImageInformation()
        except RuntimeError:
            refused.append(f.name)
    assert len(list((tmp_path / "ortho").glob("*.nii.gz"))) == 117 and refused == []
    with MaskArchive(tmp_path / "s.mska") as a:
        assert len(a.all_names()) == 117
