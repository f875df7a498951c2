"""A folder of masks where some files hold the same voxels in another axis order (a hand-corrected organ
saved by ITK-SNAP or Slicer with its rows reversed, in a TotalSegmentator folder): the archive takes the
majority grid, the odd files are read into it exactly, and ``convert x.mska folder/`` writes each file
back as it was. Checked voxel by voxel in world space against nibabel, which does the reorientation
(``as_reoriented``) and reads every file."""
from __future__ import annotations

import itertools
import logging
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medmask import MaskArchive
from medmask.convert import convert
from medmask.core.geometry import index_to_world_affine
from medmask.errors import ConversionError

from interop_helpers import SHAPE_IJK, TOTALSEG, blob, make_affine

# nibabel orientations: row n = (output axis of input axis n, +1 or -1 for reversed)
ROWS_REVERSED = ((0, 1), (1, -1), (2, 1))  # dicom2nifti/ITK-SNAP: nibabel's j (medmask's rows) backwards
ALL_48 = [tuple(zip(p, f)) for p in itertools.permutations(range(3)) for f in itertools.product((1, -1), repeat=3)]
IDENTITY_ORNT = ((0, 1), (1, 1), (2, 1))
SOME = [ROWS_REVERSED, ((1, 1), (0, 1), (2, 1)), ((2, -1), (1, 1), (0, 1)), ((1, -1), (2, 1), (0, -1)),
        ((0, -1), (1, -1), (2, -1))]  # rows reversed, i<->j transpose, i<->k with a reversal, a cycle, all reversed


def ornt_id(o) -> str:
    return "".join(f"{a}{'-' if s < 0 else '+'}" for a, s in o)


def write_case(folder: Path, kind: str, *, with_empty: bool = True) -> dict[str, np.ndarray]:
    """Binary masks with no symmetry a wrong reversal could hide behind (nibabel i, j, k arrays)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    i, j, k = np.indices(SHAPE_IJK)
    arrays = {
        "liver": blob(SHAPE_IJK, (4, 5, 3), (3, 4, 2.5)) | ((rng.random(SHAPE_IJK) < 0.05) & (i < 6)),
        "spleen": (i + 2 * j + 3 * k > 40) & (i < 11) & (j > 3) & (k < 9),
        "tumor": blob(SHAPE_IJK, (4, 6, 3), (1.5, 1.5, 1.2)) | ((i == 5) & (j > 7) & (k == 2)),  # overlaps liver
    }
    if with_empty:
        arrays["empty_organ"] = np.zeros(SHAPE_IJK, bool)
    aff = make_affine(kind)
    for name, arr in arrays.items():
        img = nib.Nifti1Image(arr.astype(np.uint8), aff)
        img.set_sform(aff, code=1)
        img.set_qform(aff, code=1)
        nib.save(img, str(folder / f"{name}.nii.gz"))
    return arrays


def reorient_file(path: Path, ornt) -> nib.Nifti1Image:
    """Rewrite ``path`` in another axis order with nibabel (what an editor saving its own order does)."""
    img = nib.load(str(path))
    out = img.as_reoriented(np.array(ornt))
    out = nib.Nifti1Image(np.asanyarray(out.dataobj), out.affine, out.header)
    nib.save(out, str(path))
    return nib.load(str(path))


def assert_entry_is_the_file(archive: MaskArchive, name: str, path: Path) -> None:
    """Every voxel of the archive's entry sits where nibabel puts a file voxel, with that voxel's value.

    From nibabel's affine alone: archive index -> LPS -> RAS -> file index must be a signed
    permutation plus a whole offset (each archive voxel centre is one file voxel centre, one to
    one); the file's array is then put in the archive's order by that map and compared exactly.
    """
    img = nib.load(str(path))
    data = np.asanyarray(img.dataobj)
    mask = archive.load_segmask(name)
    to_file = np.linalg.inv(img.affine) @ np.diag([-1.0, -1.0, 1.0, 1.0]) @ index_to_world_affine(archive.space)
    perm = np.round(to_file[:3, :3])
    offset = np.round(to_file[:3, 3])
    corners = np.array([[i, j, k, 1.0] for i in (0, mask.shape[0] - 1) for j in (0, mask.shape[1] - 1)
                        for k in (0, mask.shape[2] - 1)]).T
    exact = np.eye(4)
    exact[:3, :3], exact[:3, 3] = perm, offset
    # within a tenth of a voxel at every corner (float32 headers: TotalSegmentator's axes are 1e-4 off)
    assert np.abs(to_file @ corners - exact @ corners).max() < 0.1
    assert sorted(np.abs(perm).sum(axis=0)) == [1, 1, 1] and sorted(np.abs(perm).sum(axis=1)) == [1, 1, 1]
    # archive axis a runs along file axis f[a], forwards or backwards
    f = [int(np.flatnonzero(perm[:, a])[0]) for a in range(3)]
    sign = [int(perm[f[a], a]) for a in range(3)]
    in_archive_order = np.transpose(data, f)
    in_archive_order = in_archive_order[tuple(slice(None, None, -1) if s < 0 else slice(None) for s in sign)]
    first = offset  # file index of archive voxel (0, 0, 0): must be a corner of the file
    assert all(first[f[a]] == (0 if sign[a] > 0 else data.shape[f[a]] - 1) for a in range(3))
    assert in_archive_order.shape == tuple(mask.shape)
    full = mask.data
    label = mask.mapping.get(name, 1)
    assert np.array_equal(full != 0, in_archive_order != 0)
    assert (full[full != 0] == label).all()


def assert_same_file(a: Path, b: Path) -> None:
    ia, ib = nib.load(str(a)), nib.load(str(b))
    assert ia.shape == ib.shape
    assert np.array_equal(ia.affine, ib.affine)
    for key in ("srow_x", "srow_y", "srow_z", "quatern_b", "quatern_c", "quatern_d", "qoffset_x", "qoffset_y",
                "qoffset_z", "pixdim", "sform_code", "qform_code"):
        assert np.array_equal(ia.header[key], ib.header[key]), key
    assert ia.get_data_dtype() == ib.get_data_dtype()
    assert np.array_equal(np.asanyarray(ia.dataobj), np.asanyarray(ib.dataobj))


@pytest.mark.parametrize("ornt", [o for o in ALL_48 if o != IDENTITY_ORNT], ids=ornt_id)
def test_a_file_in_any_other_axis_order_joins_the_folder_exactly_and_goes_back_as_it_was(tmp_path, ornt, caplog):
    folder = tmp_path / "segmentations"
    write_case(folder, "oblique")
    original = {p.name: np.asanyarray(nib.load(str(p)).dataobj) for p in folder.iterdir()}
    reorient_file(folder / "spleen.nii.gz", ornt)
    kept = tmp_path / "as_given"
    shutil.copytree(folder, kept)
    with caplog.at_level(logging.INFO, logger="medmask"):
        convert(folder, tmp_path / "case.mska", image=False)
    lines = [r for r in caplog.records if "another axis order" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO and "spleen.nii.gz" in lines[0].getMessage()
    assert "1 of 4 files" in lines[0].getMessage()
    with MaskArchive(tmp_path / "case.mska") as archive:
        # the majority's grid (the untouched files'), and the odd file's voxels in it
        assert np.allclose(archive.space.shape, tuple(reversed(SHAPE_IJK)))
        for p in sorted(kept.iterdir()):
            assert_entry_is_the_file(archive, p.name[:-7], p)
        spleen = archive.load_segmask("spleen")
        assert np.array_equal(spleen.data.transpose(2, 1, 0),
                              original["spleen.nii.gz"] != 0)
    # and back: every file as it was, the reordered one in its own order with its own header
    convert(tmp_path / "case.mska", tmp_path / "back")
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == sorted(p.name for p in kept.iterdir())
    for p in kept.iterdir():
        assert_same_file(p, tmp_path / "back" / p.name)


@pytest.mark.parametrize("ornt", SOME, ids=ornt_id)
def test_the_majority_decides_the_archive_grid(tmp_path, ornt):
    """Three files reordered, one not: the archive is on the three's grid, the one is read into it."""
    folder = tmp_path / "seg"
    write_case(folder, "flipped")
    for name in ("liver", "spleen", "empty_organ"):  # tumor stays: it is read into their order
        reorient_file(folder / f"{name}.nii.gz", ornt)
    kept = tmp_path / "kept"
    shutil.copytree(folder, kept)
    convert(folder, tmp_path / "case.mska", image=False)
    liver = nib.load(str(kept / "liver.nii.gz"))
    with MaskArchive(tmp_path / "case.mska") as archive:
        assert tuple(archive.space.shape) == tuple(reversed(liver.shape))
        for p in kept.iterdir():
            assert_entry_is_the_file(archive, p.name[:-7], p)
    convert(tmp_path / "case.mska", tmp_path / "back")
    for p in kept.iterdir():
        assert_same_file(p, tmp_path / "back" / p.name)


def test_merging_the_folder_into_one_label_map_and_extracting_one_organ(tmp_path):
    """The other user paths a reordered file reaches: one multi-label NIfTI, one organ extracted."""
    from medmask.convert.nifti import load_nifti_mask

    folder = tmp_path / "seg"
    arrays = write_case(folder, "oblique", with_empty=False)
    reorient_file(folder / "tumor.nii.gz", ROWS_REVERSED)
    kept_tumor = tmp_path / "tumor_as_given.nii.gz"
    shutil.copy(folder / "tumor.nii.gz", kept_tumor)
    with pytest.warns(Warning, match="overlaps"):  # liver, spleen, tumor: file (name) order
        convert(folder, tmp_path / "ml.nii.gz", overlap="overwrite")
    img = nib.load(str(tmp_path / "ml.nii.gz"))
    ref = nib.load(str(folder / "liver.nii.gz"))
    assert np.array_equal(img.affine, ref.affine)  # the majority's grid and order
    ml = np.asanyarray(img.dataobj)
    mapping = load_nifti_mask(tmp_path / "ml.nii.gz").mapping
    assert np.array_equal(ml == mapping["tumor"], arrays["tumor"])
    assert np.array_equal(ml == mapping["spleen"], arrays["spleen"] & ~arrays["tumor"])
    convert(folder, tmp_path / "case.mska", image=False)
    from medmask.cli import main

    assert main(["extract", str(tmp_path / "case.mska"), "tumor", "-o", str(tmp_path / "tumor.nii.gz"), "-q"]) == 0
    assert_same_file(kept_tumor, tmp_path / "tumor.nii.gz")


def test_a_file_on_really_another_grid_is_still_refused_with_todays_message(tmp_path):
    folder = tmp_path / "seg"
    write_case(folder, "oblique")
    img = reorient_file(folder / "spleen.nii.gz", ROWS_REVERSED)
    moved = img.affine.copy()
    moved[:3, 3] += 0.4  # the same order change, and half a voxel off
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), moved), str(folder / "spleen.nii.gz"))
    with pytest.raises(ConversionError, match="spleen.nii.gz.*geometry \\(affine\\) differs from the other files"):
        convert(folder, tmp_path / "x.mska", image=False)
    # a transposed file half a voxel off: the shape is named, as before
    img = reorient_file(folder / "liver.nii.gz", ((1, 1), (0, 1), (2, 1)))
    moved = img.affine.copy()
    moved[:3, 3] += 0.4
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), moved), str(folder / "liver.nii.gz"))
    with pytest.raises(ConversionError, match="liver.nii.gz.*shape .* differs from the other files'"):
        convert(folder, tmp_path / "x.mska", image=False)
    with pytest.warns(Warning, match="skipped"):
        convert(folder, tmp_path / "x.mska", image=False, skip_bad=True)
    with MaskArchive(tmp_path / "x.mska") as archive:
        assert sorted(archive.all_names()) == ["empty_organ", "tumor"]


def test_the_cli_says_it_in_one_info_line(tmp_path):
    import subprocess
    import sys

    folder = tmp_path / "seg"
    write_case(folder, "permuted")
    reorient_file(folder / "liver.nii.gz", ROWS_REVERSED)
    proc = subprocess.run([sys.executable, "-m", "medmask", "convert", str(folder), str(tmp_path / "c.mska")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("medmask: info:") and "liver.nii.gz" in lines[0], proc.stderr
    assert "rows reversed" in lines[0] and "warning" not in proc.stderr.lower()


@pytest.mark.skipif(not TOTALSEG.is_dir(), reason="TotalSegmentator sample data not available")
def test_real_totalsegmentator_folder_with_one_organ_saved_rows_reversed(tmp_path):
    """s0000 (18 deg oblique, float32 headers): colon rewritten by nibabel with its rows reversed."""
    folder = tmp_path / "segmentations"
    folder.mkdir()
    for p in TOTALSEG.glob("*.nii.gz"):
        (folder / p.name).symlink_to(p)
    (folder / "colon.nii.gz").unlink()
    colon = nib.load(str(TOTALSEG / "colon.nii.gz")).as_reoriented(np.array(ROWS_REVERSED))
    nib.save(nib.Nifti1Image(np.asanyarray(colon.dataobj), colon.affine, colon.header), str(folder / "colon.nii.gz"))
    convert(folder, tmp_path / "s0000.mska", image=False)
    with MaskArchive(tmp_path / "s0000.mska") as archive:
        assert len(archive.all_names()) == 117
        for name in ("colon", "femur_left"):
            assert_entry_is_the_file(archive, name, folder / f"{name}.nii.gz")
        original = np.asanyarray(nib.load(str(TOTALSEG / "colon.nii.gz")).dataobj)
        assert np.count_nonzero(original) > 50000
        assert np.array_equal(archive.load_segmask("colon").data.transpose(2, 1, 0), original != 0)
    from medmask.cli import main

    assert main(["extract", str(tmp_path / "s0000.mska"), "colon", "femur_left", "hip_right", "-o",
                 str(tmp_path / "back"), "-q"]) == 0
    for name in ("colon", "femur_left", "hip_right"):
        assert_same_file(folder / f"{name}.nii.gz", tmp_path / "back" / f"{name}.nii.gz")


def test_orthonormalized_write_back_keeps_the_files_order(tmp_path):
    folder = tmp_path / "seg"
    write_case(folder, "oblique")
    img = reorient_file(folder / "spleen.nii.gz", ((1, -1), (0, 1), (2, 1)))
    convert(folder, tmp_path / "c.mska", image=False)
    convert(tmp_path / "c.mska", tmp_path / "back", orthonormalize=True)
    out = nib.load(str(tmp_path / "back" / "spleen.nii.gz"))
    assert out.shape == img.shape and np.allclose(out.affine, img.affine, atol=1e-4)
    assert np.array_equal(np.asanyarray(out.dataobj), np.asanyarray(img.dataobj))
