"""A folder of binary NIfTI masks (TotalSegmentator's ``segmentations/``) <-> one ``.mska``.

One entry per file, named after the file; empty masks are kept as empty entries. Only
headers are read to check the folder; then one file at a time is in memory.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from spacetransformer import Space

from ..core.dtypes import smallest_label_dtype
from ..reporting import progress
from ..errors import ConversionError, MedMaskError
from ..storage.archive_builder import write_archive
from ._geometry import nifti_shape, space_from_ras_affine, spaces_close
from .nifti import (NIFTI_META_KEY, _load, header_record, list_nifti_files, nifti_stem, read_nifti,
                    safe_file_stem, save_nifti_mask)


def _progress(iterable, enabled: bool, desc: str, total: int | None = None):
    return progress(iterable, enabled, desc, total=total, unit="file")


def _header_space(path: Path) -> tuple[Space, dict[str, Any]]:
    img = _load(path, header_only=True)
    shape = tuple(int(v) for v in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise ConversionError(f"expected a 3D label image, got shape {tuple(img.shape)}", path)
    return space_from_ras_affine(img.affine, shape, path=path), header_record(img)


def scan_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1) -> tuple[Space, list[Path]]:
    """(archive Space, files) of a folder of label NIfTIs; reads headers only.

    All files must share one grid. Header affines that differ only by float noise
    (every corner voxel within ``voxel_tolerance`` of a voxel, as TotalSegmentator's
    float32 headers do) are accepted: the archive takes the most common affine and each
    entry keeps its own header fields, for an exact way back.
    """
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise ConversionError("not a folder" if src_dir.exists() else "no such folder", src_dir)
    files = list_nifti_files(src_dir)
    if not files:
        raise ConversionError("folder holds no .nii/.nii.gz files", src_dir)
    spaces = [(f, _header_space(f)[0]) for f in files]
    keys = Counter(json.dumps(_space_key(s)) for _, s in spaces)
    best = keys.most_common(1)[0][0]
    ref = next(s for _, s in spaces if json.dumps(_space_key(s)) == best)
    seen: dict[str, Path] = {}
    for f, space in spaces:
        if tuple(space.shape) != tuple(ref.shape):
            raise ConversionError(f"shape {nifti_shape(space)} differs from the other files' {nifti_shape(ref)}", f)
        if not spaces_close(space, ref, voxel_tolerance):
            raise ConversionError("geometry (affine) differs from the other files in the folder", f)
        name = nifti_stem(f)
        if name in seen:
            raise ConversionError(f"{seen[name].name} and {f.name} give the same entry name {name!r}", f)
        seen[name] = f
    return ref, files


def _fast_bbox(data: np.ndarray):
    """Half-open bbox of the non-zero voxels without a full-size temporary (None if empty)."""
    from ..core.geometry import compute_bbox

    if data.dtype.kind not in "bu":
        return compute_bbox(data)
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        proj = np.flatnonzero(data.max(axis=other)) if data.size else np.array([], int)
        if proj.size == 0:
            return None
        box.append((int(proj[0]), int(proj[-1]) + 1))
    return tuple(box)


def binary_file_mask(path: str | os.PathLike, space: Space):
    """One file of a mask folder as a crop-backed SegmentationMask on ``space``.

    Label 1 is named after the file; a file holding one other value v keeps v; a file
    holding several values gets ``<name>_<v>`` names. Only the bounding-box crop is kept.
    """
    from ..core.geometry import bbox_slices, compute_bbox
    from ..core.segmask import SegmentationMask

    path = Path(path)
    name = nifti_stem(path)
    data, fspace, rec, _img = read_nifti(path)
    if tuple(fspace.shape) != tuple(space.shape):
        raise ConversionError(f"shape {nifti_shape(fspace)} differs from {nifti_shape(space)}", path)
    bbox = _fast_bbox(data)
    crop = np.ascontiguousarray(data[bbox_slices(bbox)]) if bbox is not None else None
    present: list[int] = []
    if crop is not None:
        if crop.dtype == bool or int(crop.max()) <= 1:
            present = [1]
        elif crop.dtype == np.uint8:
            present = [int(v) for v in np.flatnonzero(np.bincount(crop.ravel())) if v]
        else:
            present = [int(v) for v in np.unique(crop) if v]
    if present in ([], [1]):
        mapping, dtype = {name: 1}, np.dtype(bool)
    elif len(present) == 1:
        mapping, dtype = {name: present[0]}, None
    else:
        mapping, dtype = {f"{name}_{v}": v for v in present}, None
    if dtype is None:
        dtype = smallest_label_dtype(max(present))
    if crop is not None:
        crop = crop.astype(dtype, copy=False)
    try:
        return name, SegmentationMask.from_crop(crop, bbox, mapping, space, dtype, metadata={NIFTI_META_KEY: rec})
    except MedMaskError as exc:
        raise ConversionError(exc.problem, path) from None


def iter_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1, progress: bool = False):
    """(space, iterator of (entry name, mask)) for a folder of binary masks; one file in memory at a time."""
    space, files = scan_nifti_folder(src_dir, voxel_tolerance=voxel_tolerance)

    def gen():
        for f in _progress(files, progress, f"{Path(src_dir).name}", total=len(files)):
            yield binary_file_mask(f, space)

    return space, gen()


def read_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1, progress: bool = False):
    """(space, [(entry name, mask)]) of a folder of binary masks (see :func:`scan_nifti_folder`)."""
    space, it = iter_nifti_folder(src_dir, voxel_tolerance=voxel_tolerance, progress=progress)
    return space, list(it)


def _space_key(space: Space) -> list:
    from ..core.geometry import space_to_dict

    d = space_to_dict(space)
    return [d[k] for k in sorted(d)]


def nifti_folder_to_archive(src_dir: str | os.PathLike, dst: str | os.PathLike, *, overwrite: bool = True,
                            voxel_tolerance: float = 0.1, progress: bool = False, image=None,
                            force_image: bool = False) -> Path:
    """Folder of binary ``.nii.gz`` masks -> one ``.mska`` (written atomically).

    ``image``: the scan to record (path), None to record TotalSegmentator's
    ``<case>/ct.nii.gz`` when present, False for none (see
    :func:`medmask.convert.image_link.conversion_image_reference`).
    """
    from .image_link import conversion_image_reference

    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise ConversionError("already exists", dst)
    space, masks = iter_nifti_folder(src_dir, voxel_tolerance=voxel_tolerance, progress=progress)
    ref = conversion_image_reference(image, src_dir, dst, space, force=force_image)  # before decoding any mask
    write_archive(dst, space, masks, image=ref)
    return dst


def archive_to_nifti_folder(src: str | os.PathLike, dst_dir: str | os.PathLike, *, names: Iterable[str] | None = None,
                            progress: bool = False, suffix: str = ".nii.gz") -> list[Path]:
    """Every entry (or those in ``names``) of a ``.mska`` -> ``dst_dir/<entry>.nii.gz``."""
    from .. import MaskArchive

    dst_dir = Path(dst_dir)
    dst_dir.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    with MaskArchive(src, mode="r") as archive:
        wanted = list(names) if names is not None else list(archive.all_names())
        used: set[str] = set()
        for name in _progress(wanted, progress, f"writing {dst_dir.name}", total=len(wanted)):
            mask = archive.load_segmask(name)
            stem = safe_file_stem(name)
            while stem.lower() in used:
                stem += "_"
            used.add(stem.lower())
            plain = mask.mapping.to_dict() == {name: 1}
            out.append(save_nifti_mask(mask, dst_dir / f"{stem}{suffix}", label_names=not plain))
    return out
