"""Issue 11.2: an image is not a mask; a non-mask file in a folder is skipped (--skip-bad) or named."""
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medmask import MaskArchive
from medmask.convert import load_nifti_mask
from medmask.errors import ConversionError

from interop_helpers import SHAPE_IJK, make_affine, write_case
from test_cli import assert_one_line_error, run


def write_ct(path, shape=SHAPE_IJK, kind="oblique"):
    """A CT stored as positive integers (uint16, HU + 1100), as some pipelines write it."""
    rng = np.random.default_rng(0)
    hu = rng.normal(40, 300, size=shape).clip(-1000, 1500)
    img = nib.Nifti1Image((hu + 1100).astype(np.uint16), make_affine(kind))
    img.header.set_data_dtype(np.uint16)
    nib.save(img, str(path))


def test_image_refused_unless_forced(tmp_path):
    ct = tmp_path / "ct.nii.gz"
    write_ct(ct)
    with pytest.raises(ConversionError, match="looks like an image, not a mask"):
        load_nifti_mask(ct)
    assert len(load_nifti_mask(ct, force=True).mapping) > 1000
    proc = run("convert", ct, tmp_path / "ct.msk", ok=False)
    assert_one_line_error(proc, "ct.nii.gz", "looks like an image", "distinct values", "--force", code=1)
    assert not (tmp_path / "ct.msk").exists()
    run("convert", ct, tmp_path / "ct.msk", "--force")


@pytest.mark.parametrize("dtype", [np.int16, np.float32])
def test_ct_in_hounsfield_units_is_named_an_image(tmp_path, dtype):
    """A CT as scanners and dcm2niix write it (int16 HU, -1024 outside) given as a mask: the error says
    it looks like the image, not only 'negative label value -1024' (what a user saw)."""
    hu = np.full(SHAPE_IJK, -1024, np.int16)
    hu[2:-2, 2:-2, 1:-1] = 40
    nib.save(nib.Nifti1Image(hu.astype(dtype), make_affine("oblique")), str(tmp_path / "ct.nii.gz"))
    with pytest.raises(ConversionError, match=r"negative value -1024: .*is this the image"):
        load_nifti_mask(tmp_path / "ct.nii.gz")
    proc = run("convert", tmp_path / "ct.nii.gz", tmp_path / "ct.mska", ok=False)
    assert_one_line_error(proc, "ct.nii.gz", "negative value -1024", "CT in HU", code=1)
    assert not (tmp_path / "ct.mska").exists()


def test_dense_low_background_volume_is_an_image(tmp_path):
    data = (np.arange(np.prod(SHAPE_IJK)) % 200 + 1).reshape(SHAPE_IJK).astype(np.uint8)  # 200 values, no 0
    nib.save(nib.Nifti1Image(data, make_affine("plain")), str(tmp_path / "t1.nii.gz"))
    with pytest.raises(ConversionError, match="mostly background"):
        load_nifti_mask(tmp_path / "t1.nii.gz")


def test_folder_with_a_ct_among_masks(tmp_path):
    case = tmp_path / "case"
    write_case(case)
    write_ct(case / "ct.nii.gz")
    proc = run("convert", case, tmp_path / "c.mska", ok=False)
    assert_one_line_error(proc, "ct.nii.gz", "looks like an image", code=1)
    assert not (tmp_path / "c.mska").exists()
    proc = run("convert", case, tmp_path / "c.mska", "--skip-bad")
    warn = [ln for ln in proc.stderr.splitlines() if ln.startswith("medmask: warning:")]
    assert len(warn) == 1 and "skipped" in warn[0] and "ct.nii.gz" in warn[0], proc.stderr
    with MaskArchive(tmp_path / "c.mska") as a:
        assert sorted(a.all_names()) == ["empty_organ", "liver", "spleen", "tumor"]


def test_folder_with_a_file_of_another_shape(tmp_path):
    case = tmp_path / "case"
    write_case(case)
    other = np.zeros((5, 6, 7), np.uint8)
    other[1:3, 1:3, 1:3] = 1
    nib.save(nib.Nifti1Image(other, make_affine("oblique")), str(case / "zz_small.nii.gz"))
    proc = run("convert", case, tmp_path / "c.mska", ok=False)
    assert_one_line_error(proc, "zz_small.nii.gz", "shape", "--skip-bad", code=1)
    proc = run("convert", case, tmp_path / "c.mska", "--skip-bad")
    assert "zz_small.nii.gz" in proc.stderr and "Traceback" not in proc.stderr
    with MaskArchive(tmp_path / "c.mska") as a:
        assert "zz_small" not in a.all_names() and "liver" in a.all_names()


def test_totalsegmentator_layout_ct_beside_segmentations(tmp_path):
    """``<case>/ct.nii.gz`` is the image of ``<case>/segmentations``: converting the folder still works."""
    case = tmp_path / "s0001"
    write_case(case / "segmentations")
    write_ct(case / "ct.nii.gz")
    run("convert", case / "segmentations", tmp_path / "s0001.mska")
    with MaskArchive(tmp_path / "s0001.mska") as a:
        assert "ct" not in a.all_names() and "liver" in a.all_names()
    out = run("batch", tmp_path, tmp_path / "out", "--json", "--no-progress").stdout
    assert '"converted": 1' in out


def test_batch_skip_bad_lists_the_files(tmp_path):
    root = tmp_path / "ds"
    write_case(root / "c1")
    write_ct(root / "c1" / "ct.nii.gz")
    proc = run("batch", root, tmp_path / "out", "--json", "--no-progress", ok=False)
    assert proc.returncode == 1 and "looks like an image" in proc.stdout
    import json

    d = json.loads(run("batch", root, tmp_path / "out", "--json", "--no-progress", "--skip-bad").stdout)
    (r,) = d["results"]
    assert r["status"] == "converted" and len(r["skipped_files"]) == 1 and "ct.nii.gz" in r["skipped_files"][0]
