"""A NIfTI file read in one go: one read, one inflation into a buffer of the right size, nibabel's header parser.

Why: ``medmask convert`` of a TotalSegmentator folder inflates 117 files of 10 M voxels
each. nibabel's loader streams gzip through Python file objects and copies the bytes once
more to view them; zlib, zlib-ng and isal grow their output buffer as they go, which faults
in ~1.2 GB of fresh pages for that folder. libdeflate (``pip install 'medmask[fast]'``)
inflates a gzip member straight into one buffer of the size its trailer states: ~10x
less time for the folder. Headers are parsed by nibabel's own header classes.

Everything here answers ``None`` for what it does not handle (scaled data, a gzip stream
whose trailer does not match, an odd header, a damaged file); the caller then takes
nibabel's general path, which also words the error.
"""
from __future__ import annotations

import io
import math
import os
import zlib
from typing import Any

import numpy as np

from .. import limits
from ..optional import LazyModule
from ._file_errors import open_regular

nib = LazyModule("nibabel")

try:  # extra "fast": libdeflate; inflates TotalSegmentator's masks ~10x faster than zlib (no GIL release)
    import deflate as _libdeflate
except ImportError:  # pragma: no cover - depends on the installation
    _libdeflate = None

try:  # zlib-ng, when installed, for streams libdeflate does not take (several members); same results as zlib
    from zlib_ng import zlib_ng as _inflater
except ImportError:  # pragma: no cover - depends on the installation
    _inflater = zlib

# what a damaged gzip stream raises here (zlib-ng has its own error class)
GZIP_ERRORS = (zlib.error, getattr(_inflater, "error", zlib.error))

# deflate cannot expand data more than ~1032:1; a trailer claiming more is lying
_MAX_DEFLATE_RATIO = 1032
# bytes that hold a NIfTI-1 (348) or NIfTI-2 (540) header plus the 4-byte extension flag
_HEAD_BYTES = 544
_MAGICS = {348: b"n+1\x00", 540: b"n+2\x00"}  # single-file NIfTI only (pairs go nibabel's way)


def inflater_name() -> str:
    """Which library inflates gzip here (for benchmarks and bug reports)."""
    return "libdeflate" if _libdeflate is not None else _inflater.__name__


_STEP = 64 << 20  # inflated bytes per call when a limit applies


class InflateLimit(ValueError):
    """A gzip stream inflates to more than its NIfTI header declares (a decompression bomb)."""


def gunzip(raw: bytes, limit: int | None = None) -> bytes:
    """All members of a gzip stream, in one call (much faster than streaming through gzip.GzipFile).

    ``limit``: inflate no more than this many bytes; a stream holding more raises InflateLimit
    (the caller knows from the header how many bytes a genuine file holds).
    """
    parts = []
    total = 0
    while raw:
        d = _inflater.decompressobj(31)
        if limit is None:
            parts.append(d.decompress(raw))
            parts.append(d.flush())
        else:  # in steps: an inflater may reserve max_length bytes at once
            tail = raw
            while not d.eof:
                piece = d.decompress(tail, min(limit - total + 1, _STEP))
                total += len(piece)
                parts.append(piece)
                if total > limit:
                    raise InflateLimit(f"its gzip data inflates to more than the {limit} bytes its header "
                                       f"declares (header, voxels and 1 MiB): refused (decompression bomb?)")
                tail = d.unconsumed_tail
                if not piece and not tail:
                    break
        if not d.eof:
            raise zlib.error("truncated gzip stream")
        raw = d.unused_data.lstrip(b"\x00")
    parts = [p for p in parts if p]
    return parts[0] if len(parts) == 1 else b"".join(parts)


def gunzip_first_member(raw: bytes, limit: int | None = None) -> bytes | bytearray | None:
    """The first member of a gzip stream, inflated into one buffer of the size the stream's trailer states.

    None when the trailer's size is implausible (0, beyond deflate's ratio or the memory
    budget) or the member does not inflate to exactly that size (a damaged stream, or
    several members): use :func:`gunzip` then. With several members the answer may be the
    first member only, so a caller checks it holds all it needs.
    """
    if len(raw) < 18 or raw[:2] != b"\x1f\x8b":
        return None
    isize = int.from_bytes(raw[-4:], "little")
    if not 0 < isize <= _MAX_DEFLATE_RATIO * len(raw) or isize > limits.MEMORY_BUDGET \
            or (limit is not None and isize > limit):
        return None
    try:
        if _libdeflate is not None:
            out = _libdeflate.gzip_decompress(raw)  # checks the member's CRC and size
        else:  # one exact allocation; zlib ignores what follows the first member
            out = zlib.decompress(raw, 31, isize)
    except (MemoryError, ValueError, zlib.error, getattr(_libdeflate, "DeflateError", zlib.error)):
        return None
    return out if len(out) == isize else None


def image_class(head: bytes):
    """nibabel's image class for a single-file NIfTI starting with ``head``: Nifti2Image when its
    sizeof_hdr (either byte order) is 540, else Nifti1Image (which then words what is wrong)."""
    if any(int.from_bytes(head[:4], order) == 540 for order in ("little", "big")):
        return nib.Nifti2Image
    return nib.Nifti1Image


def _header_class(head: bytes):
    """nibabel's header class for a single-file NIfTI starting with ``head``, or None."""
    for order in ("little", "big"):
        size = int.from_bytes(head[:4], order)
        if size in _MAGICS:
            magic_at = 344 if size == 348 else 4
            if head[magic_at:magic_at + 4] != _MAGICS[size]:
                return None
            return nib.Nifti1Header if size == 348 else nib.Nifti2Header
    return None


def _parse_header(head: bytes):
    klass = _header_class(head)
    if klass is None:
        return None, 0
    n = klass.template_dtype.itemsize
    if len(head) < n + 4:  # the extension flag is not there (a gzip member ends early): nibabel's way decides
        return None, 0
    hdr = klass(bytes(head[:n]), check=True)
    if head[n:n + 1] != b"\x00":  # extensions follow, up to the voxel data
        return hdr, int(hdr["vox_offset"])
    return hdr, 0


def header_from_bytes(buf) -> Any:
    """nibabel's header (extensions included) of a single-file NIfTI whose bytes begin ``buf``, or None."""
    try:
        hdr, ext_end = _parse_header(buf[:_HEAD_BYTES])
        if hdr is not None and ext_end:
            if ext_end > len(buf):
                return None
            hdr = type(hdr).from_fileobj(io.BytesIO(bytes(buf[:ext_end])), check=True)
        return hdr
    except Exception:  # nibabel raises many kinds for a bad header; its general path words them
        return None


def _gz_prefix(fh, n: int) -> bytes:
    """The first ``n`` inflated bytes (fewer if the stream ends) of the gzip file ``fh``.

    The deflate body is inflated raw, without the gzip trailer's check: a damaged trailer of a
    tiny file must not hide its header, which decides the inflation limit of the full read
    (that read then reports the damage)."""
    pending = fh.read(1 << 16)
    body = _gzip_body_start(pending)
    if body is None:
        return b""
    d = zlib.decompressobj(-15)
    out = bytearray()
    pending = pending[body:]
    try:
        while len(out) < n and not d.eof:
            if not pending:
                pending = fh.read(1 << 16)
                if not pending:
                    break
            out += d.decompress(pending, n - len(out))
            pending = d.unconsumed_tail
    except zlib.error:
        pass
    return bytes(out)


def _gzip_body_start(raw: bytes) -> int | None:
    """Where the deflate data of the gzip member at the start of ``raw`` begins (RFC 1952), or None."""
    if len(raw) < 10 or raw[:3] != b"\x1f\x8b\x08":
        return None
    flags, pos = raw[3], 10
    if flags & 4:  # FEXTRA
        if len(raw) < pos + 2:
            return None
        pos += 2 + int.from_bytes(raw[pos:pos + 2], "little")
    for bit in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            end = raw.find(b"\x00", pos)
            if end < 0:
                return None
            pos = end + 1
    if flags & 2:  # FHCRC
        pos += 2
    return pos if pos <= len(raw) else None


def read_header(path: str | os.PathLike) -> Any:
    """nibabel's header of a ``.nii``/``.nii.gz`` file, reading and inflating only the header's bytes; or None."""
    gz = str(path).lower().endswith(".gz")
    try:
        with open_regular(path, "a NIfTI file") as fh:
            head = _gz_prefix(fh, _HEAD_BYTES) if gz else fh.read(_HEAD_BYTES)
            hdr, ext_end = _parse_header(head)
            if hdr is not None and ext_end:
                fh.seek(0)
                head = _gz_prefix(fh, ext_end) if gz else fh.read(ext_end)
                return header_from_bytes(head)
            return hdr
    except Exception:  # unreadable or damaged: nibabel's general path says what is wrong
        return None


def declared_bytes(hdr) -> int:
    """The bytes a single-file NIfTI with header ``hdr`` holds: header, extensions and voxels
    (what inflating its gzip stream may give, plus ``INFLATE_MARGIN``)."""
    shape = tuple(int(v) for v in hdr.get_data_shape())
    count = math.prod(max(v, 0) for v in shape) if shape else 0
    return int(hdr.get_data_offset()) + count * hdr.get_data_dtype().itemsize + INFLATE_MARGIN


INFLATE_MARGIN = 1 << 20  # bytes past the declared voxels a gzip stream may hold (padding)


def read_bytes(path: str | os.PathLike, limit: int | None = None) -> bytes | bytearray | None:
    """The whole (inflated) content of a ``.nii``/``.nii.gz``; None for a stream libdeflate does not take
    or that claims more than ``limit`` bytes."""
    try:
        raw = read_stored(path, limit)
    except InflateLimit:
        return None  # the general path says what is wrong
    if not str(path).lower().endswith(".gz"):
        return raw
    return gunzip_first_member(raw, limit)


def read_stored(path: str | os.PathLike, limit: int | None = None) -> bytes:
    """The file's bytes; with ``limit`` (what it inflates to at most) no more than a genuine file of that
    size can hold: InflateLimit for a bigger one (e.g. an 8 GB sparse file with a small header)."""
    with open_regular(path, "a NIfTI file") as fh:
        if limit is None:
            return fh.read()
        cap = limit + limit // 64 + (1 << 20)  # deflate's worst expansion is far below 1/64
        size = os.fstat(fh.fileno()).st_size  # (read(cap) would reserve cap bytes at once)
        if size > cap:
            raise InflateLimit(f"the file is {size} bytes, more than the {cap} a file whose header declares "
                               f"{limit} bytes can be: refused (decompression bomb?)")
        return fh.read()


def voxels_from_bytes(buf, hdr) -> np.ndarray | None:
    """A view of the voxels (nibabel i, j, k order) in ``buf``, or None when they need more than a view.

    None for scaled data (slope/intercept), a non-3D image, or a buffer shorter than the
    data (a truncated file, or a gzip stream of several members inflated only in part).
    """
    try:
        shape = tuple(int(v) for v in hdr.get_data_shape())
        slope, inter = hdr.get_slope_inter()
        dtype = hdr.get_data_dtype()
        offset = int(hdr.get_data_offset())
    except Exception:
        return None
    shape3 = shape
    while len(shape3) > 3 and shape3[-1] == 1:
        shape3 = shape3[:-1]
    if len(shape3) != 3 or min(shape3) < 1 or slope not in (None, 1.0) or inter not in (None, 0.0):
        return None
    count = math.prod(shape3)  # exact: NIfTI-2's int64 dims overflow an int64 product
    if dtype.hasobject or offset < 0 or offset + count * dtype.itemsize > len(buf):
        return None
    return np.frombuffer(buf, dtype=dtype, count=count, offset=offset).reshape(shape3, order="F")
