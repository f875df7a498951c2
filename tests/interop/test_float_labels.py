"""Issue 11.6: exporting to a float NIfTI never merges labels."""
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from medmask import SegmentationMask, save_mask
from medmask.convert import load_nifti_mask, save_nifti_mask
from medmask.errors import ConversionError

from interop_helpers import make_affine
from test_cli import assert_one_line_error, run

BIG = (16777216, 16777217)  # 2**24 and 2**24 + 1: one float32 value


def float_mask(tmp_path):
    """A mask read from a float32 NIfTI (its header facts say float32), relabelled to 2**24 and 2**24 + 1."""
    data = np.zeros((9, 10, 11), np.float32)
    data[1:4, 2:5, 3:6] = 1
    data[5:8, 2:5, 3:6] = 2
    img = nib.Nifti1Image(data, make_affine("oblique"))
    img.header.set_data_dtype(np.float32)
    nib.save(img, str(tmp_path / "f.nii.gz"))
    src = load_nifti_mask(tmp_path / "f.nii.gz")
    assert src.metadata["nifti"]["dtype"] == "float32"
    arr = src.data.astype(np.uint32)
    arr[arr == 1], arr[arr == 2] = BIG
    return SegmentationMask(arr, {"a": BIG[0], "b": BIG[1]}, space=src.space, metadata=src.metadata)


def test_float32_facts_widen_to_float64(tmp_path):
    mask = float_mask(tmp_path)
    save_mask(mask, tmp_path / "m.msk")
    proc = run("convert", tmp_path / "m.msk", tmp_path / "out.nii.gz")
    assert "cannot hold label 16777217 exactly; writing float64" in proc.stderr
    out = nib.load(str(tmp_path / "out.nii.gz"))
    assert out.get_data_dtype() == np.float64
    values = np.unique(np.asanyarray(out.dataobj))
    assert values.tolist() == [0, *BIG]
    back = load_nifti_mask(tmp_path / "out.nii.gz")
    assert sorted(back.voxel_counts().items()) == sorted(mask.voxel_counts().items())


def test_explicit_float32_is_refused(tmp_path):
    with pytest.raises(ConversionError, match="do not fit float32 exactly"):
        save_nifti_mask(float_mask(tmp_path), tmp_path / "x.nii.gz", dtype=np.float32)
    assert not (tmp_path / "x.nii.gz").exists()


def test_small_float_labels_keep_float32(tmp_path):
    data = np.zeros((5, 6, 7), np.float32)
    data[1:3, 1:3, 1:3] = 5
    nib.save(nib.Nifti1Image(data, make_affine("plain")), str(tmp_path / "f.nii.gz"))
    save_nifti_mask(load_nifti_mask(tmp_path / "f.nii.gz"), tmp_path / "g.nii.gz")
    assert nib.load(str(tmp_path / "g.nii.gz")).get_data_dtype() == np.float32
