"""Run-length coding of the crop, flattened in a chosen axis order, zstd-compressed.

Organ masks are long runs of one value. The stream is LEB128 varints:
``runs, value_1..value_runs, length_1..length_runs``; ``order`` (a permutation of
the crop axes, stored in the config) says which axis runs fastest. The writer picks
the order that compresses best for each entry; on TotalSegmentator output that
saves ~12 % over a fixed order.
"""
from __future__ import annotations

import math

import numpy as np
import zstandard

from .. import limits
from ..errors import CodecError
from .base import AXIS_ORDERS, MAX_ZSTD_RATIO, AxisOrderCodec, zstd_compress, zstd_decompress_exact
from .varint import MAX_VARINT_BYTES, decode_varints, encode_varints

ORDERS = AXIS_ORDERS


class RunLengthCodec(AxisOrderCodec):
    codec_id = "rle-zstd"

    @staticmethod
    def runs_stream(array: np.ndarray, order) -> bytes:
        flat = np.ascontiguousarray(array.transpose(order)).ravel()
        if flat.dtype == bool:
            flat = flat.view(np.uint8)
        if flat.size == 0:
            return encode_varints(np.array([0]))
        starts = np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1))
        lengths = np.diff(np.append(starts, flat.size))
        return encode_varints(np.concatenate(([starts.size], flat[starts], lengths)))

    @classmethod
    def best_for(cls, array: np.ndarray, level: int = 19) -> tuple["RunLengthCodec", bytes]:
        """Try every axis order; return the codec and payload of the smallest."""
        best: tuple[RunLengthCodec, bytes] | None = None
        for order in ORDERS if array.ndim == 3 else [list(range(array.ndim))]:
            codec = cls(level=level, order=order)
            payload = codec.encode(array)
            if best is None or len(payload) < len(best[1]):
                best = (codec, payload)
        return best  # type: ignore[return-value]

    def encode(self, array: np.ndarray) -> bytes:
        return zstd_compress(self.runs_stream(array, self.order), self.level)

    def decode(self, payload: bytes, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        n = math.prod(shape)
        what = f"codec {self.codec_id}"
        try:
            size = zstandard.get_frame_parameters(payload).content_size
        except zstandard.ZstdError as exc:
            raise CodecError(f"{what}: not a zstd frame ({exc})") from None
        # at most n runs, each two varints of at most 10 bytes
        if size == zstandard.CONTENTSIZE_UNKNOWN or size > MAX_VARINT_BYTES * (1 + 2 * n) \
                or size > max(len(payload), 1) * MAX_ZSTD_RATIO:
            raise CodecError(f"{what}: run stream of {size} bytes cannot describe {n} voxels")
        raw = zstd_decompress_exact(payload, size, what)
        stream = np.frombuffer(raw, dtype=np.uint8)
        count = int(np.count_nonzero(stream < 0x80))  # numbers in the stream, checked before decoding them
        try:
            head = stream[:MAX_VARINT_BYTES]  # the first number is the run count
            runs = int(decode_varints(head[:int(np.argmax(head < 0x80)) + 1])[0]) if count else -1
            if runs < 0 or count != 1 + 2 * runs or runs > n or (runs == 0) != (n == 0):
                raise CodecError(f"{what}: run table is inconsistent ({count} numbers for {runs} runs)")
            # the numbers (8 B each), the flat runs and the transposed copy, before any of it exists
            limits.check_allocation(8 * count + 2 * n * dtype.itemsize, f"{what}: decoding {n} voxels")
            nums = decode_varints(raw)
        except ValueError as exc:
            raise CodecError(f"{what}: {exc}") from None
        values, lengths = nums[1:1 + runs], nums[1 + runs:]
        # bound each length before summing: uint64 sums wrap, and np.repeat segfaults on such counts
        # (with every length <= n and runs <= n <= MAX_VOXELS the sum is exact below 2**62)
        if (lengths == 0).any() or int(lengths.max(initial=0)) > n or int(lengths.sum()) != n:
            raise CodecError(f"{what}: run lengths add up to {int(lengths.sum())}, expected {n} voxels")
        top = 1 if dtype == bool else np.iinfo(dtype).max
        if values.size and int(values.max()) > top:
            raise CodecError(f"{what}: value {int(values.max())} does not fit {dtype}")
        store = np.uint8 if dtype == bool else dtype
        flat = np.repeat(values.astype(store), lengths.astype(np.intp))
        tshape = tuple(shape[i] for i in self.order)
        out = flat.reshape(tshape).transpose(np.argsort(self.order))
        out = np.ascontiguousarray(out)
        return out.view(bool) if dtype == bool else out
