"""Same voxels, other axis order: the signed axis permutation between two grids, and exact reordering.

A NIfTI made from a DICOM series by dicom2nifti or dcm2niix (so every TotalSegmentator run on DICOM
input) stores the series' rows reversed; a SEG written from it by dcmqi does the same; a sagittal
export swaps axes. The two grids then hold the very same voxel centres, only in another array order.
Nothing needs resampling: a transpose and reversed strides (a numpy view) give the other order exactly.

This module is the one place that decides it. Every check that puts masks on another grid uses it:
DICOM-SEG export and import with a series, recording a scan (``--image``), stats' scan check and
napari's scan check. A grid that really differs (other spacing, shifted, rotated) gives ``None`` here
and each caller refuses it with its own precise message.

    >>> m = match(masks.space, series.space)   # AxisMatch, or None when the grids really differ
    >>> m.identity                               # already in the same order: nothing to do
    >>> on_series = m.reorder(mask_array)        # a view in the series' axis order
    >>> m.describe()                             # 'rows reversed'
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from spacetransformer import Space

from .geometry import BBox, direction_matrix, index_to_world_affine
from .image_ref import DEFAULT_VOXEL_FRACTION

__all__ = ["AxisMatch", "IDENTITY", "match", "embed", "extend", "orient", "reorder_mask", "log_reorder"]

log = logging.getLogger("medmask")

AXIS_NAMES = ("slices", "rows", "columns")  # medmask's array axes 0, 1, 2 of a scan


@dataclass(frozen=True)
class AxisMatch:
    """How an array of one grid (the *source*) reads in the axis order of another (the *target*).

    Target axis ``a`` is source axis ``axes[a]``, run backwards where ``flips[a]``. Applied to a
    source array (:meth:`reorder`), box (:meth:`box`) or Space (:meth:`space`), it gives the target's.
    """

    axes: tuple[int, int, int] = (0, 1, 2)
    flips: tuple[bool, bool, bool] = (False, False, False)

    @property
    def identity(self) -> bool:
        return self.axes == (0, 1, 2) and not any(self.flips)

    def reorder(self, array: np.ndarray) -> np.ndarray:
        """The source-ordered ``array`` in the target's order: a view (transpose, reversed strides).

        Axes after the first three (vector or colour components) stay where they are.
        """
        if self.identity:
            return array
        out = array if self.axes == (0, 1, 2) else np.transpose(array, (*self.axes, *range(3, array.ndim)))
        if any(self.flips):
            out = out[tuple(slice(None, None, -1) if f else slice(None) for f in self.flips)]
        return out

    def inverse(self) -> "AxisMatch":
        """The match from target back to source."""
        axes, flips = [0, 0, 0], [False, False, False]
        for a, b in enumerate(self.axes):
            axes[b], flips[b] = a, self.flips[a]
        return AxisMatch(tuple(axes), tuple(flips))  # type: ignore[arg-type]

    def shape(self, source_shape: Sequence[int]) -> tuple[int, int, int]:
        return tuple(int(source_shape[b]) for b in self.axes)  # type: ignore[return-value]

    def box(self, bbox: BBox, source_shape: Sequence[int]) -> BBox:
        """A half-open box of source indices as the box of the same voxels in target indices."""
        out = []
        for b, f in zip(self.axes, self.flips):
            lo, hi = bbox[b]
            n = int(source_shape[b])
            out.append((n - hi, n - lo) if f else (lo, hi))
        return tuple(out)  # type: ignore[return-value]

    def index_map(self, source_shape: Sequence[int]) -> np.ndarray:
        """4x4 affine taking a target index to the source index of the same voxel."""
        m = np.zeros((4, 4))
        m[3, 3] = 1.0
        for a, (b, f) in enumerate(zip(self.axes, self.flips)):
            m[b, a] = -1.0 if f else 1.0
            m[b, 3] = float(int(source_shape[b]) - 1) if f else 0.0
        return m

    def space(self, source: Space) -> Space:
        """The source grid in the target's axis order, computed from the source's own values."""
        if self.identity:
            return source
        dirs = direction_matrix(source)
        first = self.index_map(source.shape)[:3, 3]  # source index of target voxel (0, 0, 0)
        origin = index_to_world_affine(source)[:3] @ np.array([*first, 1.0])
        new_dirs = [tuple(float(v) for v in (-dirs[:, b] if f else dirs[:, b])) for b, f in zip(self.axes, self.flips)]
        return Space(shape=self.shape(source.shape), origin=tuple(float(v) for v in origin),
                     spacing=tuple(float(source.spacing[b]) for b in self.axes),
                     x_orientation=new_dirs[0], y_orientation=new_dirs[1], z_orientation=new_dirs[2])

    def describe(self) -> str:
        """What changes, named after the source's axes: 'rows reversed', 'axes (2, 1, 0), slices reversed'."""
        parts = []
        if self.axes != (0, 1, 2):
            parts.append(f"axes in the order {self.axes}")
        flipped = [AXIS_NAMES[b] for b, f in zip(self.axes, self.flips) if f]
        if flipped:
            parts.append(" and ".join(flipped) + " reversed")
        return ", ".join(parts) or "same order"


IDENTITY = AxisMatch()


def _corners(shape: Sequence[int]) -> np.ndarray:
    n = [int(v) - 1 for v in shape]
    return np.array([[i, j, k, 1.0] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])]).T


def match(source: Space, target: Space, tol: float | None = None) -> AxisMatch | None:
    """The reordering that puts ``source``'s voxels in ``target``'s order, or None if they are other voxels.

    Two grids match when, after some permutation and reversal of axes, the shapes are equal and every
    corner voxel centre lies within ``tol`` mm of the other's (default: a tenth of the smallest
    spacing, the tolerance of every grid check in medmask); both grids are affine, so then every
    voxel centre does. The identity wins when it fits (a one-voxel axis can be reversed for free).
    """
    found = _fit(source, target, tol, same_shape=True)
    return None if found is None else found[0]


def embed(source: Space, target: Space, tol: float | None = None) -> tuple[AxisMatch, tuple[int, int, int]] | None:
    """``source``'s voxels as a block of ``target``'s: (reordering, target index of the block's first voxel).

    Like :func:`match`, but ``source`` may cover part of ``target`` (a SEG read on its own grid holds only
    the slices that have segments); None when its voxels are not voxels of ``target``.
    """
    return _fit(source, target, tol, same_shape=False)


def _fit(source: Space, target: Space, tol: float | None, same_shape: bool):
    if tol is None:
        tol = DEFAULT_VOXEL_FRACTION * float(min(min(source.spacing), min(target.spacing)))
    src = index_to_world_affine(source)
    dst = index_to_world_affine(target)
    to_target = np.linalg.inv(dst)
    tshape = np.array([int(v) for v in target.shape])
    best = None
    for axes in itertools.permutations((0, 1, 2)):
        shape = np.array([int(source.shape[b]) for b in axes])
        if (same_shape and not np.array_equal(shape, tshape)) or np.any(shape > tshape):
            continue
        corners = _corners(shape)
        for flips in itertools.product((False, True), repeat=3):
            m = AxisMatch(axes, flips)  # type: ignore[arg-type]
            got = src @ m.index_map(source.shape) @ corners
            offset = np.round((to_target @ got[:, 0])[:3])
            if np.any(offset < 0) or np.any(offset + shape > tshape):
                continue
            want = dst @ (corners + np.array([*offset, 0.0])[:, None])
            err = float(np.linalg.norm((got - want)[:3], axis=0).max())
            if err <= tol and (best is None or err < best[0]):
                best = (err, m, tuple(int(v) for v in offset))
                if m.identity:
                    return m, best[2]
    return None if best is None else best[1:]


def extend(space: Space, offset: Sequence[int], shape: Sequence[int]) -> Space:
    """The lattice of ``space`` grown to ``shape``, ``space``'s first voxel at index ``offset`` of it."""
    first = index_to_world_affine(space) @ np.array([-float(v) for v in offset] + [1.0])
    return Space(shape=tuple(int(v) for v in shape), origin=tuple(float(v) for v in first[:3]),
                 spacing=space.spacing, x_orientation=space.x_orientation, y_orientation=space.y_orientation,
                 z_orientation=space.z_orientation)


def orient(space: Space, directions: Sequence[Sequence[float] | None]) -> AxisMatch:
    """The reordering of ``space`` whose axis ``a`` runs along ``directions[a]`` as nearly as its axes allow.

    ``None`` leaves that axis to whichever of ``space``'s axes is left, in its own direction. Used
    where the target is known by its directions only (a SEG's frame rows and columns); the caller
    checks the result precisely.
    """
    dirs = direction_matrix(space)
    axes: list[int | None] = [None, None, None]
    flips = [False, False, False]
    for a, want in enumerate(directions):
        if want is None:
            continue
        scores = dirs.T @ np.asarray(want, dtype=float)
        for b in np.argsort(-np.abs(scores), kind="stable"):
            if int(b) not in axes:
                axes[a], flips[a] = int(b), bool(scores[b] < 0)
                break
    left = iter(b for b in range(3) if b not in axes)
    return AxisMatch(tuple(b if b is not None else next(left) for b in axes), tuple(flips))  # type: ignore[arg-type]


def reorder_mask(mask, m: AxisMatch, space: Space | None = None, offset: Sequence[int] = (0, 0, 0)):
    """``mask`` (a SegmentationMask) in the target's axis order: crop and box reordered, no copy of the crop.

    ``space``: the target grid to attach (default :meth:`AxisMatch.space` of the mask's own);
    ``offset``: where the mask's first voxel lies in it (see :func:`embed`).
    """
    from .segmask import SegmentationMask

    if m.identity and space is None:
        return mask
    target = space if space is not None else m.space(mask.space)
    box = mask.bbox
    crop = None if box is None else m.reorder(mask.crop_data)
    if box is not None:
        box = tuple((lo + o, hi + o) for (lo, hi), o in zip(m.box(box, mask.shape), offset))
    return SegmentationMask.from_crop(crop, box, mask.mapping, target, mask.dtype, colors=mask.colors,
                                      metadata=mask.metadata)


def log_reorder(what: str, m: AxisMatch, done: str = "reordered exactly, nothing resampled") -> None:
    """The one info line a reordering gets (never a warning: nothing is lost or approximated)."""
    log.info("%s: same voxels in another axis order (%s); %s", what, m.describe(), done)
