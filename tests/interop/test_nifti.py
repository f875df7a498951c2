"""NIfTI <-> .mska / .msk: voxels, names, affine, dtype and header codes survive exactly."""
from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from medmask import MaskArchive, load_mask, save_mask
from medmask.convert import (archive_to_nifti_folder, convert, load_nifti_mask, nifti_folder_to_archive,
                             read_label_names, save_nifti_mask)
from medmask.core.geometry import index_to_world_affine
from medmask.errors import ConversionError

from interop_helpers import SHAPE_IJK, make_affine, write_case, write_multilabel

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _same_file(a, b):
    ia, ib = nib.load(str(a)), nib.load(str(b))
    assert np.array_equal(ia.affine, ib.affine)
    assert ia.get_data_dtype() == ib.get_data_dtype()
    assert ia.shape == ib.shape
    for key in ("sform_code", "qform_code", "quatern_b", "quatern_c", "quatern_d", "qoffset_x", "srow_x",
                "srow_y", "srow_z", "pixdim", "xyzt_units"):
        assert np.array_equal(ia.header[key], ib.header[key]), key
    assert np.array_equal(np.asanyarray(ia.dataobj), np.asanyarray(ib.dataobj))


@pytest.mark.parametrize("kind", ["plain", "oblique", "flipped", "permuted"])
def test_folder_round_trip_is_exact(tmp_path, kind):
    src = tmp_path / "case"
    arrays = write_case(src, kind)
    nifti_folder_to_archive(src, tmp_path / "case.mska")
    with MaskArchive(tmp_path / "case.mska") as ar:
        assert sorted(ar.all_names()) == sorted(arrays)
        for name, arr in arrays.items():
            m = ar.load_segmask(name)
            assert m.mapping.to_dict() == {name: 1}
            assert np.array_equal(m.data != 0, arr.transpose(2, 1, 0))
        assert ar.entry_info("empty_organ").bbox is None  # empty masks are kept
    out = archive_to_nifti_folder(tmp_path / "case.mska", tmp_path / "back")
    assert sorted(p.name for p in out) == sorted(f"{n}.nii.gz" for n in arrays)
    for name in arrays:
        _same_file(src / f"{name}.nii.gz", tmp_path / "back" / f"{name}.nii.gz")


def test_voxel_world_positions_agree_with_nibabel(tmp_path):
    src = tmp_path / "case"
    arrays = write_case(src, "oblique")
    nifti_folder_to_archive(src, tmp_path / "c.mska")
    with MaskArchive(tmp_path / "c.mska") as ar:
        m = ar.load_segmask("spleen")
        aff = make_affine("oblique")
        for zyx in np.argwhere(m.data)[:50]:
            ijk = zyx[::-1]
            assert arrays["spleen"][tuple(ijk)]
            w_medmask = (index_to_world_affine(ar.space) @ np.r_[zyx, 1])[:3]
            w_nifti = (LPS @ aff @ np.r_[ijk, 1])[:3]
            np.testing.assert_allclose(w_medmask, w_nifti, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32])
def test_original_dtype_and_codes_come_back(tmp_path, dtype):
    src = tmp_path / "case"
    write_case(src, "flipped", dtype=dtype, sform_code=2, qform_code=0, with_empty=False)
    nifti_folder_to_archive(src, tmp_path / "c.mska")
    archive_to_nifti_folder(tmp_path / "c.mska", tmp_path / "back")
    for f in src.glob("*.nii.gz"):
        _same_file(f, tmp_path / "back" / f.name)


def test_float_noise_between_files_is_tolerated_and_kept(tmp_path):
    src = tmp_path / "case"
    write_case(src, "oblique", with_empty=False)
    # re-save one file with an affine off by float32 noise, as TotalSegmentator's files are
    f = src / "spleen.nii.gz"
    img = nib.load(str(f))
    aff = img.affine.copy()
    aff[:3, :3] += 3e-5
    noisy = nib.Nifti1Image(np.asanyarray(img.dataobj), aff)
    noisy.set_qform(aff, code=1)
    nib.save(noisy, str(f))
    nifti_folder_to_archive(src, tmp_path / "c.mska")
    archive_to_nifti_folder(tmp_path / "c.mska", tmp_path / "back")
    for g in src.glob("*.nii.gz"):
        _same_file(g, tmp_path / "back" / g.name)


def test_folder_with_other_geometry_is_refused(tmp_path):
    src = tmp_path / "case"
    write_case(src, "oblique", with_empty=False)
    other = nib.Nifti1Image(np.zeros(SHAPE_IJK, np.uint8), make_affine("plain"))
    nib.save(other, str(src / "stranger.nii.gz"))
    with pytest.raises(ConversionError, match="stranger.nii.gz"):
        nifti_folder_to_archive(src, tmp_path / "c.mska")
    assert not (tmp_path / "c.mska").exists()


def test_corrupt_file_in_folder_names_the_file(tmp_path):
    src = tmp_path / "case"
    write_case(src, "plain", with_empty=False)
    (src / "broken.nii.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(ConversionError, match="broken.nii.gz"):
        nifti_folder_to_archive(src, tmp_path / "c.mska")


def test_empty_folder_is_refused(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(ConversionError, match="no .nii"):
        nifti_folder_to_archive(tmp_path / "nothing", tmp_path / "c.mska")


# ------------------------------------------------------------------------- multi-label files


@pytest.mark.parametrize("kind", ["oblique", "flipped"])
def test_multilabel_round_trip_with_json_names(tmp_path, kind):
    data = write_multilabel(tmp_path / "ml.nii.gz", kind)
    (tmp_path / "names.json").write_text(json.dumps({"1": "liver", "3": "spleen", "7": "marker"}))
    mask = load_nifti_mask(tmp_path / "ml.nii.gz", tmp_path / "names.json")
    assert mask.mapping.to_dict() == {"liver": 1, "spleen": 3, "marker": 7}
    assert np.array_equal(mask.data, data.transpose(2, 1, 0))
    save_mask(mask, tmp_path / "ml.msk")
    back = load_mask(tmp_path / "ml.msk")
    save_nifti_mask(back, tmp_path / "back.nii.gz")
    _same_file(tmp_path / "ml.nii.gz", tmp_path / "back.nii.gz")
    # the names travel inside the NIfTI (TotalSegmentator's label table extension)
    again = load_nifti_mask(tmp_path / "back.nii.gz")
    assert again.mapping.to_dict() == {"liver": 1, "spleen": 3, "marker": 7}


def test_multilabel_names_from_csv_and_txt(tmp_path):
    write_multilabel(tmp_path / "ml.nii.gz")
    (tmp_path / "n.csv").write_text("label,name\n1,liver\n3,spleen\n")
    m = load_nifti_mask(tmp_path / "ml.nii.gz", tmp_path / "n.csv")
    assert m.mapping.to_dict() == {"liver": 1, "spleen": 3, "label_7": 7}
    (tmp_path / "n.txt").write_text("a\nb\nc\n")
    assert read_label_names(tmp_path / "n.txt") == {1: "a", 2: "b", 3: "c"}
    assert read_label_names({"liver": 1}) == {1: "liver"}


def test_multilabel_embedded_names_are_read(tmp_path):
    write_multilabel(tmp_path / "ml.nii.gz", names={1: "liver", 3: "spleen", 7: "dot"})
    m = load_nifti_mask(tmp_path / "ml.nii.gz")
    assert m.mapping.to_dict() == {"liver": 1, "spleen": 3, "dot": 7}


def test_totalsegmentator_class_map():
    names = read_label_names("total")
    assert len(names) == 117 and names[1] == "spleen" and names[5] == "liver" and names[117] == "costal_cartilages"
    assert read_label_names("total_v1")[7] == "aorta"


def test_bad_label_names_are_clear(tmp_path):
    with pytest.raises(ConversionError, match="not a known class map"):
        read_label_names("no_such_map_or_file")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConversionError, match="invalid JSON"):
        read_label_names(tmp_path / "bad.json")


def test_convert_dispatch_multilabel_and_back(tmp_path):
    data = write_multilabel(tmp_path / "ml.nii.gz", "permuted", dtype=np.uint16)
    convert(tmp_path / "ml.nii.gz", tmp_path / "ml.msk", labels={1: "a", 3: "b", 7: "c"})
    convert(tmp_path / "ml.msk", tmp_path / "ml2.nii.gz")
    _same_file(tmp_path / "ml.nii.gz", tmp_path / "ml2.nii.gz")
    assert np.array_equal(np.asanyarray(nib.load(str(tmp_path / "ml2.nii.gz")).dataobj), data)


def test_folder_to_multilabel_uses_class_map_values(tmp_path):
    src = tmp_path / "case"
    write_case(src, "plain", with_empty=False)
    (tmp_path / "vals.json").write_text(json.dumps({"liver": 5, "spleen": 1, "tumor": 9}))
    with pytest.raises(ConversionError, match="overlap"):
        convert(src, tmp_path / "ml.nii.gz", labels=tmp_path / "vals.json")
    convert(src, tmp_path / "ml.nii.gz", labels=tmp_path / "vals.json", overlap="overwrite")
    m = load_nifti_mask(tmp_path / "ml.nii.gz")
    assert m.mapping.to_dict() == {"liver": 5, "spleen": 1, "tumor": 9}


def test_nifti_without_names_gets_label_names(tmp_path):
    write_multilabel(tmp_path / "ml.nii.gz")
    m = load_nifti_mask(tmp_path / "ml.nii.gz")
    assert m.mapping.to_dict() == {"label_1": 1, "label_3": 3, "label_7": 7}


def test_4d_image_is_refused(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((3, 4, 5, 2), np.uint8), np.eye(4)), str(tmp_path / "t.nii.gz"))
    with pytest.raises(ConversionError, match="3D"):
        load_nifti_mask(tmp_path / "t.nii.gz")


# ------------------------------------------------------------------------- real TotalSegmentator case


@pytest.mark.slow
def test_totalsegmentator_case_round_trip(tmp_path, totalseg_dir):
    nifti_folder_to_archive(totalseg_dir, tmp_path / "s.mska")
    with MaskArchive(tmp_path / "s.mska") as ar:
        assert len(ar) == 117
    size_in = sum(f.stat().st_size for f in totalseg_dir.glob("*.nii.gz"))
    assert (tmp_path / "s.mska").stat().st_size < size_in / 20
    archive_to_nifti_folder(tmp_path / "s.mska", tmp_path / "back")
    for f in sorted(totalseg_dir.glob("*.nii.gz")):
        _same_file(f, tmp_path / "back" / f.name)
