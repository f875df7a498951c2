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


def voxel_change(old: SegmentationMask, new: SegmentationMask) -> VoxelChange:
    """Compare ``old`` and ``new`` (same space) inside the union of their bounding boxes."""
    boxes = [b for b in (old.bbox, new.bbox) if b is not None]
    if not boxes:
        return VoxelChange(0, 0, 0, None)
    union = tuple((min(b[i][0] for b in boxes), max(b[i][1] for b in boxes)) for i in range(3))
    a, b = _placed(old, union), _placed(new, union)
    before, after = a != 0, b != 0
    added = int(np.count_nonzero(after & ~before))
    removed = int(np.count_nonzero(before & ~after))
    relabelled = int(np.count_nonzero(before & after & (a != b)))
    changed = compute_bbox(a != b)
    box = None if changed is None else tuple((lo + o, hi + o) for (lo, hi), (o, _) in zip(changed, union))
    return VoxelChange(added, removed, relabelled, box)
