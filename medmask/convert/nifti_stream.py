"""One mask of a folder read as its slab: a ``.nii.gz`` inflated a few slices at a time, only the organ's slices kept.

Why: a TotalSegmentator mask at 0.5 mm is a 273 MB volume holding one organ. Inflating it
whole into a fresh buffer makes the kernel zero and map 273 MB per file, 117 times per
case: most of ``medmask convert``'s time was page faults. Inflated ~1 MB at a time into
buffers the allocator reuses, the volume never exists: zero steps are looked at (one
vectorised byte max) and dropped; a step that holds the organ is cut to its own box at once,
so no inflated buffer is kept. zlib-ng (``pip install 'medmask[fast]'``) inflates these
streams ~5x faster than libdeflate inflates the whole file, mostly because nothing is
faulted in; the files of one case are read on several cores (:mod:`.file_pool`).

Everything here answers ``None`` for what it does not handle (an uncompressed file,
scaled or float data, several gzip members, data beyond what the header declares, a
damaged or short stream, no zlib-ng); the caller then takes the general path, which
also words the error. The gzip CRC and length are checked: the stream is read to its end.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..core.geometry import row_max
from .nifti_read import _HEAD_BYTES, GZIP_ERRORS, _parse_header, header_from_bytes

try:
    from zlib_ng import zlib_ng as _zng
except ImportError:  # pragma: no cover - depends on the installation
    _zng = None

CHUNK_BYTES = 1 << 20  # inflated per step: stays in cache, and the allocator reuses it (no page faults)
_TRAILING_LIMIT = 1 << 20  # bytes after the voxels we read through to reach the CRC; more: general path
_LABEL_KINDS = "biu"  # integer and bool data; floats need the general path's whole-number checks


class _Stream:
    """A gzip member inflated on demand, in pieces of at most ``n`` bytes."""

    def __init__(self, raw: bytes):
        self._d = _zng.decompressobj(31)  # type: ignore[union-attr]
        self._pending = raw

    def read(self, n: int) -> bytes | None:
        """Exactly ``n`` bytes, or None when the stream ends first."""
        out = self._d.decompress(self._pending, n)
        self._pending = self._d.unconsumed_tail
        if len(out) == n:
            return out
        parts = [out]
        got = len(out)
        while got < n and not self._d.eof and self._pending:
            more = self._d.decompress(self._pending, n - got)
            self._pending = self._d.unconsumed_tail
            parts.append(more)
            got += len(more)
        return b"".join(parts) if got == n else None

    def ends_cleanly(self) -> bool:
        """The member ends within a little more data (its CRC and length then checked by zlib-ng), and no other follows."""
        left = _TRAILING_LIMIT
        while not self._d.eof and left > 0:
            left -= len(self._d.decompress(self._pending, min(left, CHUNK_BYTES)) or b"")
            self._pending = self._d.unconsumed_tail
            if not self._pending and not self._d.eof:
                return False
        return self._d.eof and not self._d.unused_data.strip(b"\x00")


def read_label_crop(path: str | os.PathLike) -> tuple[Any, Any, np.ndarray | None] | None:
    """(nibabel header, bbox, crop) of a ``.nii.gz`` label mask, or None (see the module docstring).

    ``bbox`` is the half-open box of the non-zero voxels in medmask axis order (k, j, i) and
    ``crop`` its voxels, C order, in the file's dtype (native byte order); both None for an
    empty mask. Only ~1 MB of inflated voxels plus the steps holding the organ are ever held.
    """
    if _zng is None or not str(path).lower().endswith(".gz"):
        return None
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        return _crop(raw)
    except (OSError, MemoryError, ValueError, *GZIP_ERRORS):
        return None


def _crop(raw: bytes) -> tuple[Any, Any, np.ndarray | None] | None:
    stream = _Stream(raw)
    head = stream.read(_HEAD_BYTES)
    if head is None:
        return None
    hdr, _ = _parse_header(head)
    if hdr is None:
        return None
    offset = int(hdr["vox_offset"])
    if offset < int(hdr["sizeof_hdr"]) + 4:
        return None
    if offset > len(head):  # extensions (a label table) or padding before the voxels
        rest = stream.read(offset - len(head))
        if rest is None:
            return None
        head += rest
    hdr = header_from_bytes(head)  # with its extensions, as the general path reads it
    if hdr is None:
        return None
    shape = tuple(int(v) for v in hdr.get_data_shape())
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    dtype = hdr.get_data_dtype()
    slope, inter = hdr.get_slope_inter()
    if (len(shape) != 3 or min(shape) < 1 or dtype.kind not in _LABEL_KINDS or dtype.hasobject
            or slope not in (None, 1.0) or inter not in (None, 0.0)):
        return None
    leftover = head[offset:]  # voxels inflated with the header
    ni, nj, nk = shape
    slice_bytes = ni * nj * dtype.itemsize
    per_step = max(1, CHUNK_BYTES // slice_bytes)
    unsigned = _unsigned(dtype)
    # every step holding a non-zero voxel, cut to its own box at once: (z of its first non-zero slice,
    # y0, x0, voxels). The inflated buffer is then free for the next step, so the allocator hands
    # the same pages back (keeping whole steps of a large organ faulted in ~40 MB a file).
    pieces: list[tuple[int, int, int, np.ndarray]] = []
    z = 0
    while z < nk:
        n = min(per_step, nk - z)
        want = n * slice_bytes
        if leftover:
            more = stream.read(want - len(leftover)) if want > len(leftover) else b""
            data = None if more is None else leftover[:want] + more
            leftover = leftover[want:]
        else:
            data = stream.read(want)
        if data is None:
            return None
        # most of a mask's slices are zero: a byte max decides (SIMD, ~2x memcmp, and without the GIL)
        if np.frombuffer(data, np.uint8).max():
            block = np.frombuffer(data, dtype=unsigned).reshape(n, nj, ni)
            plane = block.max(axis=0)  # unsigned: non-zero <=> max > 0
            rows, cols = np.flatnonzero(row_max(plane)), np.flatnonzero(plane.max(axis=0))
            zs = np.flatnonzero(row_max(block.reshape(n, -1)))
            b = block[zs[0]:zs[-1] + 1, rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
            pieces.append((z + int(zs[0]), int(rows[0]), int(cols[0]), b.copy()))
        z += n
    if leftover or not stream.ends_cleanly():
        return None
    if not pieces:
        return hdr, None, None
    z0, z1 = pieces[0][0], pieces[-1][0] + len(pieces[-1][3])
    y0, y1 = min(p[1] for p in pieces), max(p[1] + p[3].shape[1] for p in pieces)
    x0, x1 = min(p[2] for p in pieces), max(p[2] + p[3].shape[2] for p in pieces)
    crop = np.zeros((z1 - z0, y1 - y0, x1 - x0), unsigned)  # what no piece covers stays zero
    for pz, py, px, b in pieces:
        crop[pz - z0:pz - z0 + b.shape[0], py - y0:py - y0 + b.shape[1], px - x0:px - x0 + b.shape[2]] = b
    if dtype != unsigned:  # signed or big-endian: the file's values, in this machine's byte order
        crop = crop.view(dtype).astype(dtype.newbyteorder("="), copy=False)
    return hdr, ((z0, z1), (y0, y1), (x0, x1)), crop


def _unsigned(dtype: np.dtype) -> np.dtype:
    """The unsigned type of the same width: a non-zero test must not depend on sign or byte order."""
    return np.dtype(f"u{dtype.itemsize}") if dtype.kind != "b" else np.dtype(np.uint8)
