"""SegmentationMask <-> stored entry: the one place where model objects meet the format layer.

``medmask.format`` codes (record, crop) pairs as bytes and knows nothing of masks; this
module describes a mask as a record plus its bounding-box crop, and builds the mask back.
"""
from __future__ import annotations

import numpy as np

from ..core.mapping import LabelMapping
from ..core.segmask import SegmentationMask
from ..format import v2
from ..format.records import EntryInfo


def describe_mask(mask: SegmentationMask, name: str) -> tuple[EntryInfo, np.ndarray | None]:
    """The record (without codec/offset) and the crop that together store ``mask``."""
    bbox = mask.bbox
    info = EntryInfo(name=name, dtype=str(mask.dtype), mapping=mask.mapping.to_dict(), bbox=bbox, codec=None,
                     offset=0, length=0, counts=mask.voxel_counts(), colors=dict(mask.colors),
                     metadata=dict(mask.metadata))
    return info, (None if bbox is None else mask.crop_data)


def encode_mask(mask: SegmentationMask, name: str, level: int = v2.DEFAULT_LEVEL,
                path: str | None = None) -> tuple[EntryInfo, bytes]:
    """``mask`` as a v2 record and payload (the writer fills in the offset); errors name ``path``."""
    info, crop = describe_mask(mask, name)
    return v2.encode_entry(info, crop, level, path)


def mask_from_entry(info: EntryInfo, crop: np.ndarray | None, space) -> SegmentationMask:
    """A crop-backed mask from a record and its decoded crop.

    The record's mapping was checked when it was made: by the index parser (names, unique
    labels that fit its dtype: ``records.valid_mapping``) or by encoding a valid mask; the
    mask does not check it again (a fixed cost on every entry read).
    """
    return SegmentationMask._from_checked_crop(crop, info.bbox, LabelMapping._from_checked(info.mapping), space,
                                               info.dtype, info.colors, info.metadata)


def decode_mask(info: EntryInfo, payload: bytes, space, path: str | None = None) -> SegmentationMask:
    """Verify and decode a v2 payload into a crop-backed mask."""
    return mask_from_entry(info, v2.decode_entry(info, payload, path), space)
