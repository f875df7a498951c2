"""read_image / read_image_header: NIfTI and NRRD scans on exactly the grid their masks use."""
from __future__ import annotations

import gzip
import math
import tracemalloc
import warnings
from pathlib import Path

import nibabel as nib
import nrrd
import numpy as np
import pytest

from medmask import MaskArchive
from medmask.convert.image_io import is_image_path, read_image, read_image_header
from medmask.convert.image_link import check_image, image_reference_for, totalseg_image_for
from medmask.core.geometry import index_to_world_affine, spaces_equal
from medmask.errors import ConversionError, GeometryError

AORTA_CASE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "totalseg_aorta_ct"
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])


def _rot(ax, ay, az):
    cx, sx, cy, sy, cz, sz = math.cos(ax), math.sin(ax), math.cos(ay), math.sin(ay), math.cos(az), math.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _affine(kind: str) -> np.ndarray:
    """RAS affines: oblique (rotated about all axes), flipped (left-handed), sagittal (axes permuted)."""
    spacing = np.diag([0.7, 0.9, 2.5])
    if kind == "oblique":
        m = _rot(0.2, -0.31, 0.12) @ spacing
    elif kind == "flipped":
        m = np.diag([-1.0, 1.0, -1.0]) @ spacing
    elif kind == "sagittal":  # i -> A/P, j -> S/I, k -> R/L: a sagittally acquired scan
        m = np.array([[0, 0, -1], [1, 0, 0], [0, -1, 0]], float) @ spacing
    else:
        raise ValueError(kind)
    aff = np.eye(4)
    aff[:3, :3] = m
    aff[:3, 3] = (-101.25, 37.5, 512.0)
    return aff


def _scan(shape=(21, 17, 13), dtype=np.int16) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(-1024, 2000, size=shape).astype(dtype)


def _lps_of(space, index) -> np.ndarray:
    return (index_to_world_affine(space) @ np.r_[np.asarray(index, float), 1.0])[:3]


@pytest.mark.parametrize("kind", ["oblique", "flipped", "sagittal"])
@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_nifti_voxels_and_geometry_agree_with_nibabel(tmp_path, kind, suffix):
    data = _scan()
    path = tmp_path / f"scan{suffix}"
    nib.save(nib.Nifti1Image(data, _affine(kind)), str(path))
    img = nib.load(str(path))
    array, space = read_image(path)
    assert array.shape == tuple(space.shape) == data.shape[::-1]
    assert array.dtype == np.int16 and array.flags.c_contiguous
    assert np.array_equal(array, np.asarray(img.dataobj).transpose(2, 1, 0))
    for ijk in [(0, 0, 0), (20, 16, 12), (3, 11, 7)]:
        expected = RAS_TO_LPS @ (img.affine @ np.r_[ijk, 1.0])[:3]
        assert np.allclose(_lps_of(space, ijk[::-1]), expected, atol=1e-4)
        assert array[ijk[::-1]] == data[ijk]
    assert spaces_equal(read_image_header(path), space)


def test_nifti_scaling_big_endian_and_trailing_axes(tmp_path):
    data = _scan(dtype=np.uint16) + 1024
    img = nib.Nifti1Image(data.astype(">u2"), _affine("oblique"))
    img.header.set_slope_inter(1.0, -1024.0)
    path = tmp_path / "scaled.nii.gz"
    nib.save(img, str(path))
    array, _ = read_image(path)
    assert np.array_equal(array, (data.astype(np.int64) - 1024).transpose(2, 1, 0))
    assert array.dtype.isnative
    img = nib.Nifti1Image(data.astype(np.int16), _affine("oblique"))
    img.header.set_slope_inter(0.5, 0.25)
    nib.save(img, str(tmp_path / "float.nii"))
    array, _ = read_image(tmp_path / "float.nii")
    assert array.dtype == np.float32
    assert np.allclose(array, (data * 0.5 + 0.25).transpose(2, 1, 0))
    nib.save(nib.Nifti1Image(data[..., None], _affine("flipped")), str(tmp_path / "t1.nii"))
    assert read_image(tmp_path / "t1.nii")[0].shape == data.shape[::-1]


def _nrrd_header(kind: str, space_name="left-posterior-superior"):
    aff = _affine(kind)
    m, o = RAS_TO_LPS @ aff[:3, :3], RAS_TO_LPS @ aff[:3, 3]
    if space_name == "right-anterior-superior":
        m, o = aff[:3, :3], aff[:3, 3]
    return {"space": space_name, "space directions": m.T, "space origin": o, "kinds": ["domain"] * 3}


@pytest.mark.parametrize("encoding", ["raw", "gzip"])
@pytest.mark.parametrize("kind", ["oblique", "flipped", "sagittal"])
def test_nrrd_space_directions(tmp_path, encoding, kind):
    data = _scan()  # (i, j, k) fastest first, as nibabel would have it
    header = {**_nrrd_header(kind), "encoding": encoding}
    path = tmp_path / "scan.nrrd"
    nrrd.write(str(path), data, header, index_order="F")
    array, space = read_image(path)
    nifti_space = read_image_header(_save_nifti(tmp_path, data, kind))
    assert np.array_equal(array, data.transpose(2, 1, 0))
    assert np.allclose(index_to_world_affine(space), index_to_world_affine(nifti_space), atol=1e-9)
    assert tuple(read_image_header(path).shape) == data.shape[::-1]


def _save_nifti(tmp_path, data, kind) -> Path:
    p = tmp_path / f"same_{kind}.nii"
    nib.save(nib.Nifti1Image(data, _affine(kind)), str(p))
    return p


def test_nrrd_in_ras_and_detached_header(tmp_path):
    data = _scan()
    nrrd.write(str(tmp_path / "ras.nrrd"), data, {**_nrrd_header("oblique", "right-anterior-superior")},
               index_order="F")
    nrrd.write(str(tmp_path / "lps.nhdr"), data, {**_nrrd_header("oblique"), "encoding": "gzip"},
               index_order="F", detached_header=True)
    a, sa = read_image(tmp_path / "ras.nrrd")
    b, sb = read_image(tmp_path / "lps.nhdr")
    assert np.array_equal(a, b) and np.allclose(index_to_world_affine(sa), index_to_world_affine(sb))
    nrrd.write(str(tmp_path / "ascii.nrrd"), data, {**_nrrd_header("oblique"), "encoding": "ascii"},
               index_order="F")  # rare encodings go through pynrrd
    assert np.array_equal(read_image(tmp_path / "ascii.nrrd")[0], a)


def test_bad_inputs_give_one_clear_error(tmp_path):
    data = _scan()
    nrrd.write(str(tmp_path / "organs.seg.nrrd"), data, _nrrd_header("oblique"), index_order="F")
    with pytest.raises(ConversionError, match="segmentation"):
        read_image(tmp_path / "organs.seg.nrrd")
    assert not is_image_path("x.seg.nrrd") and is_image_path("x.NII.GZ") and is_image_path("x.nhdr")
    with pytest.raises(ConversionError, match="unknown image type"):
        read_image(tmp_path / "scan.mha")
    with pytest.raises(ConversionError, match="no such file"):
        read_image(tmp_path / "none.nii.gz")
    nrrd.write(str(tmp_path / "nogeom.nrrd"), data)
    with pytest.raises(ConversionError, match="space directions"):
        read_image(tmp_path / "nogeom.nrrd")
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.int16), np.eye(4)), str(tmp_path / "4d.nii.gz"))
    with pytest.raises(ConversionError, match="3D"):
        read_image(tmp_path / "4d.nii.gz")
    good = tmp_path / "good.nii.gz"
    nib.save(nib.Nifti1Image(data, _affine("oblique")), str(good))
    raw = good.read_bytes()
    (tmp_path / "cut.nii.gz").write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(ConversionError, match="truncated|damaged"):
        read_image(tmp_path / "cut.nii.gz")
    flipped = bytearray(raw)
    flipped[len(raw) // 2] ^= 0xFF
    (tmp_path / "flip.nii.gz").write_bytes(bytes(flipped))
    with pytest.raises(ConversionError):
        read_image(tmp_path / "flip.nii.gz")
    (tmp_path / "text.nii").write_text("not an image")
    with pytest.raises(ConversionError):
        read_image(tmp_path / "text.nii")


def test_uncompressed_files_are_memory_mapped_read_only(tmp_path):
    data = _scan()
    nib.save(nib.Nifti1Image(data, _affine("oblique")), str(tmp_path / "a.nii"))
    nrrd.write(str(tmp_path / "a.nrrd"), data, {**_nrrd_header("oblique"), "encoding": "raw"}, index_order="F")
    nrrd.write(str(tmp_path / "b.nhdr"), data, {**_nrrd_header("oblique"), "encoding": "raw"}, index_order="F",
               detached_header=True)
    for name in ("a.nii", "a.nrrd", "b.nhdr"):
        mapped, space = read_image(tmp_path / name)
        loaded, space2 = read_image(tmp_path / name, mmap=False)
        assert isinstance(mapped, np.memmap) and not mapped.flags.writeable, name
        assert not isinstance(loaded, np.memmap) and loaded.flags.writeable
        assert np.array_equal(mapped, data.transpose(2, 1, 0)) and np.array_equal(loaded, mapped)
        assert spaces_equal(space, space2)
    raw = (tmp_path / "a.nii").read_bytes()
    (tmp_path / "cut.nii").write_bytes(raw[:-100])
    with pytest.raises(ConversionError, match="truncated"):
        read_image(tmp_path / "cut.nii")


def test_bzip2_nrrd_with_several_streams(tmp_path):
    import bz2

    data = _scan()
    nrrd.write(str(tmp_path / "one.nrrd"), data, {**_nrrd_header("sagittal"), "encoding": "bzip2"}, index_order="F")
    assert np.array_equal(read_image(tmp_path / "one.nrrd")[0], data.transpose(2, 1, 0))
    raw = (tmp_path / "one.nrrd").read_bytes()
    head, body = raw.split(b"\n\n", 1)
    plain = bz2.decompress(body)
    half = len(plain) // 3
    (tmp_path / "multi.nrrd").write_bytes(head + b"\n\n" + bz2.compress(plain[:half]) + bz2.compress(plain[half:]))
    assert np.array_equal(read_image(tmp_path / "multi.nrrd")[0], data.transpose(2, 1, 0))
    (tmp_path / "cut.nrrd").write_bytes(raw[: len(raw) - 200])
    with pytest.raises(ConversionError, match="truncated|damaged"):
        read_image(tmp_path / "cut.nrrd")


def test_multi_member_gzip(tmp_path):
    data = _scan()
    plain = tmp_path / "scan.nii"
    nib.save(nib.Nifti1Image(data, _affine("flipped")), str(plain))
    raw = plain.read_bytes()
    half = len(raw) // 2
    (tmp_path / "pigz.nii.gz").write_bytes(gzip.compress(raw[:half]) + gzip.compress(raw[half:]))
    assert np.array_equal(read_image(tmp_path / "pigz.nii.gz")[0], read_image(plain)[0])


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".bz2.nrrd"])
def test_holds_one_copy_of_the_voxels(tmp_path, suffix):
    """The array is the only full-size allocation (the inflate buffer is bounded, a few MB)."""
    shape = (200, 256, 256)  # 26 MB int16
    data = np.zeros(shape, np.int16)
    data[50:150, 60:200, 60:200] = 40
    path = tmp_path / f"big{suffix}"
    if suffix.endswith(".nrrd"):
        encoding = "bzip2" if suffix.startswith(".bz2") else "gzip"
        nrrd.write(str(path), data, {**_nrrd_header("flipped"), "encoding": encoding}, index_order="F")
    else:
        nib.save(nib.Nifti1Image(data, _affine("flipped")), str(path))
    del data
    read_image_header(path)  # imports and caches out of the measurement
    tracemalloc.start()
    try:
        array, _ = read_image(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert array.nbytes == 200 * 256 * 256 * 2
    assert peak < array.nbytes + (6 << 20), f"peak {peak / 1e6:.1f} MB for a {array.nbytes / 1e6:.1f} MB image"


# ---------------------------------------------------------------------------------------------
# references


def test_reference_for_an_image_checks_the_masks_grid(tmp_path):
    data = _scan()
    ct = tmp_path / "case" / "ct.nii.gz"
    ct.parent.mkdir()
    nib.save(nib.Nifti1Image(data, _affine("oblique")), str(ct))
    space = read_image_header(ct)
    archive = tmp_path / "case" / "organs.mska"
    ref = image_reference_for(ct, archive, space)
    assert ref.path == "ct.nii.gz" and ref.matches(space)
    shifted = np.array(_affine("oblique"))
    shifted[:3, 3] += 3.0
    other = tmp_path / "case" / "other.nii.gz"
    nib.save(nib.Nifti1Image(data, shifted), str(other))
    with pytest.raises(GeometryError, match="not on the masks. grid.*origin"):
        image_reference_for(other, archive, space)
    with pytest.warns(UserWarning, match="forced"):
        image_reference_for(other, archive, space, force=True)
    assert check_image(ref, archive).ok
    # the file is replaced by another grid: the check says how
    nib.save(nib.Nifti1Image(data, shifted), str(ct))
    result = check_image(ref, archive)
    assert not result.ok and result.problem.startswith("mismatch") and "origin" in result.problem
    ct.unlink()
    result = check_image(ref, archive)
    assert not result.ok and result.problem.startswith("missing") and str(ct) in result.problem


def test_totalseg_layout_is_recognised(tmp_path):
    seg = tmp_path / "s0001" / "segmentations"
    seg.mkdir(parents=True)
    assert totalseg_image_for(seg) is None
    (tmp_path / "s0001" / "ct.nii.gz").write_bytes(b"")
    assert totalseg_image_for(seg) == tmp_path / "s0001" / "ct.nii.gz"
    assert totalseg_image_for(tmp_path / "s0001") is None


@pytest.fixture
def aorta_case() -> Path:
    if not (AORTA_CASE / "ct.nii.gz").is_file():
        pytest.skip(f"aorta case not present at {AORTA_CASE}")
    return AORTA_CASE


def test_masks_converted_from_nifti_and_the_image_share_one_space(tmp_path, aorta_case):
    from medmask.convert import convert

    out = tmp_path / "aorta.mska"
    convert(aorta_case / "segmentations", out)
    ct, space = read_image(aorta_case / "ct.nii.gz")
    with MaskArchive(out) as archive:
        assert spaces_equal(archive.space, space)
        aorta = archive.load_segmask("aorta").data.astype(bool)
    assert ct.shape == aorta.shape and float(ct[aorta].mean()) > 150


@pytest.mark.parametrize("kind", ["oblique", "flipped", "sagittal"])
def test_masks_and_scan_written_on_one_grid_get_equal_spaces(tmp_path, kind):
    """No shared data needed: a synthetic case in TotalSegmentator's layout, each orientation."""
    from medmask.convert import convert

    case = tmp_path / "case"
    (case / "segmentations").mkdir(parents=True)
    data = _scan()
    nib.save(nib.Nifti1Image(data, _affine(kind)), str(case / "ct.nii.gz"))
    organ = np.zeros(data.shape, np.uint8)
    organ[4:9, 3:12, 2:6] = 1
    nib.save(nib.Nifti1Image(organ, _affine(kind)), str(case / "segmentations" / "organ.nii.gz"))
    convert(case / "segmentations", case / "organs.mska")
    ct, space = read_image(case / "ct.nii.gz")
    with MaskArchive(case / "organs.mska") as archive:
        assert spaces_equal(archive.space, space)
        assert archive.image_reference.path == "ct.nii.gz" and archive.image_reference.matches(space, tol=0.0)
        mask = archive.load_segmask("organ").data.astype(bool)
    assert np.array_equal(ct[mask], data.transpose(2, 1, 0)[organ.transpose(2, 1, 0) > 0])
