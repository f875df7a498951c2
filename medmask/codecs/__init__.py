"""Codec registry: each entry records ``{"id": ..., **config}`` so files name how to decode them.

Like numcodecs: a codec is found by id, built from its config, and old ids stay
registered forever so old files keep decoding.
"""
from __future__ import annotations

from typing import Any, Type

from ..errors import CodecError
from .base import Codec
from .bitpack import BitPackCodec
from .rle import RunLengthCodec
from .rowdelta import RowDeltaCodec
from .zstd_raw import ZstdRawCodec

_REGISTRY: dict[str, Type[Codec]] = {}


def register_codec(cls: Type[Codec]) -> Type[Codec]:
    _REGISTRY[cls.codec_id] = cls
    return cls


for _cls in (ZstdRawCodec, BitPackCodec, RunLengthCodec, RowDeltaCodec):
    register_codec(_cls)


def get_codec(config: Any) -> Codec:
    """Build the codec a stored ``{"id": ..., ...}`` config names."""
    if not isinstance(config, dict) or not isinstance(config.get("id"), str):
        raise CodecError(f"codec config must be an object with a string 'id', got {config!r}")
    cls = _REGISTRY.get(config["id"])
    if cls is None:
        raise CodecError(f"unknown codec {config['id']!r}; this medmask knows {sorted(_REGISTRY)}")
    return cls.from_config(config)


def registered_codecs() -> list[str]:
    return sorted(_REGISTRY)


__all__ = ["Codec", "get_codec", "register_codec", "registered_codecs",
           "ZstdRawCodec", "BitPackCodec", "RunLengthCodec", "RowDeltaCodec"]
