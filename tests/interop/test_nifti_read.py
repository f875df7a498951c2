"""NIfTI read in one go (convert/nifti_read.py): the same header, voxels and geometry as nibabel's loader,
for files the fast path takes and for those it leaves to nibabel (scaled, several gzip members, NIfTI-2,
big-endian, uncompressed, extensions, damaged)."""
from __future__ import annotations

import gzip
import zlib

import nibabel as nib
import numpy as np
import pytest

from interop_helpers import blob, make_affine, totalseg_extension, write_case
from medmask import limits
from medmask.convert import nifti, nifti_read
from medmask.convert.nifti import read_nifti, read_nifti_header
from medmask.errors import ConversionError

SHAPE = (13, 17, 11)


@pytest.fixture(params=["installed", "zlib"])
def inflater(request, monkeypatch):
    """Every case with the installed inflaters (libdeflate, zlib-ng) and with plain zlib alone."""
    if request.param == "zlib":
        monkeypatch.setattr(nifti_read, "_libdeflate", None)
        monkeypatch.setattr(nifti_read, "_inflater", zlib)
    return request.param


# ------------------------------------------------------------------------------------------
# gzip


def test_gunzip_reads_every_member_and_padding(inflater):
    data = bytes(range(256)) * 1000
    raw = gzip.compress(data[:100_000]) + b"\0\0" + gzip.compress(data[100_000:])
    assert nifti_read.gunzip(raw) == data


def test_gunzip_refuses_a_cut_stream(inflater):
    raw = gzip.compress(bytes(range(256)) * 100)
    with pytest.raises(Exception) as info:
        nifti_read.gunzip(raw[:-20])
    assert "truncated" in str(info.value) or "incomplete" in str(info.value).lower()


def test_first_member_in_one_buffer(inflater):
    data = bytes(range(256)) * 1000
    assert bytes(nifti_read.gunzip_first_member(gzip.compress(data))) == data


@pytest.mark.parametrize("case", ["cut", "padded", "two members", "not gzip", "empty"])
def test_first_member_declines_what_it_cannot_vouch_for(inflater, case):
    data = bytes(range(256)) * 1000
    raw = {"cut": gzip.compress(data)[:-20], "padded": gzip.compress(data) + b"\0" * 8,
           "two members": gzip.compress(data[:1000]) + gzip.compress(data[1000:]),
           "not gzip": data, "empty": b""}[case]
    assert nifti_read.gunzip_first_member(raw) is None


def test_a_lying_trailer_allocates_nothing(inflater, monkeypatch):
    """A trailer may claim up to 4 GiB: more than the memory budget (or than deflate can expand to) is not believed."""
    raw = bytearray(gzip.compress(bytes(10_000_000)))  # 10 MB of zeros in ~10 KB
    assert nifti_read.gunzip_first_member(bytes(raw)) is not None
    monkeypatch.setattr(limits, "MEMORY_BUDGET", 1_000_000)
    assert nifti_read.gunzip_first_member(bytes(raw)) is None
    monkeypatch.setattr(limits, "MEMORY_BUDGET", 1 << 40)
    raw[-4:] = (0xFFFFFFF0).to_bytes(4, "little")  # beyond 1032:1 for a 10 KB stream
    assert nifti_read.gunzip_first_member(bytes(raw)) is None


def test_libdeflate_is_used_when_installed():
    pytest.importorskip("deflate")
    assert nifti_read.inflater_name() == "libdeflate"


# ------------------------------------------------------------------------------------------
# NIfTI files: the fast path and nibabel's path agree with nib.load


def _image(kind="oblique", dtype=np.uint8, klass=nib.Nifti1Image, ext=None):
    data = (blob(SHAPE, (4, 5, 3), (3, 4, 2.5)) * 3 + blob(SHAPE, (9, 12, 7), (2.5, 3, 2))).astype(dtype)
    aff = make_affine(kind)
    img = klass(data, aff)
    img.header.set_data_dtype(dtype)
    img.set_sform(aff, code=1)
    img.set_qform(aff, code=1)
    if ext is not None:
        img.header.extensions.append(ext)
    return img


def _save(img, path, *, members: int = 1, big_endian: bool = False):
    if big_endian:
        hdr = img.header.as_byteswapped(">")
        img = type(img)(np.asanyarray(img.dataobj), None, hdr)
    raw = img.to_bytes()
    if str(path).endswith(".gz"):
        if members == 1:
            raw = gzip.compress(raw)
        else:  # the header in a member of its own, then the voxels: nothing is lost, nothing misread
            cut = 352
            raw = gzip.compress(raw[:cut]) + gzip.compress(raw[cut:])
    path.write_bytes(raw)
    return path


def _check_like_nibabel(path):
    ref = nib.load(str(path))
    data, space, rec, hdr = read_nifti(path)
    expect = np.asanyarray(ref.dataobj)
    np.testing.assert_array_equal(data, expect.transpose(2, 1, 0).astype(data.dtype))
    assert np.array_equal(hdr.get_best_affine(), ref.affine)
    assert rec == nifti.header_record(ref.header)
    head = read_nifti_header(path)
    assert np.array_equal(head.get_best_affine(), ref.affine)
    assert nifti.header_record(head) == rec
    assert len(head.extensions) == len(ref.header.extensions)
    return data


@pytest.mark.parametrize("kind", ["oblique", "flipped", "permuted"])
@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_plain_files_take_the_fast_path(tmp_path, monkeypatch, inflater, kind, suffix):
    path = _save(_image(kind), tmp_path / f"m{suffix}")
    monkeypatch.setattr(nifti, "_load", lambda *a, **k: pytest.fail("left the fast path"))
    data = _check_like_nibabel(path)
    assert data.base is not None  # a view of the inflated bytes, not a copy


@pytest.mark.parametrize("case", ["two members", "big-endian", "big-endian int16", "nifti2", "label table", "int16",
                                  "qform only"])
def test_unusual_files_read_like_nibabel(tmp_path, inflater, case):
    img = _image(dtype=np.int16 if "int16" in case else np.uint8,
                 klass=nib.Nifti2Image if case == "nifti2" else nib.Nifti1Image,
                 ext=totalseg_extension({1: "spleen", 3: "liver"}) if case == "label table" else None)
    if case == "qform only":
        img.header["sform_code"] = 0
    path = _save(img, tmp_path / "m.nii.gz", members=2 if case == "two members" else 1,
                 big_endian=case.startswith("big-endian"))
    _check_like_nibabel(path)


def test_scaled_data_goes_nibabels_way(tmp_path, inflater):
    img = _image(dtype=np.int16)
    img.header.set_slope_inter(2.0, 0.0)
    path = _save(img, tmp_path / "m.nii.gz")
    ref = np.asanyarray(nib.load(str(path)).dataobj)
    assert ref.max() == 6  # scaled by nibabel
    data = read_nifti(path)[0]
    np.testing.assert_array_equal(data, ref.transpose(2, 1, 0))


@pytest.mark.parametrize("cut", [100, 400, 2000])
def test_damaged_files_keep_their_wording(tmp_path, inflater, cut):
    path = _save(_image(), tmp_path / "m.nii.gz")
    raw = path.read_bytes()
    path.write_bytes(raw[:min(cut, len(raw) - 10)])
    with pytest.raises(ConversionError, match="m.nii.gz") as info:
        read_nifti(path)
    assert "not a readable NIfTI file" in str(info.value) or "cannot read the voxel data" in str(info.value)


def test_header_read_inflates_only_the_header(tmp_path, monkeypatch):
    """The folder scan reads 117 headers: it must not inflate 117 volumes to do it."""
    path = _save(_image(), tmp_path / "m.nii.gz")
    monkeypatch.setattr(nifti_read, "gunzip_first_member", lambda raw: pytest.fail("inflated the volume"))
    monkeypatch.setattr(nifti, "_load", lambda *a, **k: pytest.fail("left the fast path"))
    assert read_nifti_header(path).get_data_shape() == SHAPE


def test_folder_of_masks_converts_the_same_with_every_inflater(tmp_path, monkeypatch):
    from medmask.convert import convert

    write_case(tmp_path / "case", "oblique")
    convert(tmp_path / "case", tmp_path / "a.mska")
    monkeypatch.setattr(nifti_read, "_libdeflate", None)
    monkeypatch.setattr(nifti_read, "_inflater", zlib)
    convert(tmp_path / "case", tmp_path / "b.mska")
    assert (tmp_path / "a.mska").read_bytes() == (tmp_path / "b.mska").read_bytes()


# ------------------------------------------------------------------------------------------
# the folder path's bounding box (one pass, then the slab between)


@pytest.mark.parametrize("shape", [(9, 11, 13), (9, 11, 16)])  # rows of 16 voxels: the 8-bytes-at-a-time pass
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, bool, np.uint32])
def test_folder_bbox_matches_the_reference(dtype, shape):
    from medmask.core.geometry import _bbox_by_projections as reference
    from medmask.core.geometry import compute_bbox as _fast_bbox

    rng = np.random.default_rng(7)
    compute_bbox = reference
    cases = [np.zeros(shape, dtype)]
    for corner in [(0, 0, 0), (8, 10, shape[2] - 1), (0, 10, 0), (4, 5, 6)]:
        a = np.zeros(shape, dtype)
        a[corner] = 1
        cases.append(a)
    for _ in range(20):
        a = np.zeros(shape, dtype)
        n = int(rng.integers(1, 6))
        a[tuple(rng.integers(0, s, n) for s in shape)] = 1
        cases.append(a)
    for a in cases:
        assert _fast_bbox(a) == compute_bbox(a)
        assert _fast_bbox(a[:, ::-1]) == compute_bbox(a[:, ::-1])  # not contiguous: the general way
    assert _fast_bbox(np.zeros((0, 4, 4), dtype)) is None


def test_folder_conversion_keeps_every_crop_on_real_masks(totalseg_dir, tmp_path):
    """Each entry of the s0000 archive holds exactly the file's voxels (nibabel's reading), in their bbox."""
    from medmask import MaskArchive
    from medmask.convert import convert
    from medmask.core.geometry import compute_bbox

    out = tmp_path / "s.mska"
    convert(totalseg_dir, out)
    with MaskArchive(out) as archive:
        for f in sorted(totalseg_dir.glob("*.nii.gz"))[::7]:
            ref = np.asanyarray(nib.load(str(f)).dataobj).transpose(2, 1, 0)
            mask = archive.load_segmask(f.name[:-7])
            assert mask.bbox == compute_bbox(ref)
            np.testing.assert_array_equal(mask.data, ref.astype(bool))
