"""Conversions between medmask files and NIfTI / 3D Slicer ``.seg.nrrd`` (see docs/interop.md)."""
from __future__ import annotations

from .nifti import (archive_to_nifti_folder, load_nifti_mask, nifti_folder_to_archive, read_label_names,
                    read_nifti_folder, save_nifti_mask)

__all__ = [
    "archive_to_nifti_folder", "load_nifti_mask", "nifti_folder_to_archive", "read_label_names",
    "read_nifti_folder", "save_nifti_mask",
]
