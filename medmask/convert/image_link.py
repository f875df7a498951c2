"""Link an archive to its scan: build, check and auto-detect image references (reads headers).

The pure reference (path + fingerprint, tolerance) is :mod:`medmask.core.image_ref`; this
module adds what needs the disk: reading the image's header to build or check one, and
finding TotalSegmentator's ``<case>/ct.nii.gz`` next to ``<case>/segmentations/``.

    >>> ref = image_reference_for("case/ct.nii.gz", "case/organs.mska", masks_space)  # GeometryError if off
    >>> check_image(archive.image_reference, "case/organs.mska")                     # ImageCheck(ok=..., problem=...)
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from spacetransformer import Space

from ..core.image_ref import ImageReference
from ..errors import ConversionError, GeometryError, MedMaskError
from .image_io import read_image_header

TOTALSEG_IMAGE = "ct.nii.gz"
TOTALSEG_MASKS = "segmentations"


REORDERED = "recorded as it is: stats, napari and DICOM-SEG export reorder exactly, nothing is resampled"


class ImageNotRecordedWarning(UserWarning):
    """A scan was found next to the masks but not recorded (its grid differs, or it is unreadable)."""



def image_reference_for(image_path: str | os.PathLike, archive_path: str | os.PathLike,
                        mask_space: Space | None = None, *, tol: float | None = None,
                        force: bool = False, reordered: str = REORDERED) -> ImageReference:
    """An :class:`ImageReference` to ``image_path`` for an archive at ``archive_path``.

    Reads the image's header only. With ``mask_space``, the image's grid must hold the masks'
    voxels within ``tol`` mm, in any axis order (:func:`medmask.core.grid_match.match`; another
    order is recorded with an info line, readers reorder): GeometryError naming both files and
    how the grids differ (:meth:`ImageReference.differences`) otherwise, unless ``force`` (then a warning).
    ``reordered``: what the info line says is done about another axis order.
    """
    from ..core.grid_match import log_reorder, match

    space = read_image_header(image_path)
    ref = ImageReference.from_image(image_path, space, archive_path)
    if mask_space is not None:
        order = match(mask_space, space, tol)
        if order is not None and not order.identity:  # e.g. a dicom2nifti NIfTI of the series: rows reversed
            log_reorder(f"{os.fspath(archive_path)}: its scan {os.fspath(image_path)}", order, reordered)
        masks = ImageReference.from_image(image_path, mask_space, archive_path)
        diffs = [] if order is not None else masks.differences(space, tol, ours="the masks'")
        if diffs:
            msg = f"{os.fspath(image_path)} is not on the masks' grid: {'; '.join(diffs)}"
            if not force:
                raise GeometryError(msg + " (force_image=True / --force-image records it anyway)", archive_path)
            warnings.warn(f"{os.fspath(archive_path)}: {msg}; recorded anyway (forced)", stacklevel=2)
    return ref


@dataclass(frozen=True)
class ImageCheck:
    """Outcome of looking for an archive's scan: ``ok``, or ``problem`` says what is wrong."""

    path: Path            # where the reference points to
    ok: bool
    problem: str = ""     # '' | 'missing: ...' | 'unreadable: ...' | 'mismatch: ...'
    space: Space | None = None  # the found image's grid, when it could be read


def check_image(ref: ImageReference, archive_path: str | os.PathLike, *, tol: float | None = None) -> ImageCheck:
    """Resolve ``ref`` next to ``archive_path`` and compare the file's header to the fingerprint."""
    path = ref.resolve(archive_path)
    if not path.exists():  # a scan file, or a DICOM series folder
        return ImageCheck(path, False, f"missing: no image at {path} (recorded as {ref.path!r})")
    try:
        space = read_image_header(path)
    except MedMaskError as exc:
        return ImageCheck(path, False, f"unreadable: {exc.problem}")
    diffs = ref.differences(space, tol)
    if diffs:
        return ImageCheck(path, False, f"mismatch: {path} is not the recorded image: {'; '.join(diffs)}", space)
    return ImageCheck(path, True, "", space)


def totalseg_image_for(masks_folder: str | os.PathLike) -> Path | None:
    """``<case>/ct.nii.gz`` for TotalSegmentator's ``<case>/segmentations/`` layout, if present."""
    folder = Path(os.path.abspath(masks_folder))
    if folder.name != TOTALSEG_MASKS:
        return None
    candidate = folder.parent / TOTALSEG_IMAGE
    return candidate if candidate.is_file() else None


def conversion_image_reference(image, src: str | os.PathLike, dst: str | os.PathLike, space: Space, *,
                               force: bool = False) -> ImageReference | None:
    """The reference a conversion ``src`` -> archive ``dst`` (masks on ``space``) records.

    ``image``: a path (recorded; GeometryError if its grid is not ``space``, unless
    ``force``), ``None`` (automatic: TotalSegmentator's ``<case>/ct.nii.gz`` when ``src``
    is ``<case>/segmentations``; one that does not fit is left out with an
    :class:`ImageNotRecordedWarning`) or ``False`` (record nothing).
    """
    if image is False:
        return None
    if image is not None:
        path = Path(image)
        if not path.exists():
            raise ConversionError("image not found", path)
        return image_reference_for(path, dst, space, force=force)
    found = totalseg_image_for(src)
    if found is None:
        return None
    try:
        return image_reference_for(found, dst, space, force=force)
    except MedMaskError as exc:
        warnings.warn(f"{found} not recorded as the scan of {os.fspath(dst)}: {exc.problem}",
                      ImageNotRecordedWarning, stacklevel=2)
        return None


__all__ = ["image_reference_for", "check_image", "ImageCheck", "totalseg_image_for", "conversion_image_reference",
           "ImageNotRecordedWarning"]
