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


# checks of a record's JSON parts, shared by the 2.0/2.1 (JSON) and 2.2 (table) indexes
def valid_mapping(mapping: dict, top: int) -> bool:
    """{non-empty name: label in 1..top}, labels unique (JSON types: bools are not labels)."""
    for k, v in mapping.items():
        if type(k) is not str or not k or type(v) is not int or not 0 < v <= top:
            return False
    return len(set(mapping.values())) == len(mapping)


def valid_counts(counts: dict) -> bool:
    """{decimal label value: voxel count >= 0}."""
    for k, v in counts.items():
        if type(v) is not int or v < 0 or not (k.isascii() and k.isdigit() and len(k) <= 20):
            return False
    return True


def valid_colors(colors: Any) -> bool:
    """{label name: [r, g, b, a]} with every component in 0..1."""
    return type(colors) is dict and (not colors or all(
        type(c) is list and len(c) == 4 and all(type(x) in (int, float) and 0 <= x <= 1 for x in c)
        for c in colors.values()))


def json_depth(value: Any, limit: int) -> int:
    """Nesting depth of plain JSON data, counted without recursion; stops past ``limit``
    (so a self-containing list ends too)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list, tuple)):
            deepest = max(deepest, d)
            if d > limit:
                return d
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return deepest
