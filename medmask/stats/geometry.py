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


def world_bbox(space, bbox: BBox) -> tuple[list[float], list[float]]:
    """LPS min and max corner of the box the voxels of ``bbox`` cover (voxel edges, not centres).

    For an oblique grid this is the axis-aligned LPS box around the tilted voxel box.
    """
    m, t = _affine_lists(space)
    lo, hi = [], []
    for row, t0 in zip(m, t):  # a linear map's extremes over a box: per axis the smaller/larger end
        a, b = t0, t0
        for coef, (start, stop) in zip(row, bbox):
            p, q = coef * (start - 0.5), coef * (stop - 0.5)
            if p < q:
                a, b = a + p, b + q
            else:
                a, b = a + q, b + p
        lo.append(a)
        hi.append(b)
    return lo, hi


def _affine_lists(space) -> tuple[list[list[float]], list[float]]:
    aff = affine(space)
    return aff[:3, :3].tolist(), aff[:3, 3].tolist()


def extent_mm(space, bbox: BBox) -> list[float]:
    """Length in mm of the box along array axes 0, 1, 2 (z, y, x of an axial scan)."""
    return [float((b - a) * s) for (a, b), s in zip(bbox, space.spacing)]


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
