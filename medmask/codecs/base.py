"""The codec interface and the shared zstd helpers."""
from __future__ import annotations

import itertools
import math
import threading
from typing import Any, ClassVar

import numpy as np
import zstandard

from .. import limits
from ..errors import CodecError, LimitError

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

    def encode(self, array: np.ndarray) -> bytes:
        raise NotImplementedError

    def decode(self, payload: bytes, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        raise NotImplementedError


AXIS_ORDERS = [list(p) for p in itertools.permutations(range(3))]


class AxisOrderCodec(Codec):
    """A codec that walks a 3-D crop in one of the six axis orders, stored in its config."""

    def __init__(self, level: int = 19, order: list[int] | tuple[int, ...] = (0, 1, 2)):
        super().__init__(level)
        self.order = [int(v) for v in order]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "order": self.order}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "AxisOrderCodec":
        base = super().from_config(config)
        order = config.get("order", [0, 1, 2])
        if order not in AXIS_ORDERS:
            raise CodecError(f"codec {cls.codec_id!r}: order must be a permutation of [0, 1, 2], got {order!r}")
        return cls(level=base.level, order=order)


def zstd_compress(data: bytes, level: int) -> bytes:
    return zstandard.ZstdCompressor(level=level, write_content_size=True).compress(data)


def zstd_frame_end(payload: bytes, size: int, what: str) -> int:
    """Where the first zstd frame of ``payload`` ends, from its block headers (no decoding).

    A payload must be exactly one frame: bytes or frames after it would be ignored by the
    decoder, so a forged file could hide data there. Legitimate frames hold at most 128 KiB
    of content per block; a frame needing far more blocks than its content is refused
    before the walk gets long.
    """
    try:
        pos = zstandard.frame_header_size(payload)
    except zstandard.ZstdError as exc:
        raise CodecError(f"{what}: not a zstd frame ({exc})") from None
    checksum = (payload[4] >> 2) & 1
    max_blocks = size // 4096 + 64
    view = memoryview(payload)
    for _ in range(max_blocks):
        if pos + 3 > len(payload):
            raise CodecError(f"{what}: zstd frame is truncated")
        header = int.from_bytes(view[pos:pos + 3], "little")
        last, kind, block = header & 1, (header >> 1) & 3, header >> 3
        if kind == 3:
            raise CodecError(f"{what}: zstd frame has a reserved block type")
        pos += 3 + (1 if kind == 1 else block)
        if last:
            return pos + 4 * checksum
    raise CodecError(f"{what}: zstd frame has more than {max_blocks} blocks for {size} bytes of content")


_local = threading.local()


def _decompressor() -> zstandard.ZstdDecompressor:
    """One decompressor per thread (making one per payload costs more than decoding a small crop)."""
    d = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def zstd_decompress_exact(payload: bytes, size: int, what: str, checked: bool = False) -> bytes:
    """Decompress to exactly ``size`` bytes, refusing before allocating if the payload cannot hold that,
    the frame does not declare that size, bytes follow the frame, or ``size`` exceeds the memory budget.

    ``checked``: the caller already read ``size`` from this frame's header.
    """
    if size > max(len(payload), 1) * MAX_ZSTD_RATIO:
        raise CodecError(f"{what}: {len(payload)} compressed bytes cannot expand to {size} bytes")
    if not checked:
        try:
            params = zstandard.get_frame_parameters(payload)
        except zstandard.ZstdError as exc:
            raise CodecError(f"{what}: not a zstd frame ({exc})") from None
        if params.content_size != size:
            held = "an undeclared size" if params.content_size == zstandard.CONTENTSIZE_UNKNOWN else params.content_size
            raise CodecError(f"{what}: zstd frame holds {held} bytes, expected {size}")
    end = zstd_frame_end(payload, size, what)
    if end != len(payload):
        raise CodecError(f"{what}: {len(payload) - end} bytes follow the zstd frame (trailing data or a second frame)")
    limits.check_allocation(size, f"{what}: decompressing")
    try:
        out = _decompressor().decompress(payload, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise CodecError(f"{what}: zstd payload is corrupt ({exc})") from None
    except MemoryError:
        raise LimitError(f"{what}: out of memory decompressing {size} bytes") from None
    if len(out) != size:
        raise CodecError(f"{what}: decoded {len(out)} bytes, expected {size}")
    return out


def nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize
