"""A folder of binary NIfTI masks (TotalSegmentator's ``segmentations/``) <-> one ``.mska``.

One entry per file, named after the file; empty masks are kept as empty entries. Only
headers are read to check the folder; then one file at a time is in memory.
"""
from __future__ import annotations

import functools
import json
import math
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from spacetransformer import Space

from ..core.dtypes import smallest_label_dtype
from ..core.grid_match import IDENTITY, AxisMatch, log_reorder, match
from ..errors import ConversionError, GeometryWarning, MedMaskError, SkippedFileWarning
from ..limits import usable_cores
from ..optional import progress_bar
from ..storage.archive_builder import write_archive
from ..storage.atomic_folder import atomic_folder
from .file_pool import make_pool, ordered_map
from ._geometry import nifti_shape, space_from_ras_affine, spaces_close
from .nifti import (NIFTI_META_KEY, header_record, is_nifti_file, list_nifti_files, nifti_stem, read_nifti_header,
                    read_nifti_labels, refuse_image, safe_file_stem, save_nifti_mask, sform_qform_gap,
                    sform_qform_message)


def _header_space(path: Path, gaps: dict | None = None) -> tuple[Space, dict[str, Any]]:
    hdr = read_nifti_header(path)
    full_shape = tuple(int(v) for v in hdr.get_data_shape())
    shape = full_shape
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise ConversionError(f"expected a 3D label image, got shape {full_shape}", path)
    space = space_from_ras_affine(hdr.get_best_affine(), shape, path=path)
    if gaps is not None:
        gap = sform_qform_gap(hdr, shape)
        if gap > 0.1 * float(min(space.spacing)):
            gaps[path] = gap
    return space, header_record(hdr)


def skip_file(exc: ConversionError) -> None:
    """Tell the user a file was left out (``skip_bad``), naming it and why, on one line."""
    warnings.warn(f"skipped {exc}", SkippedFileWarning, stacklevel=3)


def scan_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1,
                      skip_bad: bool = False) -> tuple[Space, list[Path]]:
    """(archive Space, files) of a folder of label NIfTIs; reads headers only.

    All files must hold the same voxels. Header affines that differ only by float noise
    (every corner voxel within ``voxel_tolerance`` of a voxel, as TotalSegmentator's
    float32 headers do) are accepted: the archive takes the most common affine and each
    entry keeps its own header fields, for an exact way back. A file storing the same
    voxels in another axis order (rows reversed by ITK-SNAP or Slicer, say) is reordered
    into the archive's order when read (see :func:`scan_nifti_folder_orders`). A file that
    is unreadable or on another grid is an error naming it, or with ``skip_bad`` a
    :class:`SkippedFileWarning` and left out.
    """
    space, found = scan_nifti_folder_orders(src_dir, voxel_tolerance=voxel_tolerance, skip_bad=skip_bad)
    return space, [f for f, _ in found]


def scan_nifti_folder_orders(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1,
                             skip_bad: bool = False) -> tuple[Space, list[tuple[Path, AxisMatch]]]:
    """(archive Space, [(file, how its array reads in the archive's axis order)]): :func:`scan_nifti_folder`
    with each kept file's :class:`~medmask.core.grid_match.AxisMatch` (the identity for all but files in
    another axis order; those get one info line for the folder)."""
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise ConversionError("not a folder" if src_dir.exists() else "no such folder", src_dir)
    files = list_nifti_files(src_dir)
    if not files:
        raise ConversionError("folder holds no .nii/.nii.gz files", src_dir)
    spaces = []
    gaps: dict[Path, float] = {}
    for f in files:
        try:
            spaces.append((f, _header_space(f, gaps)[0]))
        except ConversionError as exc:
            if not skip_bad:
                raise
            skip_file(exc)
    if gaps:  # one line for the folder, not one per file
        worst = max(gaps, key=gaps.get)
        warnings.warn(f"{src_dir}: {len(gaps)} of {len(files)} files (e.g. {worst.name}): "
                      f"{sform_qform_message(gaps[worst])}", GeometryWarning, stacklevel=2)
    if not spaces:
        raise ConversionError("no readable mask file in the folder", src_dir)
    keys = Counter(json.dumps(_space_key(s)) for _, s in spaces)
    best = keys.most_common(1)[0][0]
    ref = next(s for _, s in spaces if json.dumps(_space_key(s)) == best)
    seen: dict[str, Path] = {}
    kept: list[tuple[Path, AxisMatch]] = []
    reordered: list[tuple[Path, AxisMatch]] = []
    for f, space in spaces:
        problem = None
        order: AxisMatch | None = IDENTITY
        if tuple(space.shape) != tuple(ref.shape) or not spaces_close(space, ref, voxel_tolerance):
            tol = voxel_tolerance * float(min(min(space.spacing), min(ref.spacing)))
            order = match(space, ref, tol)
            if order is None:  # really another grid: today's words
                if tuple(space.shape) != tuple(ref.shape):
                    problem = f"shape {nifti_shape(space)} differs from the other files' {nifti_shape(ref)}"
                else:
                    problem = "geometry (affine) differs from the other files in the folder"
            elif not order.identity:
                reordered.append((f, order))
        if problem is not None:
            if not skip_bad:
                raise ConversionError(problem + "; pass skip_bad (--skip-bad) to leave it out", f)
            skip_file(ConversionError(problem, f))
            continue
        name = nifti_stem(f)
        if name in seen:
            raise ConversionError(f"{seen[name].name} and {f.name} give the same entry name {name!r}", f)
        seen[name] = f
        kept.append((f, order))  # type: ignore[arg-type]
    if reordered:  # one line for the folder, not one per file
        f, order = reordered[0]
        log_reorder(f"{src_dir}: {len(reordered)} of {len(kept)} files (e.g. {f.name})", order,
                    "read into the other files' order exactly, nothing resampled; written back in their own")
    return ref, kept


def _mask_crop(path: Path, space: Space, order: AxisMatch = IDENTITY):
    """(bbox, crop or None, header record) of one mask file on ``space``: streamed when the file allows
    (only the organ's box is ever held whole, see :mod:`.nifti_stream`), else read whole.

    ``order``: how the file's array reads in ``space``'s axis order; box and crop come back in that
    order (the crop a view of the file's)."""
    from ..core.geometry import bbox_slices, compute_bbox
    from .nifti import _as_labels, header_record
    from .nifti_stream import read_label_crop

    streamed = read_label_crop(path)
    if streamed is None:
        data, rec, _hdr = read_nifti_labels(path)
        shape = data.shape
        bbox = compute_bbox(data)
        crop = None if bbox is None else np.ascontiguousarray(data[bbox_slices(bbox)])
    else:
        hdr, bbox, crop = streamed
        rec = header_record(hdr)
        shape = tuple(int(v) for v in reversed(hdr.get_data_shape()[:3]))
        if crop is not None:
            crop = _as_labels(crop, path)  # the general path checks the whole volume; every non-zero voxel is here
    if order.shape(shape) != tuple(space.shape):
        want = tuple(reversed(order.inverse().shape(space.shape)))
        raise ConversionError(f"shape {tuple(reversed(shape))} differs from {want}", path)
    if not order.identity and bbox is not None:
        bbox, crop = order.box(bbox, shape), order.reorder(crop)
    return bbox, crop, rec


def binary_file_mask(path: str | os.PathLike, space: Space, *, force: bool = False, order: AxisMatch = IDENTITY):
    """One file of a mask folder as a crop-backed SegmentationMask on ``space``.

    Label 1 is named after the file; a file holding one other value v keeps v; a file
    holding several values gets ``<name>_<v>`` names. Only the bounding-box crop is kept.
    A file that looks like an image (a ``ct.nii.gz`` among the masks) is refused unless ``force``.
    ``order``: the file stores ``space``'s voxels in another axis order (see
    :func:`scan_nifti_folder_orders`); its own header record is kept, so writing the entry
    as NIfTI gives the file back in its own order.
    """
    from ..core.segmask import SegmentationMask

    path = Path(path)
    name = nifti_stem(path)
    bbox, crop, rec = _mask_crop(path, space, order)
    present: list[int] = []
    if crop is not None:
        if crop.dtype == bool or int(crop.max()) <= 1:
            present = [1]
        elif crop.dtype == np.uint8:
            present = [int(v) for v in np.flatnonzero(np.bincount(crop.ravel())) if v]
        else:
            present = [int(v) for v in np.unique(crop) if v]
        if len(present) > 1:
            refuse_image(crop, len(present) + 1, path, force=force, n_voxels=math.prod(space.shape))
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


def iter_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1, progress: bool = False,
                      skip_bad: bool = False, force: bool = False, threads: int | None = None,
                      processes: bool | None = None):
    """(space, iterator of (entry name, mask)) for a folder of binary masks, in file order.

    ``threads`` files are read at once (default: one per core), a few ahead of the consumer;
    each holds only its organ's box. ``processes``: read them in forked worker processes
    (None: whenever this process has no other thread, see :mod:`.file_pool`), else threads. A file that is not
    a mask is an error naming it, or with ``skip_bad`` a :class:`SkippedFileWarning` and left out.
    """
    space, found = scan_nifti_folder_orders(src_dir, voxel_tolerance=voxel_tolerance, skip_bad=skip_bad)
    orders = dict(found)
    files = list(orders)
    threads = usable_cores() if threads is None else max(1, int(threads))

    read = functools.partial(_read_file, space=space, force=force)

    def gen():
        # made before the progress bar starts its thread: forking needs a process without other threads
        pool = None if threads == 1 or len(files) < 2 else make_pool(threads, processes)
        results = ordered_map(pool, read, orders.items(), ahead=2 * threads)  # 2 a worker: busy, little held
        try:
            for item, error in progress_bar(results, progress, f"{Path(src_dir).name}", total=len(files)):
                if error is not None:
                    if not isinstance(error, ConversionError) or not skip_bad:
                        raise error
                    skip_file(error)
                    continue
                yield item
        finally:
            results.close()  # cancels what is queued
            if pool is not None:
                pool.shutdown(wait=True)

    return space, gen()


def _read_file(item: tuple[Path, AxisMatch], *, space: Space, force: bool):
    f, order = item
    return binary_file_mask(f, space, force=force, order=order)


def read_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1, progress: bool = False,
                      skip_bad: bool = False, force: bool = False, threads: int | None = None):
    """(space, [(entry name, mask)]) of a folder of binary masks (see :func:`scan_nifti_folder`)."""
    space, it = iter_nifti_folder(src_dir, voxel_tolerance=voxel_tolerance, progress=progress, skip_bad=skip_bad,
                                  force=force, threads=threads)
    return space, list(it)


def _space_key(space: Space) -> list:
    from ..core.geometry import space_to_dict

    d = space_to_dict(space)
    return [d[k] for k in sorted(d)]


def nifti_folder_to_archive(src_dir: str | os.PathLike, dst: str | os.PathLike, *, overwrite: bool = True,
                            voxel_tolerance: float = 0.1, progress: bool = False, skip_bad: bool = False,
                            force: bool = False, image=None, force_image: bool = False,
                            format_version: int | str | None = None, threads: int | None = None,
                            processes: bool | None = None) -> Path:
    """Folder of binary ``.nii.gz`` masks -> one ``.mska`` (written atomically).

    ``image``: the scan to record (path), None to record TotalSegmentator's
    ``<case>/ct.nii.gz`` when present, False for none (see
    :func:`medmask.convert.image_link.conversion_image_reference`). ``skip_bad``, ``force``:
    see :func:`iter_nifti_folder`; ``threads``: files read at once (default one per core), in worker
    processes or threads (``processes``, see :func:`iter_nifti_folder`).
    """
    from .image_link import conversion_image_reference

    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise ConversionError("exists; pass --overwrite (overwrite=True) to replace it", dst)
    space, masks = iter_nifti_folder(src_dir, voxel_tolerance=voxel_tolerance, progress=progress, skip_bad=skip_bad,
                                     force=force, threads=threads, processes=processes)
    ref = conversion_image_reference(image, src_dir, dst, space, force=force_image)  # before decoding any mask
    write_archive(dst, space, masks, image=ref, format_version=format_version)
    return dst


def archive_to_nifti_folder(src: str | os.PathLike, dst_dir: str | os.PathLike, *, names: Iterable[str] | None = None,
                            progress: bool = False, suffix: str = ".nii.gz", orthonormalize: bool = False,
                            storage_options: dict | None = None) -> list[Path]:
    """Every entry (or those in ``names``) of a ``.mska`` (a path, or a URL read with ``storage_options``)
    -> ``dst_dir/<entry>.nii.gz``."""
    from .. import MaskArchive

    dst_dir = Path(dst_dir)
    names_out: list[str] = []
    with MaskArchive(src, mode="r", storage_options=storage_options) as archive, \
            atomic_folder(dst_dir, owned=is_nifti_file) as tmp:
        wanted = list(names) if names is not None else list(archive.all_names())
        used: set[str] = set()
        for name in progress_bar(wanted, progress, f"writing {dst_dir.name}", total=len(wanted)):
            mask = archive.load_segmask(name)
            stem = safe_file_stem(name)
            while stem.lower() in used:
                stem += "_"
            used.add(stem.lower())
            plain = mask.mapping.to_dict() == {name: 1}
            names_out.append(save_nifti_mask(mask, tmp / f"{stem}{suffix}", label_names=not plain,
                                             orthonormalize=orthonormalize).name)
    return [dst_dir / n for n in names_out]
