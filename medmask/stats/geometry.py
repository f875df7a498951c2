"""Index boxes and voxel positions in patient (LPS) millimetres."""
from __future__ import annotations

import numpy as np

from ..core.geometry import BBox, index_to_world_affine

_AFFINES: dict[int, tuple[object, np.ndarray]] = {}


def affine(space) -> np.ndarray:
    """Index -> LPS affine, computed once per Space object (archives of one geometry share one)."""
    hit = _AFFINES.get(id(space))
    if hit is None or hit[0] is not space:
        if len(_AFFINES) > 256:
            _AFFINES.clear()
        hit = _AFFINES[id(space)] = (space, index_to_world_affine(space))
    return hit[1]


def index_centroid_to_world(space, centroid_index: np.ndarray) -> np.ndarray:
    aff = affine(space)
    return aff[:3, :3] @ centroid_index + aff[:3, 3]


def label_centroid_and_bbox(crop_region: np.ndarray, offset) -> tuple[np.ndarray, BBox, int] | None:
    """(mean voxel index, bbox, count) of a boolean region of a crop placed at ``offset``.

    Uses the three axis projections, not ``np.nonzero``: no index arrays for big organs.
    """
    count = int(np.count_nonzero(crop_region))
    if count == 0:
        return None
    centre, box = [], []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        proj = np.count_nonzero(crop_region, axis=other)
        idx = np.flatnonzero(proj)
        box.append((int(idx[0]) + offset[axis], int(idx[-1]) + 1 + offset[axis]))
        centre.append(float(np.dot(np.arange(proj.size, dtype=float), proj)) / count + offset[axis])
    return np.array(centre), tuple(box), count  # type: ignore[return-value]


def box_columns(space, boxes: list[BBox]) -> list[list[float]]:
    """Per box: [start x3, stop x3, extent_mm x3, LPS min x3, LPS max x3] - one numpy pass per archive."""
    if not boxes:
        return []
    b = np.asarray(boxes, dtype=float)  # (n, 3, 2)
    aff = affine(space)
    m, t = aff[:3, :3], aff[:3, 3]
    lo_terms = (b[:, None, :, 0] - 0.5) * m[None]  # (n, world, axis)
    hi_terms = (b[:, None, :, 1] - 0.5) * m[None]
    lo = t + np.minimum(lo_terms, hi_terms).sum(axis=2)
    hi = t + np.maximum(lo_terms, hi_terms).sum(axis=2)
    extent = (b[:, :, 1] - b[:, :, 0]) * np.asarray(space.spacing, dtype=float)
    out = np.concatenate([extent, lo, hi], axis=1).tolist()
    return [[*(a for a, _ in box), *(z for _, z in box), *vals] for box, vals in zip(boxes, out)]
