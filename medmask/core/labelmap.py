"""One label map (a model's or TotalSegmentator's ``--ml`` output) -> one binary mask per name.

Pure array logic: :meth:`medmask.MaskArchive.add_labelmap` stores what :func:`split_labelmap`
returns. Every box comes from one pass over the volume (:func:`~medmask.core.label_boxes.label_boxes`);
each organ then costs one comparison over its own box, never over the whole volume.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
from spacetransformer import Space

from ..errors import GeometryError, LabelError
from .geometry import bbox_slices
from .label_boxes import label_boxes

__all__ = ["split_labelmap", "check_label_names"]


def check_label_names(names: Mapping[str, int]) -> dict[str, int]:
    """``names`` as {str: int >= 1} with one name per value; LabelError naming the offending pair."""
    out: dict[str, int] = {}
    owner: dict[int, str] = {}
    for name, value in names.items():
        if not isinstance(name, str) or not name:
            raise LabelError(f"label names must be non-empty strings, got {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
            raise LabelError(f"label value of {name!r} must be an integer >= 1, got {value!r}")
        value = int(value)
        if value in owner:
            raise LabelError(f"{owner[value]!r} and {name!r} both name label {value}")
        owner[value] = name
        out[name] = value
    return out


def split_labelmap(labels: np.ndarray, names: Mapping[str, int], space: Space, *,
                   colors: Mapping[str, Sequence[float]] | None = None,
                   metadata: Mapping[str, Any] | None = None):
    """{name: binary SegmentationMask} for every name of ``names`` and every value present.

    A named value without voxels gives an empty mask (the name is kept: "not found" is an
    answer); a value present but not named is kept as ``label_<v>``, so no voxel is lost.
    ``colors`` (name -> rgba) and ``metadata`` (copied onto every mask) are optional.
    """
    from .segmask import SegmentationMask, _as_label_array

    arr = _as_label_array(labels)  # 3D, bool or unsigned, no negative value: what a mask may hold
    if tuple(space.shape) != tuple(arr.shape):
        raise GeometryError(f"label map shape {arr.shape} does not match the space's {tuple(space.shape)}")
    names = check_label_names(names)
    boxes = label_boxes(arr)
    by_value = {v: n for n, v in names.items()}
    for v in boxes:
        if v not in by_value:
            name = f"label_{v}"
            while name in names:
                name += "_"
            names[name] = by_value[v] = v
    colors = dict(colors or {})
    out = {}
    for name, value in sorted(names.items(), key=lambda kv: kv[1]):
        extra = {"colors": {name: colors[name]}} if name in colors else {}
        box = boxes.get(value, (None, 0))[0]
        crop = None
        if box is not None:
            region = arr[bbox_slices(box)]
            crop = region != 0 if arr.dtype == bool else region == value
        out[name] = SegmentationMask.from_crop(crop, box, {name: 1}, space, np.bool_, metadata=metadata, **extra)
    return out
