"""One bit per voxel (np.packbits, MSB first, C order), zstd-compressed: for single-label crops."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import limits
from ..errors import CodecError
from .base import Codec, zstd_compress, zstd_decompress_exact


class BitPackCodec(Codec):
    codec_id = "bitpack-zstd"

    def __init__(self, level: int = 19, value: int = 1):
        super().__init__(level)
        self.value = int(value)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "value": self.value}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "BitPackCodec":
        base = super().from_config(config)
        value = config.get("value", 1)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise CodecError(f"codec {cls.codec_id!r}: value must be a positive integer, got {value!r}")
        return cls(level=base.level, value=value)

    @classmethod
    def for_array(cls, array: np.ndarray, level: int) -> "BitPackCodec | None":
        """The codec that fits ``array`` if it holds a single non-zero value, else None."""
        values = np.unique(array)
        nonzero = values[values != 0]
        if nonzero.size != 1:
            return None
        return cls(level=level, value=int(nonzero[0]))

    def encode(self, array: np.ndarray) -> bytes:
        bits = array.astype(bool) if array.dtype != bool else array
        return zstd_compress(np.packbits(bits.ravel()).tobytes(), self.level)

    def decode(self, payload: bytes, shape, dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        n = int(np.prod(shape))
        if dtype != bool and self.value > np.iinfo(dtype).max:
            raise CodecError(f"codec {self.codec_id}: value {self.value} does not fit {dtype}")
        limits.check_allocation(n * (1 + dtype.itemsize), f"codec {self.codec_id}: decoding {n} voxels")
        packed = zstd_decompress_exact(payload, (n + 7) // 8, f"codec {self.codec_id}")
        bits = np.unpackbits(np.frombuffer(packed, dtype=np.uint8), count=n).reshape(shape)
        if dtype == bool:
            return bits.astype(bool)
        return bits.astype(dtype) * dtype.type(self.value)
