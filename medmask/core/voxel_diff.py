"""How two versions of one mask differ, counted on their bounding boxes (no full volumes)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import BBox, compute_bbox
from .segmask import SegmentationMask


@dataclass(frozen=True)
class VoxelChange:
    """``added``: voxels labelled now, background before; ``removed``: the reverse;
    ``relabelled``: labelled in both with another value (multi-label entries); ``box``: the
    half-open box of every changed voxel (None when nothing changed)."""

    added: int
    removed: int
    relabelled: int
    box: BBox | None


def _placed(mask: SegmentationMask, box: BBox) -> np.ndarray:
    """The mask's labels inside ``box`` (which holds its bbox)."""
    out = np.zeros([b - a for a, b in box], dtype=mask.dtype)
    if mask.bbox is not None:
        (z0, z1), (y0, y1), (x0, x1) = mask.bbox
        out[z0 - box[0][0]:z1 - box[0][0], y0 - box[1][0]:y1 - box[1][0], x0 - box[2][0]:x1 - box[2][0]] = \
            mask.crop_data
    return out


def _union(old: SegmentationMask, new: SegmentationMask) -> BBox | None:
    boxes = [b for b in (old.bbox, new.bbox) if b is not None]
    if not boxes:
        return None
    return tuple((min(b[i][0] for b in boxes), max(b[i][1] for b in boxes)) for i in range(3))


def voxel_change(old: SegmentationMask, new: SegmentationMask) -> VoxelChange:
    """Compare ``old`` and ``new`` (same space) inside the union of their bounding boxes."""
    union = _union(old, new)
    if union is None:
        return VoxelChange(0, 0, 0, None)
    a, b = _placed(old, union), _placed(new, union)
    before, after = a != 0, b != 0
    added = int(np.count_nonzero(after & ~before))
    removed = int(np.count_nonzero(before & ~after))
    relabelled = int(np.count_nonzero(before & after & (a != b)))
    changed = compute_bbox(a != b)
    box = None if changed is None else tuple((lo + o, hi + o) for (lo, hi), (o, _) in zip(changed, union))
    return VoxelChange(added, removed, relabelled, box)


def label_changes(old: SegmentationMask, new: SegmentationMask) -> dict[str, tuple[int, int]]:
    """Per label name of either version: (voxels that now hold it and did not, voxels that held it
    and no longer do); labels that did not change are left out. What one organ of a multi-label
    entry gained and lost."""
    union = _union(old, new)
    if union is None:
        return {}
    a, b = _placed(old, union), _placed(new, union)
    values = {k: int(v) for k, v in old.mapping.to_dict().items()}
    new_values = {k: int(v) for k, v in new.mapping.to_dict().items()}
    out: dict[str, tuple[int, int]] = {}
    for label in dict.fromkeys([*values, *new_values]):
        before = a == values[label] if label in values else np.zeros(a.shape, bool)
        after = b == new_values[label] if label in new_values else np.zeros(b.shape, bool)
        added, removed = int(np.count_nonzero(after & ~before)), int(np.count_nonzero(before & ~after))
        if added or removed:
            out[label] = (added, removed)
    return out
