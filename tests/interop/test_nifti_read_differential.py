"""Differential test of the fast NIfTI read (convert/nifti_read.py) against nibabel's general path.

Seeded random files (dtypes, byte order, NIfTI-1/2, .nii/.nii.gz, one or several gzip members,
extensions and a far vox_offset, sform/qform codes, scaling incl. slope 0/NaN, singleton 4th/5th
dims, a lying dim[0], odd pixdim, 1-voxel-thick shapes, cut files, lying gzip trailers) are
converted twice inside medmask: as shipped, and with the fast path switched off. Both must give
the same SegmentationMask (voxels, names, Space, header record) or the same kind of
MedMaskError naming the file; when nibabel reads a 3D label volume, both must hold its voxels.
"""
from __future__ import annotations

import gzip
import io
import warnings
import zlib

import nibabel as nib
import numpy as np
import pytest

from interop_helpers import make_affine, totalseg_extension
from medmask.convert import nifti, nifti_read, nifti_stream
from medmask.convert.nifti import load_nifti_mask, read_nifti_header
from medmask.convert.nifti_folder import _header_space, binary_file_mask
from medmask.core.geometry import compute_bbox
from medmask.errors import MedMaskError

DTYPES = [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.float32, np.float64, np.int64, np.uint64,
          np.complex64]
N_CASES = 240


def _labels(rng, shape, dtype) -> np.ndarray:
    data = np.zeros(shape, dtype=dtype)
    n = int(rng.integers(0, 4))
    binary = rng.random() < 0.4  # 0/1 masks, TotalSegmentator's
    for _ in range(n):
        lo = [int(rng.integers(0, s)) for s in shape]
        hi = [int(rng.integers(a + 1, s + 1)) for a, s in zip(lo, shape)]
        data[tuple(slice(a, b) for a, b in zip(lo, hi))] = 1 if binary else int(rng.integers(1, 6))
    return data


def make_case(seed: int, folder):
    """(path, description) of one random NIfTI file written byte by byte."""
    rng = np.random.default_rng(seed)
    desc = {}
    klass = nib.Nifti2Header if rng.random() < 0.3 else nib.Nifti1Header
    dtype = np.dtype(DTYPES[int(rng.integers(len(DTYPES)))])
    big = rng.random() < 0.3
    shape = [int(rng.integers(1, 9)) for _ in range(3)]
    if rng.random() < 0.3:
        shape[int(rng.integers(3))] = 1  # one voxel thick
    extra = [(), (1,), (1, 1), (2,)][int(rng.choice(4, p=[0.6, 0.2, 0.1, 0.1]))]
    full = tuple(shape) + extra
    data = _labels(rng, full, dtype)
    hdr = klass(endianness=">" if big else "<")
    hdr.set_data_dtype(dtype)
    hdr.set_data_shape(full)
    aff = make_affine(["plain", "oblique", "flipped", "permuted"][int(rng.integers(4))])
    aff2 = make_affine(["plain", "oblique", "flipped", "permuted"][int(rng.integers(4))])
    scode, qcode = int(rng.integers(0, 5)), int(rng.integers(0, 5))
    hdr.set_sform(aff, code=scode)
    hdr.set_qform(aff2, code=qcode)
    desc.update(klass=klass.__name__, dtype=str(dtype), big=big, shape=full, scode=scode, qcode=qcode)
    r = rng.random()
    if r < 0.15:
        slope, inter = [(0.0, 3.0), (np.nan, 0.0), (np.nan, np.nan), (2.0, 1.0), (1.0, 0.0), (1.0, 2.0)][
            int(rng.integers(6))]
        hdr["scl_slope"], hdr["scl_inter"] = slope, inter
        desc["scl"] = (slope, inter)
    if rng.random() < 0.1:
        pix = hdr["pixdim"].copy()
        pix[int(rng.integers(0, 4))] = [-1.5, 0.0, -1.0, 2.0][int(rng.integers(4))]  # [0] is qfac
        hdr["pixdim"] = pix
        desc["pixdim"] = pix[:4].tolist()
    if rng.random() < 0.1:
        dim = hdr["dim"].copy()
        dim[0] = [len(full) + 1, 7, 2, 0, 8][int(rng.integers(5))]
        hdr["dim"] = dim
        desc["dim0"] = int(dim[0])
    exts = rng.random() < 0.25
    if exts:
        hdr.extensions.append(totalseg_extension({1: "spleen", 3: "liver", 5: "kidney right"}))
    pad = int(rng.choice([0, 0, 16, 400]))
    if exts and pad:  # extensions must reach the voxels (nibabel reads them up to vox_offset)
        hdr.extensions.append(nib.nifti1.Nifti1Extension(6, b"c" * (pad - 8)))
        pad = 0
    head_len = hdr.single_vox_offset + (hdr.extensions.get_sizeondisk() if exts else 0)
    hdr["vox_offset"] = head_len + pad
    desc.update(exts=exts, pad=pad)
    bio = io.BytesIO()
    hdr.write_to(bio)
    raw = bio.getvalue()
    raw = raw + b"\x00" * (hdr.get_data_offset() - len(raw))
    raw += np.asarray(data, dtype=hdr.get_data_dtype()).tobytes(order="F")
    gz = rng.random() < 0.7
    damage = rng.choice(["none", "cut", "trailer", "tail"], p=[0.8, 0.08, 0.06, 0.06])
    desc.update(gz=gz, damage=str(damage))
    if damage == "tail":
        raw += b"junk" * 3
    if damage == "cut":
        raw = raw[:len(raw) - int(rng.integers(1, max(2, data.nbytes + 1)))]
    if gz:
        members = int(rng.choice([1, 1, 2, 3]))
        cuts = sorted(int(c) for c in rng.integers(0, len(raw), members - 1))
        parts = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)])]
        blob = b"".join(gzip.compress(p, mtime=0) for p in parts)
        desc["members"] = members
        if damage == "trailer":
            blob = blob[:-4] + (int.from_bytes(blob[-4:], "little") + int(rng.choice([-1, 1, 352]))
                                ).to_bytes(4, "little")
        raw = blob
    path = folder / f"c{seed}.nii{'.gz' if gz else ''}"
    path.write_bytes(raw)
    return path, desc


def _general(monkeypatch):
    monkeypatch.setattr(nifti, "read_bytes", lambda path: None)
    monkeypatch.setattr(nifti, "read_header", lambda path: None)
    monkeypatch.setattr(nifti_stream, "_zng", None)  # the folder's streamed read too


def _outcome(path, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(path)
        except MedMaskError as exc:
            assert path.name in str(exc), f"error does not name the file: {exc}"
            return type(exc)
        except Exception as exc:  # anything else is a bug of either path
            return f"UNCAUGHT {type(exc).__name__}: {exc}"


def _mask_key(m):
    if isinstance(m, (type, str)):
        return m
    return (np.asarray(m.data).tolist(), str(np.asarray(m.data).dtype), m.mapping.to_dict(),
            (tuple(m.space.shape), m.space.origin, m.space.spacing, m.space.x_orientation, m.space.y_orientation,
             m.space.z_orientation), repr(m.metadata))


def _nibabel_reference(path):
    """nibabel's 3D voxels (i, j, k) and affine, or None when nibabel cannot read the file."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            img = nib.load(str(path))
            arr = np.asanyarray(img.dataobj)
        except Exception:
            return None
    shape = arr.shape
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    return (arr.reshape(shape), img.affine) if len(shape) == 3 else None


def _header_key(h):
    if isinstance(h, (type, str)):
        return h
    return (nifti.header_record(h), h.get_best_affine().tolist(), tuple(h.get_data_shape()),
            [(e.get_code(), e.get_content()) for e in h.extensions])


def _folder_entry(path):
    """One file as the folder conversion takes it: its grid from the header scan, then its crop."""
    space, _ = _header_space(path)
    return binary_file_mask(path, space, force=True)[1]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diff")
    return [make_case(seed, folder) for seed in range(N_CASES)]


@pytest.mark.parametrize("reader, inflater", [("file", "installed"), ("file", "zlib"), ("header", "installed"),
                                              ("folder entry", "installed"), ("folder entry", "tiny steps")])
def test_fast_path_converts_like_the_general_path(cases, monkeypatch, reader, inflater):
    if inflater == "zlib":  # the fast path without libdeflate / zlib-ng
        monkeypatch.setattr(nifti_read, "_libdeflate", None)
        monkeypatch.setattr(nifti_read, "_inflater", zlib)
    if inflater == "tiny steps":  # the streamed folder read one slice a step: gaps, first/last slices, steps
        monkeypatch.setattr(nifti_stream, "CHUNK_BYTES", 1)
    fn = {"file": lambda p: load_nifti_mask(p, force=True), "header": read_nifti_header,
          "folder entry": _folder_entry}[reader]
    key = _header_key if reader == "header" else _mask_key
    fast = [key(_outcome(path, fn)) for path, _ in cases]
    _general(monkeypatch)
    general = [key(_outcome(path, fn)) for path, _ in cases]
    for (path, desc), a, b in zip(cases, fast, general):
        if reader == "header" and desc["damage"] in ("cut", "trailer"):
            continue  # reading 544 bytes cannot see a damaged end; the voxel read (checked above) refuses it
        assert not isinstance(a, str) and not isinstance(b, str), (desc, a, b)
        assert a == b, desc


def test_fast_path_holds_nibabels_voxels_and_affine(cases):
    """Where nibabel reads a 3D volume of whole non-negative numbers, the mask holds exactly those voxels,
    on the grid of nibabel's affine."""
    checked = 0
    for path, desc in cases:
        ref = _nibabel_reference(path)
        mask = _outcome(path, lambda p: load_nifti_mask(p, force=True))
        if ref is None or isinstance(mask, (type, str)):
            continue
        arr, aff = ref
        np.testing.assert_array_equal(np.asarray(mask.data), arr.transpose(2, 1, 0), err_msg=str(desc))
        expect = nifti.space_from_ras_affine(aff, arr.shape)
        assert (mask.space.origin, mask.space.spacing, mask.space.x_orientation, mask.space.z_orientation) == (
            expect.origin, expect.spacing, expect.x_orientation, expect.z_orientation), desc
        checked += 1
    assert checked > N_CASES // 2
    fast = sum(nifti._read_fast(path) is not None for path, _ in cases)
    assert N_CASES // 4 < fast < N_CASES  # both paths are exercised, else the comparison proves nothing


# ------------------------------------------------------------------------------------------
# regressions found by the differential run


@pytest.mark.parametrize("cut", range(340, 362, 3))
def test_header_read_keeps_extensions_when_a_gzip_member_ends_in_the_header(tmp_path, cut):
    """A gzip member ending inside the 4-byte extension flag once made the header read drop the label table."""
    img = nib.Nifti1Image(np.zeros((3, 4, 5), np.uint8), make_affine("oblique"))
    img.header.extensions.append(totalseg_extension({1: "spleen", 2: "liver"}))
    raw = img.to_bytes()
    path = tmp_path / "m.nii.gz"
    path.write_bytes(gzip.compress(raw[:cut]) + gzip.compress(raw[cut:]))
    ref = nib.load(str(path)).header
    assert _header_key(read_nifti_header(path)) == _header_key(ref)


@pytest.mark.parametrize("case", ["scaled", "two members"])
def test_nifti2_gz_left_to_nibabel_is_read_as_nifti2(tmp_path, case):
    """The general path once parsed every .nii.gz as NIfTI-1 and refused NIfTI-2 files the fast path declines."""
    data = np.zeros((4, 5, 6), np.int16)
    data[1:3, 2:4, 3:5] = 2
    img = nib.Nifti2Image(data, make_affine("flipped"))
    if case == "scaled":
        img.header.set_slope_inter(2.0, 1.0)
    raw = img.to_bytes()
    path = tmp_path / "m.nii.gz"
    path.write_bytes(gzip.compress(raw) if case == "scaled" else gzip.compress(raw[:600]) + gzip.compress(raw[600:]))
    mask = load_nifti_mask(path)
    np.testing.assert_array_equal(mask.data, np.asanyarray(nib.load(str(path)).dataobj).transpose(2, 1, 0))
    assert np.allclose(nifti.ras_affine_from_space(mask.space), nib.load(str(path)).affine)


# ------------------------------------------------------------------------------------------
# the folder path's one-pass bbox and crops


def _random_masks(rng):
    for _ in range(300):
        shape = tuple(int(rng.integers(1, 12)) for _ in range(3))
        dtype = [bool, np.uint8, np.uint16, np.uint32][int(rng.integers(4))]
        a = np.zeros(shape, dtype)
        kind = rng.integers(5)
        if kind == 0:  # one voxel anywhere, often on a face or a corner
            a[tuple(int(rng.choice([0, s - 1, int(rng.integers(s))])) for s in shape)] = 1
        elif kind == 1:  # the whole volume
            a[...] = 1
        elif kind == 2:  # a box touching some faces
            lo = [int(rng.choice([0, int(rng.integers(s))])) for s in shape]
            hi = [int(rng.choice([s, int(rng.integers(l, s)) + 1])) for l, s in zip(lo, shape)]
            a[tuple(slice(l, h) for l, h in zip(lo, hi))] = 1
        elif kind == 3:  # scattered voxels, values > 1
            n = int(rng.integers(1, 6))
            a[tuple(rng.integers(0, s, n) for s in shape)] = 1 if dtype is bool else int(rng.integers(1, 200))
        yield a  # kind 4: empty


def test_one_pass_bbox_equals_compute_bbox_on_random_masks():
    from medmask.core.geometry import _bbox_by_projections

    rng = np.random.default_rng(2026)
    for a in _random_masks(rng):
        assert compute_bbox(a) == _bbox_by_projections(a), (a.shape, a.dtype)


def test_folder_entries_hold_exactly_the_file_on_random_masks(tmp_path):
    """Through files: each entry's bbox is compute_bbox of nibabel's voxels and its crop equals them."""
    rng = np.random.default_rng(11)
    for n, a in enumerate(_random_masks(rng)):
        if n % 6:
            continue
        ijk = a.transpose(2, 1, 0).astype(np.uint8 if a.dtype == bool else a.dtype)
        path = tmp_path / f"m{n}.nii{'.gz' if n % 12 else ''}"
        nib.save(nib.Nifti1Image(ijk, make_affine("oblique")), str(path))
        ref = np.asanyarray(nib.load(str(path)).dataobj).transpose(2, 1, 0)
        space, _ = _header_space(path)
        mask = binary_file_mask(path, space)[1]
        assert mask.bbox == compute_bbox(ref)
        if ref.max() <= 1:
            np.testing.assert_array_equal(np.asarray(mask.data).astype(bool), ref.astype(bool))
        else:
            np.testing.assert_array_equal(np.asarray(mask.data), ref)


def _with_dims(path, klass, dims, *, slope=None, gz=True):
    img = klass(np.ones((4, 5, 6), np.uint8), make_affine("oblique"))
    if slope is not None:
        img.header.set_slope_inter(slope, 0.0)
    raw = img.to_bytes()
    hdr = type(img.header).from_fileobj(io.BytesIO(raw))
    dim = hdr["dim"].copy()
    dim[1:4] = dims
    hdr["dim"] = dim
    raw = hdr.binaryblock + raw[len(hdr.binaryblock):]
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


@pytest.mark.parametrize("dims", [(4, 5, -6), (-4, -5, 6), (0, 5, 6), (4, 5, 0)])
@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("path_kind", ["fast", "general"])
def test_a_dimension_below_one_is_one_clear_error(tmp_path, monkeypatch, dims, gz, path_kind):
    """A negative dim once read as a valid volume on the fast path (numpy's reshape took it as 'unknown');
    zero dims raised spacetransformer's ValidationError, not a MedMaskError."""
    path = _with_dims(tmp_path / f"m.nii{'.gz' if gz else ''}", nib.Nifti1Image, dims, gz=gz)
    if path_kind == "general":
        _general(monkeypatch)
    for fn in (load_nifti_mask, _folder_entry):
        with pytest.raises(MedMaskError, match=r"m\.nii.*dimension below 1"):
            fn(path)


@pytest.mark.parametrize("klass, dims, slope", [(nib.Nifti1Image, (2000, 2000, 500), None),
                                                (nib.Nifti1Image, (2000, 2000, 500), 2.0),
                                                (nib.Nifti2Image, (2 ** 22, 2 ** 22, 2 ** 22), None)])
def test_a_header_claiming_huge_dims_allocates_nothing(tmp_path, klass, dims, slope):
    """A 120-byte volume whose header claims 2 GB once made nibabel allocate the 2 GB before failing;
    NIfTI-2 dims whose product overflows int64 once gave a bare numpy ValueError."""
    import tracemalloc

    path = _with_dims(tmp_path / "m.nii.gz", klass, dims, slope=slope)
    tracemalloc.start()
    try:
        with pytest.raises(MedMaskError, match=r"m\.nii\.gz.*(truncated|more than the limit)"):
            load_nifti_mask(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6


@pytest.mark.parametrize("damage", ["trailer size", "crc", "junk after"])
def test_damaged_gzip_is_worded_as_such(tmp_path, damage):
    raw = bytearray(gzip.compress(nib.Nifti1Image(np.ones((4, 5, 6), np.uint8), make_affine("plain")).to_bytes()))
    if damage == "trailer size":
        raw[-4] ^= 1
    elif damage == "crc":
        raw[-8] ^= 1
    else:
        raw += b"not gzip"
    path = tmp_path / "m.nii.gz"
    path.write_bytes(bytes(raw))
    with pytest.raises(MedMaskError, match=r"m\.nii\.gz: not a readable NIfTI file \(damaged gzip data: "):
        load_nifti_mask(path)
