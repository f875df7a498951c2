"""Surface distances between two masks on one grid, in mm, from their crops alone.

A surface voxel is a mask voxel with at least one of its 6 face neighbours outside
the mask (voxels on the volume border count as surface). Distances are between voxel
centres, exact Euclidean (k-d tree), in mm: the grid is orthogonal, so scaling index
offsets by the spacing gives patient-space distances whatever the axis directions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_FACES = None


def _faces():
    global _FACES
    if _FACES is None:
        from scipy import ndimage

        _FACES = ndimage.generate_binary_structure(3, 1)
    return _FACES


def surface_points_mm(region: np.ndarray, offset, spacing) -> np.ndarray:
    """(N, 3) positions in mm (index * spacing) of the surface voxels of a boolean crop at ``offset``."""
    from scipy import ndimage

    inner = ndimage.binary_erosion(region, structure=_faces(), border_value=0)
    idx = np.argwhere(region & ~inner)
    return (idx + np.asarray(offset)) * np.asarray(spacing, dtype=float)


@dataclass(frozen=True)
class SurfaceDistances:
    hd95_mm: float
    hd_mm: float
    assd_mm: float


def surface_distances(points_a: np.ndarray, points_b: np.ndarray) -> SurfaceDistances:
    """Symmetric distances: HD95 is the larger of the two directed 95th percentiles (as MONAI's
    ``compute_hausdorff_distance(percentile=95)``), HD the larger maximum, ASSD the mean over
    both directions' distances."""
    from scipy.spatial import cKDTree

    d_ab = cKDTree(points_b).query(points_a, workers=1)[0]
    d_ba = cKDTree(points_a).query(points_b, workers=1)[0]
    hd95 = max(float(np.percentile(d_ab, 95)), float(np.percentile(d_ba, 95)))
    hd = max(float(d_ab.max()), float(d_ba.max()))
    assd = float((d_ab.sum() + d_ba.sum()) / (d_ab.size + d_ba.size))
    return SurfaceDistances(hd95, hd, assd)
