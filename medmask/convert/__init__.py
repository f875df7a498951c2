"""Conversions between medmask files and NIfTI / 3D Slicer ``.seg.nrrd`` (see docs/interop.md).

>>> from medmask.convert import convert
>>> convert("s0000/segmentations", "s0000.mska")          # folder of binary masks -> archive
>>> convert("s0000.mska", "s0000.seg.nrrd")               # -> 3D Slicer
>>> convert("ml.nii.gz", "ml.msk", labels="total")        # TotalSegmentator --ml output -> .msk
"""
from __future__ import annotations

from ._geometry import ras_affine_from_space, space_from_nrrd_geometry, space_from_ras_affine
from .api import convert, convert_examples, load_items, merge_items, path_kind
from .label_names import read_label_names
from .nifti import load_nifti_mask, mask_to_nifti_image, save_nifti_mask
from .nifti_folder import archive_to_nifti_folder, nifti_folder_to_archive, read_nifti_folder
from .seg_nrrd import (archive_to_seg_nrrd, mask_to_seg_nrrd, medmask_to_seg_nrrd, read_seg_nrrd,
                     seg_nrrd_to_archive, seg_nrrd_to_mask, write_seg_nrrd)

__all__ = [
    "convert", "convert_examples", "load_items", "merge_items", "path_kind",
    "space_from_ras_affine", "ras_affine_from_space", "space_from_nrrd_geometry",
    "archive_to_nifti_folder", "load_nifti_mask", "mask_to_nifti_image", "nifti_folder_to_archive",
    "read_label_names", "read_nifti_folder", "save_nifti_mask",
    "archive_to_seg_nrrd", "mask_to_seg_nrrd", "medmask_to_seg_nrrd", "read_seg_nrrd", "seg_nrrd_to_archive",
    "seg_nrrd_to_mask", "write_seg_nrrd",
]
