"""Per-label voxels, volume, boxes and centroids: from the index alone unless a column needs voxels.

The index of a v2 archive stores, per entry, the voxel count of every label and the
entry's bounding box. That answers voxels, ml and the box of every single-label entry
(all of TotalSegmentator's) without decoding a byte; only centroids and the per-label
boxes of entries holding several labels decode the entry's crop (never a full volume).
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np

from ..core.geometry import BBox
from ..format.records import EntryInfo
from .geometry import box_columns, index_centroid_to_world, label_centroid_and_bbox
from .source import MaskSource

AXES = ("0", "1", "2")
LPS = ("x", "y", "z")
BASE_COLUMNS = ["case", "entry", "label", "value", "voxels", "volume_ml",
                *[f"bbox_start_{a}" for a in AXES], *[f"bbox_stop_{a}" for a in AXES],
                *[f"extent_mm_{a}" for a in AXES],
                *[f"bbox_lps_min_{c}" for c in LPS], *[f"bbox_lps_max_{c}" for c in LPS]]
CENTROID_COLUMNS = [f"centroid_lps_{c}" for c in LPS]


def entry_labels(info: EntryInfo) -> list[tuple[str | None, int]]:
    """(name, value) of every label an entry names or holds voxels of, by value.

    A value with voxels but no name (possible in files from other tools) gets name None
    rather than vanishing from the totals.
    """
    mapping, counts = info.mapping, info.counts or {}
    if len(mapping) == 1 and len(counts) <= 1:  # the common single-label entry
        ((name, value),) = mapping.items()
        if not counts or value in counts:
            return [(name, value)]
    named = {v: n for n, v in mapping.items()}
    values = sorted(set(named) | {v for v, c in counts.items() if c})
    return [(named.get(v), v) for v in values]


def voxel_volume_ml(space) -> float:
    return math.prod(float(s) for s in space.spacing) / 1000.0


_BOX_KEYS = BASE_COLUMNS[6:]





def source_rows(source: MaskSource, *, entries: Iterable[str] | None = None,
                centroid: bool = False) -> list[dict[str, Any]]:
    """One row per (entry, label) of one open file."""
    space = source.space
    ml = voxel_volume_ml(space)
    present = set(source.names)
    names = source.names if entries is None else [n for n in entries if n in present]
    rows: list[dict[str, Any]] = []
    empty_row = dict.fromkeys(BASE_COLUMNS + (CENTROID_COLUMNS if centroid else []))
    empty_row.update(case=source.case, voxels=0, volume_ml=0.0)
    info_of = source.info
    boxed: list[tuple[dict[str, Any], BBox]] = []  # rows whose box columns are filled in one pass at the end
    for name in names:
        info = info_of(name)
        mapping, counts = info.mapping, info.counts
        if not counts and len(mapping) == 1:  # fast path: an empty single-label entry (most of a
            ((label, value),) = mapping.items()  # TotalSegmentator case), nothing to compute
            row = empty_row.copy()
            row["entry"], row["label"], row["value"] = name, label, value
            rows.append(row)
            continue
        labels = entry_labels(info) or [(None, 0)]
        counts = info.counts or {}
        filled = [v for _, v in labels if counts.get(v)]
        per_label: dict[int, tuple[np.ndarray, BBox, int]] = {}
        if filled and (centroid or len(filled) > 1):
            crop = source.crop(name)
            offset = [b[0] for b in info.bbox]  # type: ignore[union-attr]
            for v in filled:
                region = crop if crop.dtype == bool else crop == v  # type: ignore[union-attr]
                found = label_centroid_and_bbox(region, offset)
                if found is not None:
                    per_label[v] = found
        for label, value in labels:
            n = int(counts.get(value, 0))
            row = empty_row.copy()
            row["entry"], row["label"], row["value"] = name, label, value
            if n:
                boxed.append((row, per_label[value][1] if value in per_label else info.bbox))
                row["voxels"], row["volume_ml"] = n, n * ml
                if centroid and value in per_label:  # multi-label boxes decode too: columns follow the flag only
                    world = index_centroid_to_world(space, per_label[value][0])
                    row.update(zip(CENTROID_COLUMNS, (float(v) for v in world)))
            rows.append(row)
    for (row, _), values in zip(boxed, box_columns(space, [box for _, box in boxed])):
        row.update(zip(_BOX_KEYS, values))
    return rows
