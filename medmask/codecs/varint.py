"""LEB128 unsigned varints, vectorized with numpy (pure functions, inverse pair)."""
from __future__ import annotations

import numpy as np

MAX_VARINT_BYTES = 10  # enough for uint64


def encode_varints(values: np.ndarray) -> bytes:
    v = np.asarray(values, dtype=np.uint64).ravel()
    if v.size == 0:
        return b""
    nbytes = np.ones(v.size, dtype=np.int64)
    for k in range(1, MAX_VARINT_BYTES):
        nbytes += v >= np.uint64(1) << np.uint64(7 * k)
    ends = np.cumsum(nbytes)
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    starts = ends - nbytes
    for k in range(int(nbytes.max())):
        sel = nbytes > k
        chunk = (v[sel] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (nbytes[sel] > k + 1).astype(np.uint8) << 7
        out[starts[sel] + k] = chunk.astype(np.uint8) | more
    return out.tobytes()


_BLOCK = 1 << 18  # bytes decoded at a time: bounds the int64 temporaries to a few MB


def decode_varints(data: bytes | np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_varints`; raises ValueError on a cut or over-long varint.

    Decodes block by block so the working memory is the output (8 bytes a number)
    plus a few MB, not ~40 bytes per input byte.
    """
    b = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if b.size <= _BLOCK:
        return _decode_block(b)
    if b[-1] & 0x80:
        raise ValueError("varint stream ends inside a number")
    out = np.empty(int(np.count_nonzero(b < 0x80)), dtype=np.uint64)
    pos = k = 0
    while pos < b.size:
        end = min(pos + _BLOCK, b.size)
        if end < b.size:  # cut just after the block's last complete varint
            term = np.flatnonzero(b[max(pos, end - MAX_VARINT_BYTES):end] < 0x80)
            if term.size == 0:
                raise ValueError("varint longer than 10 bytes")
            end = max(pos, end - MAX_VARINT_BYTES) + int(term[-1]) + 1
        vals = _decode_block(b[pos:end])
        out[k:k + vals.size] = vals
        k += vals.size
        pos = end
    return out


def _decode_block(b: np.ndarray) -> np.ndarray:
    if b.size == 0:
        return np.zeros(0, dtype=np.uint64)
    last = (b & 0x80) == 0
    if not last[-1]:
        raise ValueError("varint stream ends inside a number")
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    if lengths.max() > MAX_VARINT_BYTES:
        raise ValueError("varint longer than 10 bytes")
    if lengths.max() == MAX_VARINT_BYTES and (b[ends[lengths == MAX_VARINT_BYTES]] > 1).any():
        raise ValueError("varint exceeds 64 bits (it would wrap modulo 2**64)")  # 9 x 7 bits + 1
    group = np.repeat(np.arange(ends.size), lengths)
    pos = np.arange(b.size) - np.repeat(starts, lengths)
    parts = (b & 0x7F).astype(np.uint64) << (np.uint64(7) * pos.astype(np.uint64))
    return np.add.reduceat(parts, starts) if group.size else np.zeros(0, np.uint64)
