"""The crop's raw little-endian bytes, zstd-compressed: works for any label array."""
from __future__ import annotations

import numpy as np

from .base import Codec, nbytes, zstd_compress, zstd_decompress_exact


class ZstdRawCodec(Codec):
    codec_id = "zstd"

    def encode(self, array: np.ndarray) -> bytes:
        return zstd_compress(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes(), self.level)

    def decode(self, payload: bytes, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        raw = zstd_decompress_exact(payload, nbytes(shape, dtype), f"codec {self.codec_id}")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)
