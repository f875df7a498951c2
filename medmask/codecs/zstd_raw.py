"""The crop's raw little-endian bytes, zstd-compressed: works for any label array."""
from __future__ import annotations

import numpy as np

from ..errors import CodecError
from .base import Codec, nbytes, zstd_compress, zstd_decompress_exact


class ZstdRawCodec(Codec):
    codec_id = "zstd"

    def encode(self, array: np.ndarray) -> bytes:
        return zstd_compress(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes(), self.level)

    def decode(self, payload: bytes, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        raw = zstd_decompress_exact(payload, nbytes(shape, dtype), f"codec {self.codec_id}")
        if dtype == bool and raw.translate(None, b"\x00\x01"):  # numpy would keep e.g. 9 as a "True" byte
            raise CodecError(f"codec {self.codec_id}: boolean payload holds bytes other than 0 and 1")
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=False).reshape(shape)
