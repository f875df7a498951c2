"""What an index says about one entry, independent of the format version."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.geometry import BBox, bbox_shape


@dataclass(frozen=True)
class EntryInfo:
    """One stored entry: its names, where its bytes are, how they are coded."""

    name: str
    dtype: str
    mapping: dict[str, int]
    bbox: BBox | None
    codec: dict[str, Any] | None
    offset: int
    length: int
    crc32: int | None = None
    counts: dict[int, int] | None = None
    colors: dict[str, tuple[float, ...]] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def stored_bytes(self) -> int:
        return self.length

    @property
    def is_empty(self) -> bool:
        return self.bbox is None

    @property
    def crop_shape(self) -> tuple[int, int, int] | None:
        return None if self.bbox is None else bbox_shape(self.bbox)

    @property
    def voxel_count(self) -> int | None:
        return None if self.counts is None else sum(self.counts.values())
