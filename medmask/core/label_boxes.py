"""Bounding box and voxel count of every label of a label map, in one pass (numpy only).

What ``scipy.ndimage.find_objects`` gives, plus the counts, without scipy in the core. Splitting
a model's label map (TotalSegmentator ``--ml``: 117 names, a few dozen present) into one entry per
organ needs every box; one comparison per label over the whole volume would read it 117 times.

The pass first finds the (z, y) rows holding any label, reading the volume as 8-byte words (the
cheapest reduction numpy has); only those rows are then looked at voxel by voxel. A CT's label
map is mostly background, so the voxel-level work is proportional to the organs' rows.
"""
from __future__ import annotations

import numpy as np

from .geometry import BBox

__all__ = ["label_boxes"]

_ROWS_PER_STEP = 4096  # rows gathered at a time: bounded temporaries whatever the volume


def _nonzero_rows(flat: np.ndarray) -> np.ndarray:
    """Indices of the rows (last axis) of a 2D (rows, n) array holding anything but 0."""
    rows, n = flat.shape
    nbytes = n * flat.dtype.itemsize
    if flat.flags.c_contiguous and nbytes % 8 == 0:
        words = flat.view(np.uint64).reshape(rows, nbytes // 8)
        return np.flatnonzero(words.max(axis=1))
    return np.flatnonzero(flat.max(axis=1) if flat.dtype != bool else flat.any(axis=1))


def label_boxes(labels: np.ndarray) -> dict[int, tuple[BBox, int]]:
    """{label value: (half-open bbox, voxel count)} of every non-zero value of a 3D integer array."""
    if labels.ndim != 3:
        raise ValueError(f"expected a 3D label array, got shape {labels.shape}")
    if labels.dtype.kind not in "biu":
        raise ValueError(f"label array dtype {labels.dtype} is not an integer type")
    nz, ny, nx = (int(v) for v in labels.shape)
    if labels.size == 0:
        return {}
    a = labels.view(np.uint8) if labels.dtype == bool else labels
    flat = a.reshape(nz * ny, nx) if a.flags.c_contiguous else np.ascontiguousarray(a).reshape(nz * ny, nx)
    rows = _nonzero_rows(flat)
    if rows.size == 0:
        return {}
    found: dict[int, list[int]] = {}  # value -> [first row, last row, y0, y1, x0, x1 (exclusive), count]
    padded = np.zeros((min(rows.size, _ROWS_PER_STEP), nx + 1), dtype=flat.dtype)
    for start in range(0, rows.size, _ROWS_PER_STEP):
        chunk = rows[start:start + _ROWS_PER_STEP]
        p = padded[: chunk.size]
        p[:, :nx] = flat[chunk]  # the rows with voxels, each followed by a 0: no run crosses a row end
        _add_runs(found, p.reshape(-1), chunk, nx + 1, ny)
    out: dict[int, tuple[BBox, int]] = {}
    for v in sorted(found):
        r0, r1, y0, y1, x0, x1, n = found[v]
        out[v] = (((r0 // ny, r1 // ny + 1), (y0, y1 + 1), (x0, x1)), n)
    return out


def _add_runs(found: dict[int, list[int]], p: np.ndarray, rows: np.ndarray, width: int, ny: int) -> None:
    """Fold the runs of equal non-zero values of ``p`` (rows of ``width``, last column 0) into ``found``.

    Organs are runs along x, far fewer than their voxels: after one comparison pass, all the
    work is per run.
    """
    edges = np.flatnonzero(p[1:] != p[:-1]) + 1  # where a new run starts
    if p[0]:
        edges = np.concatenate(([0], edges))
    starting = p[edges] != 0
    which = np.flatnonzero(starting)
    if which.size == 0:
        return
    s = edges[which]
    e = edges[which + 1]  # a non-zero run always ends before the row's 0 pad
    v = p[s].astype(np.int64)
    local_row, x0 = np.divmod(s, width)
    x1 = e - local_row * width
    row = rows[local_row]
    order = np.argsort(v, kind="stable")
    v, row, x0, x1, length = v[order], row[order], x0[order], x1[order], (e - s)[order]
    first = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1])))
    y = row % ny
    stats = (np.minimum.reduceat(row, first), np.maximum.reduceat(row, first),
             np.minimum.reduceat(y, first), np.maximum.reduceat(y, first),
             np.minimum.reduceat(x0, first), np.maximum.reduceat(x1, first), np.add.reduceat(length, first))
    for k, value in enumerate(v[first].tolist()):
        rec = [int(a[k]) for a in stats]
        old = found.get(value)
        if old is None:
            found[value] = rec
        else:
            found[value] = [min(old[0], rec[0]), max(old[1], rec[1]), min(old[2], rec[2]), max(old[3], rec[3]),
                            min(old[4], rec[4]), max(old[5], rec[5]), old[6] + rec[6]]
