"""medmask: compact, fast, checksummed storage of medical segmentation masks.

>>> from medmask import SegmentationMask, MaskArchive, save_mask, load_mask
"""
from __future__ import annotations

from .core.geometry import axial_space
from .core.image_ref import ImageReference
from .core.mapping import LabelMapping
from .core.segmask import SegmentationMask
from .errors import (ChecksumError, CodecError, ConcurrentModificationError, EntryNotFoundError, FormatError,
                     GeometryError, LabelError, LimitError, MaskOverlapWarning, MedMaskError, OverlapError,
                     UnsupportedVersionError, WriteError)
from .format.records import EntryInfo
from .stats import compare, compute_stats
from .storage.archive import MaskArchive
from .storage.maskfile import load_mask, save_mask

try:
    from importlib.metadata import version as _version
    __version__ = _version("medmask")
except Exception:  # pragma: no cover - running from a source tree without install
    __version__ = "0.2.0"

__all__ = [
    "SegmentationMask", "LabelMapping", "axial_space", "MaskArchive", "EntryInfo", "save_mask", "load_mask",
    "compute_stats", "compare", "ImageReference",
    "MedMaskError", "FormatError", "ChecksumError", "CodecError", "UnsupportedVersionError",
    "EntryNotFoundError", "GeometryError", "LabelError", "OverlapError", "MaskOverlapWarning",
    "ConcurrentModificationError", "LimitError", "WriteError",
]
