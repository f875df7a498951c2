"""Checks of decoded voxels against what the index says about them (pure, numpy only).

Cheap ones run on every decode (values without a name); the deep ones (stored counts,
tight bounding boxes) cost a pass over the crop and run in ``medmask verify --deep``.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np


def unnamed_values(crop: np.ndarray, mapping: Mapping[str, int], also: Iterable[int] = (),
                   limit: int = 5) -> list[int]:
    """Up to ``limit`` non-zero voxel values that no label names and ``also`` does not list
    (empty list: all accounted for). The common cases cost one ``max``: binary masks, and
    label sets 1..k without gaps.
    """
    if crop.size == 0 or crop.dtype == bool:
        return [] if crop.dtype != bool or mapping or 1 in also else ([1] if crop.any() else [])
    named = sorted(set(int(v) for v in mapping.values()) | set(int(v) for v in also))
    top = int(crop.max())
    if top == 0 or (top <= len(named) and named[:top] == list(range(1, top + 1))):
        return []
    if top < (1 << 20):
        present = np.flatnonzero(np.bincount(crop.ravel(), minlength=1))
    else:
        present = np.unique(crop)
    known = set(named)
    return [int(v) for v in present if v and int(v) not in known][:limit]


def voxel_counts(crop: np.ndarray | None) -> dict[int, int]:
    """{value: voxels} of the non-zero values of ``crop``."""
    if crop is None or crop.size == 0:
        return {}
    if crop.dtype == bool:
        n = int(np.count_nonzero(crop))
        return {1: n} if n else {}
    if int(crop.max()) < (1 << 20):
        counts = np.bincount(crop.ravel())
        return {int(v): int(counts[v]) for v in np.flatnonzero(counts) if v}
    values, counts = np.unique(crop, return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts) if v}


def loose_faces(crop: np.ndarray) -> list[str]:
    """Faces of the crop's box holding no labelled voxel (a bbox that is not tight); [] when tight."""
    loose = []
    for axis, name in enumerate("zyx"):
        for side, index in (("low", 0), ("high", -1)):
            face = np.take(crop, index, axis=axis)
            if not face.any():
                loose.append(f"{name} {side}")
    return loose
