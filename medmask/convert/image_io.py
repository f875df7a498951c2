"""Read scan volumes (NIfTI, NRRD) in medmask's array order and geometry, holding one copy.

A mask is reviewed over the image it segments, so the image must land on exactly the
grid the masks describe: the geometry comes from the same mappings the mask converters
use (:mod:`medmask.convert._geometry`), and the array is in medmask's axis order
(``array.shape == space.shape``; for NIfTI that is nibabel's array transposed (2, 1, 0)).

Memory: gzip and bzip2 data are inflated straight into the one array returned (a
512x512x1000 int16 CT costs its 500 MB once, plus a few MB of buffers, not once for the
inflated bytes and again for the array); uncompressed files are memory-mapped. Only NIfTI
files with a non-integer ``scl_slope``/``scl_inter`` pay for a float32 copy, and NRRD files
in rare encodings (ascii, ``byte skip -1``, multi-file) go through pynrrd, which may hold
the data twice while reading. ``benchmarks/bench_image_io.py`` measures it against nibabel
and pynrrd.

    >>> array, space = read_image("case/ct.nii.gz")
    >>> space = read_image_header("case/ct.nii.gz")     # header only: milliseconds
"""
from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import numpy as np
from spacetransformer import Space

from .. import limits
from ..errors import ConversionError, MedMaskError
from ..optional import require
from ._file_errors import check_regular_file, check_scan_folder, open_regular, unopenable
from ._geometry import space_from_nrrd_geometry, space_from_ras_affine

NIFTI_SUFFIXES = (".nii", ".nii.gz")
NRRD_SUFFIXES = (".nrrd", ".nhdr")
SEGMENTATION_SUFFIXES = (".seg.nrrd", ".seg.nhdr")
_IN_CHUNK = 1 << 20    # compressed bytes read per step
_OUT_CHUNK = 1 << 20   # inflated bytes per step: bounds the transient buffer, not the array
MAX_NRRD_HEADER = 16 << 20  # a NRRD header (text up to its blank line) longer than this is refused


def image_format(path: str | os.PathLike) -> str:
    """'nifti', 'nrrd' or 'dicom' (a series folder, or a DICOM file of one); ConversionError for anything else."""
    from .dicom_series import is_dicom_file

    name = Path(path).name.lower()
    if Path(path).is_dir():
        check_scan_folder(path)  # not /proc: a series folder is scanned file by file
        return "dicom"
    if os.path.lexists(path):  # a FIFO, device or /proc file is refused before anything opens it
        check_regular_file(path, "an image file")
    if name.endswith(".dcm") or (Path(path).is_file() and is_dicom_file(path)):
        return "dicom"
    if name.endswith(SEGMENTATION_SUFFIXES):
        raise ConversionError("is a 3D Slicer segmentation (.seg.nrrd), not a scan; open it as masks "
                              "(medmask.convert.read_seg_nrrd or `medmask convert`)", path)
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(NRRD_SUFFIXES):
        return "nrrd"
    raise ConversionError(f"unknown image type {Path(path).suffix!r}: medmask reads scans from "
                          f"{', '.join(NIFTI_SUFFIXES + NRRD_SUFFIXES)}", path)


def is_image_path(path: str | os.PathLike) -> bool:
    """True for names :func:`read_image` accepts (``.seg.nrrd`` is a segmentation: False)."""
    try:
        image_format(path)
        return True
    except ConversionError:
        return False


def read_image_header(path: str | os.PathLike) -> Space:
    """The Space of a scan, reading only its header."""
    path = Path(path)
    kind = image_format(path)
    if kind == "dicom":
        from .dicom_series import read_dicom_series_header

        return read_dicom_series_header(path).space
    if kind == "nifti":
        img, shape = _nifti_header(path)
        return space_from_ras_affine(img.affine, shape, path=path)
    return _nrrd_header(path)[1]


def read_image(path: str | os.PathLike, *, mmap: bool = True) -> tuple[np.ndarray, Space]:
    """(voxels in medmask axis order, Space) of a 3D NIfTI or NRRD scan.

    Voxel values are as stored (HU for a CT), with NIfTI's ``scl_slope``/``scl_inter``
    applied: in place when the result stays whole numbers of the stored type, else as
    float32. Big-endian data is swapped in place to native order. Uncompressed files
    (``.nii``, raw ``.nrrd``/``.nhdr``) whose bytes are the array as is come back as a
    read-only ``numpy.memmap`` (no copy in memory at all) unless ``mmap=False``.
    """
    path = Path(path)
    kind = image_format(path)
    if kind == "dicom":  # a CT/MR series folder or one of its files: medmask.convert.dicom_series
        from .dicom_series import read_dicom_series

        return read_dicom_series(path)
    if kind == "nifti":
        return _read_nifti(path, mmap)
    return _read_nrrd(path, mmap)


# ---------------------------------------------------------------------------------------------
# NIfTI

def _nifti_header(path: Path):
    nib = require("nibabel")

    try:
        img = nib.load(str(path))  # lazy: reads (and for .gz inflates) only the header here
    except Exception as exc:  # nibabel raises many kinds for a damaged header
        detail = str(exc).replace(str(path), "the file")
        raise unopenable(exc, path, "a NIfTI file") or ConversionError(f"not a readable NIfTI file ({detail})",
                                                                       path) from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ConversionError(f"not a NIfTI image ({type(img).__name__})", path)
    shape = tuple(int(v) for v in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise ConversionError(f"expected a 3D image, got shape {tuple(img.shape)} "
                              f"(4D series and 2D slices are not scans medmask can overlay)", path)
    dtype = img.get_data_dtype()
    if dtype.names is not None or dtype.kind not in "biuf":
        raise ConversionError(f"voxel type {dtype} is not a scalar image (RGB or complex data)", path)
    return img, shape


def _read_nifti(path: Path, mmap: bool = True) -> tuple[np.ndarray, Space]:
    img, shape = _nifti_header(path)
    space = space_from_ras_affine(img.affine, shape, path=path)
    proxy = img.dataobj
    dtype = img.get_data_dtype()
    slope, inter = float(proxy.slope), float(proxy.inter)
    # nibabel's array is (i, j, k) in Fortran order: its bytes are medmask's (k, j, i) in C order
    if mmap and not str(path).lower().endswith(".gz") and dtype.isnative and slope == 1.0 and inter == 0.0:
        return _map(path, int(proxy.offset), tuple(reversed(shape)), dtype), space
    out = _empty(tuple(reversed(shape)), dtype, path)
    with _open(path) as fh:
        if str(path).lower().endswith(".gz"):
            _inflate_into(fh, _bytes_of(out), int(proxy.offset), path)
        else:
            fh.seek(int(proxy.offset))
            _read_into(fh, _bytes_of(out), path)
    out = _native(out)
    if slope != 1.0 or inter != 0.0:
        out = _apply_scaling(out, slope, inter, path)
    return out, space


def _apply_scaling(raw: np.ndarray, slope: float, inter: float, path: Path) -> np.ndarray:
    """``raw * slope + inter``, in place when the result is whole numbers that ``raw``'s type holds."""
    if raw.dtype.kind in "iu" and slope.is_integer() and inter.is_integer() and raw.size:
        lo, hi = int(raw.min()), int(raw.max())
        ends = (lo * int(slope) + int(inter), hi * int(slope) + int(inter))
        info = np.iinfo(raw.dtype)
        if info.min <= min(ends) and max(ends) <= info.max:
            if slope != 1.0:
                np.multiply(raw, raw.dtype.type(int(slope)), out=raw, casting="unsafe")
            np.add(raw, int(inter), out=raw, casting="unsafe")
            return raw
    out = raw.astype(np.float32)  # the one case that holds two copies for a moment
    out *= np.float32(slope)
    out += np.float32(inter)
    return out


# ---------------------------------------------------------------------------------------------
# NRRD

def read_nrrd_header(path: str | os.PathLike) -> tuple[dict, int]:
    """(pynrrd header, offset of attached data) of a NRRD file, reading at most ``MAX_NRRD_HEADER``
    bytes: a file without the blank line that ends a header (a multi-GB file of zeros) is refused
    after reading that much, not read line by line to its end."""
    nrrd = require("nrrd")
    path = Path(path)
    head = bytearray()
    with _open(path) as fh:
        while True:
            chunk = fh.read(1 << 16)
            if not chunk:
                break
            seen = max(len(head) - 3, 0)
            head += chunk
            ends = [i + len(sep) for sep in (b"\n\n", b"\r\n\r\n") if (i := head.find(sep, seen)) >= 0]
            if ends:
                del head[min(ends):]
                break
            if len(head) > MAX_NRRD_HEADER:
                raise ConversionError(f"no end of a NRRD header (a blank line) in its first {MAX_NRRD_HEADER} "
                                      f"bytes: not a NRRD file", path)
    try:
        buf = io.BytesIO(bytes(head))
        header = nrrd.read_header(buf)
        return header, buf.tell()
    except MedMaskError:
        raise
    except Exception as exc:  # pynrrd raises NRRDError, ValueError, UnicodeDecodeError...
        raise ConversionError(f"not a readable NRRD file ({str(exc)[:200]})", path) from None


def _nrrd_header(path: Path):
    header, data_start = read_nrrd_header(path)
    if int(header.get("dimension", 0)) != 3:
        raise ConversionError(f"expected a 3D image, NRRD dimension is {header.get('dimension')} "
                              f"(sizes {list(header.get('sizes', []))})", path)
    directions = header.get("space directions")
    if directions is None or np.asarray(directions, dtype=float).shape != (3, 3) \
            or not np.all(np.isfinite(np.asarray(directions, dtype=float))):
        raise ConversionError("NRRD has no 3D 'space directions' (or one axis is 'none'): "
                              "where the image lies in the patient is unknown", path)
    space_name = header.get("space")
    if space_name is None:
        raise ConversionError("NRRD has no 'space' field (LPS or RAS): the patient frame is unknown", path)
    origin = header.get("space origin", np.zeros(3))
    space = space_from_nrrd_geometry(directions, origin, [int(v) for v in header["sizes"]],
                                     space_name=str(space_name), path=path)
    return header, space, data_start


def _read_nrrd(path: Path, mmap: bool = True) -> tuple[np.ndarray, Space]:
    header, space, data_start = _nrrd_header(path)
    return read_nrrd_array(path, header, data_start, tuple(space.shape), mmap), space


def _data_file(path: Path, data_file: str) -> Path:
    """A detached data file (``data file:``) inside the header's folder, or a ConversionError naming both."""
    if data_file.startswith("LIST") or "%" in data_file or " " in data_file.strip():
        raise ConversionError(f"multi-file NRRD data ({data_file!r:.80}) is not read: write the volume into one "
                              f"file", path)
    source = path.parent / data_file.strip()
    folder = os.path.realpath(path.parent)
    real = os.path.realpath(source)
    if os.path.commonpath([folder, real]) != folder:
        raise ConversionError(f"its detached data file {data_file.strip()!r} resolves to {real}, outside the "
                              f"header's folder {folder}: refused (copy the data beside the header)", path)
    return source


def read_nrrd_array(path: str | os.PathLike, header: dict, data_start: int, shape: tuple[int, ...],
                    mmap: bool = True) -> np.ndarray:
    """The voxels of a NRRD (C order, ``shape`` = its sizes reversed), reading and inflating no more than
    its header declares (+ up to 1 MiB to reach a gzip trailer); a detached data file must lie in the
    header's folder."""
    nrrd = require("nrrd")
    path = Path(path)
    try:
        from nrrd.reader import _determine_datatype
        dtype = _determine_datatype(header)
    except Exception as exc:
        raise ConversionError(f"NRRD voxel type not understood ({exc})", path) from None
    if dtype.kind not in "biuf":
        raise ConversionError(f"NRRD voxel type {dtype} is not a scalar image", path)
    encoding = str(header.get("encoding", "")).lower()
    byte_skip = int(header.get("byte skip", header.get("byteskip", 0)))
    line_skip = int(header.get("line skip", header.get("lineskip", 0)))
    data_file = header.get("data file", header.get("datafile"))
    source = path if data_file is None else _data_file(path, str(data_file))
    size = check_regular_file(source, "NRRD voxel data").st_size
    simple = encoding in ("raw", "gzip", "gz", "bzip2", "bz2") and byte_skip >= 0 and line_skip == 0
    if not simple:  # rare encodings: pynrrd reads them (may hold the data twice meanwhile)
        n = int(np.prod(shape, dtype=np.int64))
        if encoding not in ("ascii", "text", "txt", "raw") or n > limits.MAX_VOXELS \
                or size > 64 * n * dtype.itemsize + (1 << 20):
            raise ConversionError(f"NRRD data ({encoding}, line skip {line_skip}, byte skip {byte_skip}, "
                                  f"{size} bytes for {n} voxels) is not read: not a layout a scan or segmentation "
                                  f"is written in, or far more bytes than its sizes declare", path)
        try:
            data = nrrd.read(str(path), index_order="C")[0]
        except Exception as exc:
            raise ConversionError(f"cannot read the NRRD voxel data ({exc})", path) from None
        if data.shape != shape:
            raise ConversionError(f"NRRD data shape {data.shape} does not match its sizes {shape}", path)
        return _native(np.ascontiguousarray(data))
    start = (data_start if data_file is None else 0) + (byte_skip if encoding == "raw" else 0)
    if mmap and encoding == "raw" and dtype.isnative:
        return _map(source, start, shape, dtype)
    out = _empty(shape, dtype, path)
    with _open(source) as fh:
        fh.seek(start)
        if encoding == "raw":
            _read_into(fh, _bytes_of(out), source)
        elif encoding in ("bzip2", "bz2"):
            _bunzip_into(fh, _bytes_of(out), byte_skip, source)
        else:
            _inflate_into(fh, _bytes_of(out), byte_skip, source)
    return _native(out)


# ---------------------------------------------------------------------------------------------
# bytes into one array

def _empty(shape: tuple[int, ...], dtype: np.dtype, path: Path) -> np.ndarray:


    n = int(np.prod(shape, dtype=np.int64))
    if n > limits.MAX_VOXELS:
        raise ConversionError(f"image of shape {shape} has {n} voxels, more than the limit {limits.MAX_VOXELS}",
                              path)
    try:
        return np.empty(shape, dtype=dtype)
    except MemoryError:
        raise ConversionError(f"not enough memory for a {shape} {dtype} image", path) from None


def _bytes_of(arr: np.ndarray) -> memoryview:
    return memoryview(arr.reshape(-1).view(np.uint8))


def _native(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != ("<" if np.little_endian else ">"):
        arr.byteswap(inplace=True)
        arr = arr.view(arr.dtype.newbyteorder("="))
    return arr


def _open(path: Path):
    return open_regular(path, "an image file")


def _map(path: Path, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """The voxels as a read-only memory map of the file (checked to be long enough)."""


    n = int(np.prod(shape, dtype=np.int64))
    if n > limits.MAX_VOXELS:
        raise ConversionError(f"image of shape {shape} has {n} voxels, more than the limit {limits.MAX_VOXELS}",
                              path)
    with _open(path) as fh:
        size = os.fstat(fh.fileno()).st_size
    if offset + n * dtype.itemsize > size:
        raise ConversionError(f"file ends after {max(size - offset, 0)} of {n * dtype.itemsize} voxel bytes "
                              f"(truncated)", path)
    if n == 0:
        return np.empty(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="C")


def _place(piece: bytes, out: memoryview, pos: int, skip: int) -> tuple[int, int]:
    """Copy a decompressed ``piece`` into ``out`` at ``pos``, first dropping what is left of the
    ``skip`` bytes before the voxels; returns the new (pos, skip)."""
    view = memoryview(piece)
    if skip:
        k = min(skip, len(view))
        view, skip = view[k:], skip - k
    out[pos:pos + len(view)] = view
    return pos + len(view), skip


def _bunzip_into(fh, out: memoryview, skip: int, path: Path) -> None:
    """Like :func:`_inflate_into` for bzip2 (each bzip2 block carries its own checksum)."""
    import bz2

    need, pos = len(out), 0
    d = bz2.BZ2Decompressor()
    feed = b""
    try:
        while pos < need:
            data = b""
            if d.needs_input:
                data, feed = (feed or fh.read(_IN_CHUNK)), b""
                if not data:
                    raise ConversionError(f"compressed data ends after {pos} of {need} voxel bytes (truncated)", path)
            piece = d.decompress(data, min(_OUT_CHUNK, need - pos + skip))
            if d.eof:  # next stream (pbzip2 writes several)
                feed = d.unused_data
                d = bz2.BZ2Decompressor()
            pos, skip = _place(piece, out, pos, skip)
    except (OSError, EOFError, ValueError) as exc:
        raise ConversionError(f"compressed voxel data is damaged ({exc})", path) from None


def _read_into(fh, out: memoryview, path: Path) -> None:
    got = 0
    while got < len(out):
        n = fh.readinto(out[got:])
        if not n:
            raise ConversionError(f"file ends after {got} of {len(out)} voxel bytes (truncated)", path)
        got += n


def _inflate_into(fh, out: memoryview, skip: int, path: Path) -> None:
    """Inflate the gzip stream at ``fh`` into ``out``, dropping its first ``skip`` bytes.

    Multi-member streams (pigz, bgzip) are followed; the member holding the last voxel is
    read to its end so a damaged file fails its gzip checksum here, not silently.
    """
    need, pos = len(out), 0
    d = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
    at_member_start = True
    feed = b""
    try:
        while pos < need:
            if not feed:
                feed = fh.read(_IN_CHUNK)
                if not feed:
                    raise ConversionError(f"compressed data ends after {pos} of {need} voxel bytes (truncated)", path)
            piece = d.decompress(feed, min(_OUT_CHUNK, need - pos + skip))
            if d.eof:  # next member; unconsumed_tail may repeat unused_data here, so take the latter
                feed = d.unused_data
                d = zlib.decompressobj(zlib.MAX_WBITS | 32)
                at_member_start = True
            else:
                feed = d.unconsumed_tail
                at_member_start = False
            pos, skip = _place(piece, out, pos, skip)
        extra = 0  # bytes past the voxels (ignored), bounded so a bomb cannot run on
        while not at_member_start and not d.eof and extra < _OUT_CHUNK:
            if not feed:
                feed = fh.read(_IN_CHUNK)
                if not feed:
                    raise ConversionError("compressed data ends before its gzip trailer (truncated)", path)
            extra += len(d.decompress(feed, _IN_CHUNK))
            feed = d.unconsumed_tail if not d.eof else b""
    except zlib.error as exc:
        raise ConversionError(f"compressed voxel data is damaged ({exc})", path) from None


__all__ = ["read_image", "read_image_header", "image_format", "is_image_path", "NIFTI_SUFFIXES", "NRRD_SUFFIXES"]
