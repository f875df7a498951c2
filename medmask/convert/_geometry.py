"""Exact mapping between foreign geometry (NIfTI affines, NRRD headers) and medmask's Space.

medmask keeps its Space in *array axis order* (see ``medmask.core.geometry``):
array axis ``a`` has spacing ``space.spacing[a]`` and world (LPS) direction
``(x|y|z)_orientation`` for ``a = 0|1|2``; ``origin`` is the LPS position of voxel 0.

NIfTI (nibabel): the array index is ``(i, j, k)`` and ``img.affine`` maps it to RAS mm.
medmask's array is nibabel's transposed by ``(2, 1, 0)``, so medmask axis ``a``
is nibabel axis ``2 - a``, and LPS = diag(-1, -1, 1) @ RAS.

NRRD (Slicer): ``space directions`` has one vector per NRRD axis, fastest axis
first. We write with C index order so the numpy array is ``(k, j, i)`` - the
medmask array as is - and NRRD axis ``n`` is medmask axis ``2 - n``.

Nothing here rounds, reorders or "fixes" an axis: a column of the affine becomes
``spacing * direction`` of exactly one array axis, and back.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from spacetransformer import Space

from ..errors import ConversionError

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])

# |cos| between two axis directions above which an affine counts as sheared.
ORTHOGONALITY_TOL = 1e-3  # float32 headers (TotalSegmentator) reach ~2e-4


def _check_matrix(m: np.ndarray, what: str, path=None) -> tuple[np.ndarray, np.ndarray]:
    """Split a 3x3 matrix whose *columns* are axis vectors into (spacing, unit directions)."""
    if m.shape != (3, 3) or not np.all(np.isfinite(m)):
        raise ConversionError(f"{what} is not a finite 3x3 matrix: {m.tolist()}", path)
    spacing = np.linalg.norm(m, axis=0)
    if not np.all(spacing > 0):
        raise ConversionError(f"{what} has a zero-length axis (spacing {spacing.tolist()})", path)
    dirs = m / spacing
    gram = dirs.T @ dirs
    off = np.abs(gram - np.eye(3)).max()
    if off > ORTHOGONALITY_TOL:
        raise ConversionError(
            f"{what} is sheared or its axes are not perpendicular (max |cos| between axes {off:.3g}); "
            f"medmask stores orthogonal grids only - resample the image first", path)
    return spacing, dirs


def space_from_ras_affine(affine: np.ndarray, shape_ijk: Sequence[int], *, path=None) -> Space:
    """Space (medmask axis order) of a NIfTI image with nibabel array shape ``shape_ijk``."""
    affine = np.asarray(affine, dtype=float)
    if affine.shape != (4, 4) or not np.allclose(affine[3], [0, 0, 0, 1]):
        raise ConversionError(f"not a 4x4 affine: {affine.tolist()}", path)
    if len(shape_ijk) != 3:
        raise ConversionError(f"expected a 3D image, got shape {tuple(shape_ijk)}", path)
    if any(int(n) < 1 for n in shape_ijk):
        raise ConversionError(f"image shape {tuple(int(n) for n in shape_ijk)} has a dimension below 1 "
                              f"(a damaged header?)", path)
    lps = RAS_TO_LPS @ affine[:3, :3]
    spacing, dirs = _check_matrix(lps, "the NIfTI affine", path)
    origin = RAS_TO_LPS @ affine[:3, 3]
    order = (2, 1, 0)  # medmask axis a <- nibabel axis 2 - a
    return Space(
        shape=tuple(int(shape_ijk[n]) for n in order),
        origin=tuple(float(v) for v in origin),
        spacing=tuple(float(spacing[n]) for n in order),
        x_orientation=tuple(float(v) for v in dirs[:, 2]),
        y_orientation=tuple(float(v) for v in dirs[:, 1]),
        z_orientation=tuple(float(v) for v in dirs[:, 0]),
    )


def _axis_columns(space: Space) -> list[np.ndarray]:
    """spacing * direction of medmask axes 0, 1, 2 (LPS)."""
    orients = (space.x_orientation, space.y_orientation, space.z_orientation)
    return [np.asarray(o, dtype=float) * float(s) for o, s in zip(orients, space.spacing)]


def ras_affine_from_space(space: Space) -> np.ndarray:
    """4x4 RAS affine for the nibabel array ``mask_array.transpose(2, 1, 0)``."""
    cols = _axis_columns(space)
    aff = np.eye(4)
    for n in range(3):  # nibabel axis n <- medmask axis 2 - n
        aff[:3, n] = RAS_TO_LPS @ cols[2 - n]
    aff[:3, 3] = RAS_TO_LPS @ np.asarray(space.origin, dtype=float)
    return aff


def nifti_shape(space: Space) -> tuple[int, int, int]:
    return tuple(int(v) for v in reversed(space.shape))  # type: ignore[return-value]


def nrrd_geometry_from_space(space: Space) -> tuple[np.ndarray, np.ndarray]:
    """(space directions 3x3, one row per NRRD axis fastest first; space origin) in LPS."""
    cols = _axis_columns(space)
    directions = np.stack([cols[2], cols[1], cols[0]])
    return directions, np.asarray(space.origin, dtype=float)


def space_from_nrrd_geometry(directions: np.ndarray, origin: np.ndarray, sizes_fastest_first: Sequence[int],
                             *, space_name: str = "left-posterior-superior", path=None) -> Space:
    """Space of a NRRD volume read with C index order (array shape = reversed sizes)."""
    directions = np.asarray(directions, dtype=float)
    origin = np.asarray(origin, dtype=float)
    if space_name in ("left-posterior-superior", "LPS"):
        to_lps = np.eye(3)
    elif space_name in ("right-anterior-superior", "RAS"):
        to_lps = RAS_TO_LPS
    else:
        raise ConversionError(f"NRRD space {space_name!r} is not supported (only LPS or RAS)", path)
    if directions.shape != (3, 3):
        raise ConversionError(f"NRRD space directions must be three 3-vectors, got {directions.tolist()}", path)
    if origin.shape != (3,) or not np.all(np.isfinite(origin)):
        raise ConversionError(f"NRRD space origin must be three finite numbers, got {origin.tolist()}", path)
    cols = to_lps @ directions.T  # column n = LPS vector of NRRD axis n
    spacing, dirs = _check_matrix(cols, "the NRRD space directions", path)
    origin = to_lps @ origin
    sizes = [int(v) for v in sizes_fastest_first]
    return Space(
        shape=(sizes[2], sizes[1], sizes[0]),
        origin=tuple(float(v) for v in origin),
        spacing=(float(spacing[2]), float(spacing[1]), float(spacing[0])),
        x_orientation=tuple(float(v) for v in dirs[:, 2]),
        y_orientation=tuple(float(v) for v in dirs[:, 1]),
        z_orientation=tuple(float(v) for v in dirs[:, 0]),
    )


def max_corner_distance(a: Space, b: Space) -> float:
    """Largest distance (mm) between the world positions of the 8 corner voxels of two same-shape spaces."""
    from ..core.geometry import index_to_world_affine

    if tuple(a.shape) != tuple(b.shape):
        return float("inf")
    corners = np.array([[i, j, k, 1.0] for i in (0, a.shape[0] - 1) for j in (0, a.shape[1] - 1)
                        for k in (0, a.shape[2] - 1)]).T
    pa = index_to_world_affine(a) @ corners
    pb = index_to_world_affine(b) @ corners
    return float(np.linalg.norm((pa - pb)[:3], axis=0).max())


def spaces_close(a: Space, b: Space, voxel_fraction: float = 0.1) -> bool:
    """Same grid up to float noise: every corner within ``voxel_fraction`` of the smallest spacing."""
    return max_corner_distance(a, b) <= voxel_fraction * float(min(min(a.spacing), min(b.spacing)))
