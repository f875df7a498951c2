"""Run boundaries per row, predicted from the rows above, in byte planes, zstd-compressed.

An organ's outline moves little from one row to the next, so where a row changes
value is best told as a small difference from where the row above changed value.
The crop is transposed by ``order`` (stored in the config) and cut into rows along
its last axis, ``W`` voxels long. A *boundary* is a column ``c`` in ``0..W`` where the
value changes from column ``c - 1`` to ``c`` (outside the row counts as 0). The stream
holds, after an 8-byte head:

* per row, its number of boundaries;
* the boundary columns *slot by slot*: the first boundary of every row that has one,
  then the second boundary of every row that has two, and so on; each as the
  difference from the previous number of its slot (the same boundary of the nearest
  row above), so an outline that drifts by a voxel costs a byte of -1, 0 or 1;
* the value of each segment that starts at a boundary, except the row's last one
  (0 follows it), row by row. Single-valued crops (every bool crop, every organ of a
  TotalSegmentator folder) store no values: segments alternate ``value`` and 0.

Each number stream is stored as fixed-width little-endian byte planes (all low bytes,
then all next bytes...; boundary differences as two's complement), which zstd
compresses about as well as varints while numpy decodes them without per-byte Python
work: one cumulative sum per slot, one scatter into row order and one ``np.repeat``
that writes the crop.

Head: ``u8 version = 1, u8 count width, u8 boundary width, u8 value width (0 = single
value), u32 value`` (single-value mode, else 0).
"""
from __future__ import annotations

import struct

import numpy as np
import zstandard

from .. import limits
from ..errors import CodecError
from .base import AXIS_ORDERS, MAX_ZSTD_RATIO, AxisOrderCodec, zstd_compress, zstd_decompress_exact

ORDERS = AXIS_ORDERS
# orders keeping the crop's last axis innermost: rows stay contiguous in memory, so placing
# the crop into a volume is a plain row copy (the writer's default choice among orders)
ROW_ORDERS = [[0, 1, 2], [1, 0, 2]]
_HEAD = struct.Struct("<BBBBI")
_VALUE_MAX = {np.dtype(bool).str: 1, np.dtype(np.uint8).str: 0xFF, np.dtype("<u2").str: 0xFFFF,
              np.dtype("<u4").str: 0xFFFFFFFF, np.dtype(">u2").str: 0xFFFF, np.dtype(">u4").str: 0xFFFFFFFF}
_VERSION = 1


def _width(top: int) -> int:
    return max(1, (int(top).bit_length() + 7) // 8)


def _planes(values: np.ndarray, width: int) -> bytes:
    as_bytes = np.asarray(values).astype("<i8").view(np.uint8).reshape(-1, 8)
    return np.ascontiguousarray(as_bytes[:, :width].T).tobytes()


def _signed_width(low: int, high: int) -> int:
    return next(w for w in (1, 2, 3, 4) if -(1 << (8 * w - 1)) <= low and high < (1 << (8 * w - 1)))


def _unplanes(buf: np.ndarray, count: int, width: int, signed: bool = False) -> np.ndarray:
    """Inverse of :func:`_planes` (``signed``: two's complement of ``width`` bytes)."""
    planes = buf.reshape(width, count)
    if width == 1:
        return planes[0].view(np.int8) if signed else planes[0]
    out = np.zeros((count, 4), dtype=np.uint8)
    out[:, :width] = planes.T
    if signed:
        out[:, width:] = np.where(planes[-1] >= 0x80, 0xFF, 0)[:, None]
        return out.view("<i4").ravel()
    return out.view("<u4").ravel()


_CHUNK_BYTES = 1 << 20  # rows compared per step: the change map stays in cache and is reused


def _row_boundaries(array: np.ndarray) -> tuple:
    """(row, column, value, nrows, width) of every boundary of ``array``'s rows along its last axis.

    ``value`` is the voxel starting at the boundary (0 at the row's end). The change map is
    built ~1 MB of rows at a time into one reused buffer: a full-size map would be faulted in
    page by page (it cost half of encoding a large organ) and read again."""
    if array.dtype == bool:
        array = array.view(np.uint8)
    width = array.shape[-1]
    rows = array.reshape(-1, width)  # a copy only for a non-contiguous crop
    nrows = rows.shape[0]
    step = max(1, _CHUNK_BYTES // (width + 1))
    change = np.empty((min(step, nrows), width + 1), dtype=bool)
    found = []
    for r0 in range(0, nrows, step):
        block = rows[r0:r0 + step]
        ch = change[:len(block)]
        np.not_equal(block[:, :1], 0, out=ch[:, :1])
        np.not_equal(block[:, -1:], 0, out=ch[:, width:])
        np.not_equal(block[:, 1:], block[:, :-1], out=ch[:, 1:width])
        at = np.flatnonzero(ch)
        if at.size:
            found.append(at + r0 * (width + 1))
    flat = np.concatenate(found) if found else np.zeros(0, np.intp)
    r, c = np.divmod(flat, width + 1)
    inside = c < width
    values = np.zeros(r.size, dtype=rows.dtype)
    values[inside] = rows[r[inside], c[inside]]
    return r, c, values, nrows, width


def _reorder_rows(bounds: tuple, shape, order) -> tuple:
    """The boundaries of ``array.transpose(order)`` (``order[2] == 2``) from those of ``array``."""
    r, c, values, nrows, width = bounds
    if list(order[:2]) == [0, 1]:
        return bounds
    a, b = int(shape[0]), int(shape[1])
    moved = (r % b) * a + r // b  # row (i, j) of the crop is row (j, i) of the transposed one
    keep = np.argsort(moved, kind="stable")  # boundaries stay in column order within a row
    return moved[keep], c[keep], values[keep], nrows, width


def _stream(r: np.ndarray, c: np.ndarray, values: np.ndarray, nrows: int, width: int) -> bytes:
    """The uncompressed stream of boundaries sorted by row, then column (see the module docstring)."""
    counts = np.bincount(r, minlength=nrows)
    starts = np.cumsum(counts) - counts
    cols = c.astype(np.int64)
    slots = []
    for k in range(int(counts.max(initial=0))):
        slot = cols[starts[counts > k] + k]
        slots.append(np.diff(slot, prepend=0))
    deltas = np.concatenate(slots) if slots else np.zeros(0, np.int64)
    nonzero = np.unique(values[values != 0])
    if nonzero.size <= 1:  # segments alternate value, 0
        value, vwidth, vbytes = int(nonzero[0]) if nonzero.size else 1, 0, b""
    else:
        last = np.zeros(r.size, dtype=bool)
        last[(starts + counts - 1)[counts > 0]] = True
        seg_values = values[~last]
        value, vwidth = 0, _width(int(seg_values.max(initial=0)))
        vbytes = _planes(seg_values, vwidth)
    cwidth = _width(int(counts.max(initial=0)))
    bwidth = _signed_width(int(deltas.min(initial=0)), int(deltas.max(initial=0)))
    head = _HEAD.pack(_VERSION, cwidth, bwidth, vwidth, value)
    return head + _planes(counts, cwidth) + _planes(deltas, bwidth) + vbytes


class RowDeltaCodec(AxisOrderCodec):
    codec_id = "rowdelta-zstd"

    def __init__(self, level: int = 19, order: list[int] | tuple[int, ...] = (0, 1, 2)):
        super().__init__(level, order)
        self._inverse = None if self.order == [0, 1, 2] else tuple(self.order.index(i) for i in range(3))

    def can_encode(self, array: np.ndarray) -> bool:
        return array.ndim == 3 and array.dtype.kind in "bu" and array.dtype.itemsize <= 4

    # encoding ------------------------------------------------------------------------------
    def stream(self, array: np.ndarray) -> bytes:
        """The uncompressed stream (exposed so writers can compare orders cheaply)."""
        if array.ndim == 3 and self.order[2] == 2:  # rows stay rows: one boundary pass, reordered
            return _stream(*_reorder_rows(_row_boundaries(array), array.shape, self.order))
        t = np.ascontiguousarray(array.transpose(self.order))
        return _stream(*_row_boundaries(t))

    def encode(self, array: np.ndarray) -> bytes:
        if not self.can_encode(array):
            raise CodecError(f"codec {self.codec_id}: cannot encode a {array.ndim}-D {array.dtype} array")
        return zstd_compress(self.stream(array), self.level)

    @classmethod
    def best_for(cls, array: np.ndarray, level: int = 19, orders=None) -> tuple["RowDeltaCodec", bytes]:
        """The smallest of ``orders`` (default :data:`ROW_ORDERS`): compared at a fast zstd level,
        only the winner compressed at ``level`` (a near tie rarely flips between levels).

        Orders that keep the last axis innermost share one pass over the voxels: their rows are
        the same rows, listed in another order."""
        orders = [list(o) for o in (orders or ROW_ORDERS)]
        bounds = _row_boundaries(array) if any(o[2] == 2 for o in orders) else None
        best = None
        for order in orders:
            codec = cls(level, order)
            if order[2] == 2:
                stream = _stream(*_reorder_rows(bounds, array.shape, order))
            else:
                stream = codec.stream(array)
            size = len(zstd_compress(stream, min(level, 3)))
            if best is None or size < best[0]:
                best = (size, codec, stream)
        return best[1], zstd_compress(best[2], level)

    # decoding ------------------------------------------------------------------------------
    def decode(self, payload: bytes, shape, dtype) -> np.ndarray:
        """The crop, as a view in the stored axis order (C-contiguous when ``order`` is 0, 1, 2).

        Written for few numpy calls: a small organ's crop decodes in tens of microseconds,
        where every call's overhead counts.
        """
        dtype = np.dtype(dtype)
        what = f"codec {self.codec_id}"
        if len(shape) != 3:
            raise CodecError(f"{what}: needs a 3-D shape, got {tuple(shape)}")
        order = self.order
        tshape = (int(shape[order[0]]), int(shape[order[1]]), int(shape[order[2]]))
        width = tshape[2]
        nrows = tshape[0] * tshape[1]
        n = nrows * width
        try:
            size = zstandard.get_frame_parameters(payload).content_size
        except zstandard.ZstdError as exc:
            raise CodecError(f"{what}: not a zstd frame ({exc})") from None
        # each row has at most width + 1 boundaries, each at most 4 + 4 bytes with its value
        top = _HEAD.size + 4 * nrows + 8 * nrows * (width + 1)
        if size == zstandard.CONTENTSIZE_UNKNOWN or size < _HEAD.size or size > top \
                or size > max(len(payload), 1) * MAX_ZSTD_RATIO:
            raise CodecError(f"{what}: stream of {size} bytes cannot describe {tuple(shape)} voxels")
        raw = np.frombuffer(zstd_decompress_exact(payload, size, what, checked=True), dtype=np.uint8)
        version, cwidth, bwidth, vwidth, value = _HEAD.unpack_from(raw)
        vmax = _VALUE_MAX.get(dtype.str)
        if vmax is None:
            raise CodecError(f"{what}: cannot decode to {dtype}")
        if version != _VERSION or not (1 <= cwidth <= 4 and 1 <= bwidth <= 4 and 0 <= vwidth <= 4):
            raise CodecError(f"{what}: bad stream header {(version, cwidth, bwidth, vwidth)}")
        if vwidth == 0 and not 0 < value <= vmax:
            raise CodecError(f"{what}: value {value} does not fit {dtype}")
        pos = _HEAD.size + nrows * cwidth
        if pos > size:
            raise CodecError(f"{what}: stream of {size} bytes is too short for {nrows} rows")
        counts = _unplanes(raw[_HEAD.size:pos], nrows, cwidth)
        rows = (counts != 0).nonzero()[0]             # rows with boundaries (bool nonzero: 3x flatnonzero's speed)
        per_row = counts[rows]
        most = int(per_row.max()) if rows.size else 0
        nb = int(per_row.sum(dtype=np.int64))
        nvals = nb - rows.size if vwidth else 0
        if most > width + 1 or size != pos + nb * bwidth + nvals * vwidth \
                or (vwidth == 0 and np.bitwise_and(per_row, 1).any()):
            raise CodecError(f"{what}: stream of {size} bytes does not hold the {nb} row boundaries "
                             f"its counts promise")
        index = np.int32 if n < 2**31 - 1 else np.int64
        # the crop, plus edges, lengths and values per boundary, before any of them exists
        limits.check_allocation(n * dtype.itemsize + (nb + 2) * (4 * np.dtype(index).itemsize + dtype.itemsize),
                                f"{what}: decoding {n} voxels")
        deltas = _unplanes(raw[pos:pos + nb * bwidth], nb, bwidth, signed=True)
        # edges: 0, every boundary as a position in the flattened crop (row-major), n
        edges = np.empty(nb + 2, dtype=index)
        edges[0], edges[-1] = 0, n
        # 1 + index of each row's first boundary in edges; intp, since numpy converts any other
        # index dtype on every fancy assignment (3x the cost of the assignment itself)
        first = np.cumsum(per_row, dtype=np.intp)
        first -= per_row
        first += 1
        base = rows.astype(index) * width
        taken = 0
        if vwidth == 0 and most == 2:                 # the common case: one segment per row
            pair = np.cumsum(deltas.reshape(2, rows.size), axis=1, dtype=index)
            pair += base
            edges[first] = pair[0]
            edges[first + 1] = pair[1]
        else:
            for k in range(most):
                if k and (vwidth or k % 2 == 0):      # bool/single value: a pair of boundaries shares rows
                    keep = per_row > k
                    rows, per_row, first, base = rows[keep], per_row[keep], first[keep], base[keep]
                slot = np.cumsum(deltas[taken:taken + rows.size], dtype=index)
                slot += base
                edges[first + k] = slot
                taken += rows.size
        lengths = np.diff(edges)
        if nb and int(lengths.min()) < 0:
            raise CodecError(f"{what}: row boundaries out of order or outside their row")
        store = np.uint8 if dtype.kind == "b" else dtype
        vals = np.zeros(nb + 1, dtype=store)
        if vwidth == 0:
            vals[1::2] = value
        else:
            seg = _unplanes(raw[pos + nb * bwidth:], nvals, vwidth)
            if nvals and int(seg.max()) > vmax:
                raise CodecError(f"{what}: value {int(seg.max())} does not fit {dtype}")
            keep = np.ones(nb, dtype=bool)
            keep[np.cumsum(counts[counts > 0], dtype=np.int64) - 1] = False  # a row's last boundary: 0 follows
            vals[1:][keep] = seg
        out = np.repeat(vals, lengths).reshape(tshape)
        if self._inverse is not None:
            out = out.transpose(self._inverse)
        return out.view(bool) if dtype.kind == "b" else out
