"""The codec interface and the shared zstd helpers."""
from __future__ import annotations

import math
import threading
from typing import Any, ClassVar

import numpy as np
import zstandard

from ..errors import CodecError

# zstd cannot expand input more than this (a 128 KiB block of one byte costs >= 4 bytes);
# a payload promising more output is lying, whatever its frame header says.
MAX_ZSTD_RATIO = 1 << 16


class Codec:
    """Turns a crop array into bytes and back. Subclasses set ``codec_id``."""

    codec_id: ClassVar[str] = ""

    def __init__(self, level: int = 19):
        self.level = int(level)

    def get_config(self) -> dict[str, Any]:
        return {"id": self.codec_id, "level": self.level}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Codec":
        level = config.get("level", 19)
        if not isinstance(level, int) or isinstance(level, bool):
            raise CodecError(f"codec {cls.codec_id!r}: level must be an integer, got {level!r}")
        return cls(level=level)

    def can_encode(self, array: np.ndarray) -> bool:
        return True

    def encode(self, array: np.ndarray) -> bytes:
        raise NotImplementedError

    def decode(self, payload: bytes, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        raise NotImplementedError


def zstd_compress(data: bytes, level: int) -> bytes:
    return zstandard.ZstdCompressor(level=level, write_content_size=True).compress(data)


_local = threading.local()


def _decompressor() -> zstandard.ZstdDecompressor:
    """One decompressor per thread (making one per payload costs more than decoding a small crop)."""
    d = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def zstd_decompress_exact(payload: bytes, size: int, what: str, checked: bool = False) -> bytes:
    """Decompress to exactly ``size`` bytes, refusing before allocating if the payload cannot hold that.

    ``checked``: the caller already read ``size`` from this frame's header.
    """
    if size > max(len(payload), 1) * MAX_ZSTD_RATIO:
        raise CodecError(f"{what}: {len(payload)} compressed bytes cannot expand to {size} bytes")
    if not checked:
        try:
            params = zstandard.get_frame_parameters(payload)
        except zstandard.ZstdError as exc:
            raise CodecError(f"{what}: not a zstd frame ({exc})") from None
        if params.content_size not in (size, zstandard.CONTENTSIZE_UNKNOWN):
            raise CodecError(f"{what}: zstd frame holds {params.content_size} bytes, expected {size}")
    try:
        out = _decompressor().decompress(payload, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise CodecError(f"{what}: zstd payload is corrupt ({exc})") from None
    if len(out) != size:
        raise CodecError(f"{what}: decoded {len(out)} bytes, expected {size}")
    return out


def nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize
