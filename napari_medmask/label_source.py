"""Label maps that are not archives: a label NIfTI/NRRD, a ``.seg.nrrd``, a folder of masks (no Qt).

A volume dropped on napari is a *segmentation* when it carries a label table (TotalSegmentator's
``--ml`` XML extension) or, without one, when its voxels look like labels
(:func:`looks_like_labels`); otherwise it is a scan. A segmentation is shown exactly as an
archive: one composite layer, and the dock lists its organs. :class:`LabelSource` gives the
dock the read-only part of :class:`~medmask.MaskArchive`'s interface over the masks read.

``NAPARI_MEDMASK_OPEN_AS``: ``auto`` (default), ``image`` (every NIfTI/NRRD a grey scan, as
napari's own reader) or ``labels`` (every one a segmentation, names ``label_<n>``).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OPEN_AS_ENV", "open_as", "looks_like_labels", "LabelSource", "open_label_source", "is_mask_folder",
           "MAX_LABELS", "MIN_BACKGROUND", "MAX_CHANGES"]

OPEN_AS_ENV = "NAPARI_MEDMASK_OPEN_AS"
MAX_LABELS = 255  # distinct non-zero values a segmentation may have (TotalSegmentator: 117)
MIN_BACKGROUND = 0.5  # fraction of 0 voxels: organs cover a minority of a scan's grid
MAX_CHANGES = 0.3  # fraction of neighbouring non-zero voxels (along x) whose values differ
_SAMPLE = 2_000_000  # voxels looked at to decide (strided), so a 512x512x1000 CT is not scanned whole
_CACHE: OrderedDict = OrderedDict()  # (path, stamp) -> LabelSource: the reader and the dock read once
_CACHE_SIZE = 2


def open_as() -> str:
    """``auto`` | ``image`` | ``labels`` from :data:`OPEN_AS_ENV` (anything else is ``auto``)."""
    value = os.environ.get(OPEN_AS_ENV, "auto").strip().lower()
    return value if value in ("image", "labels") else "auto"


def looks_like_labels(array: np.ndarray) -> bool:
    """Is this volume a label map rather than a scan? Whole numbers >= 0, at most ``MAX_LABELS``
    non-zero values, at least ``MIN_BACKGROUND`` of the voxels 0, and constant inside its regions
    (at most ``MAX_CHANGES`` of neighbouring non-zero voxels differ), on a strided sample.

    A CT has negative HU; an MR has hundreds of grey values, changing from voxel to voxel; a
    mask, a TotalSegmentator label map or a model's output has a few constant regions over a
    mostly empty grid.
    """
    if array.ndim != 3 or array.size == 0 or array.dtype.kind not in "biuf":
        return False
    step = max(1, int(round((array.size / _SAMPLE) ** (1 / 3))))
    sample = np.asarray(array[::step, ::step, ::step])
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(sample)) or not np.array_equal(sample, np.round(sample)):
            return False
    if array.dtype.kind in "if" and float(sample.min()) < 0:
        return False
    if float(sample.max()) > np.iinfo(np.uint32).max:
        return False
    zeros = sample.size - int(np.count_nonzero(sample))
    if zeros < MIN_BACKGROUND * sample.size:
        return False
    values = sample[sample != 0]
    if values.size == 0:
        return True  # an empty mask
    if array.dtype.kind in "bu" and array.dtype.itemsize <= 2:
        distinct = int(np.count_nonzero(np.bincount(values.ravel())))
    else:
        distinct = int(np.unique(values).size)
    if distinct > MAX_LABELS:
        return False
    # organs are constant inside; a scan's grey values change from voxel to voxel (noise, texture),
    # which tells an 8-bit MR with a black background from a label map
    inside = (sample[..., 1:] != 0) & (sample[..., :-1] != 0)
    pairs = int(np.count_nonzero(inside))
    changes = int(np.count_nonzero(inside & (sample[..., 1:] != sample[..., :-1])))
    return pairs == 0 or changes <= MAX_CHANGES * pairs


class LabelSource:
    """Masks read from a file or folder, seen through the read-only part of MaskArchive's interface."""

    mode = "r"

    def __init__(self, path: str | os.PathLike, space, masks: dict[str, Any], image_reference=None):
        from medmask.storage.entries import describe_mask

        self.path = os.path.abspath(os.fspath(path))
        self.space = space
        self.image_reference = image_reference
        self._masks = dict(masks)
        self._infos = {n: describe_mask(m, n)[0] for n, m in self._masks.items()}

    @property
    def read_only_reason(self) -> str:
        name = os.path.basename(self.path)
        return (f"{name} is not a MedMask archive: convert it (medmask convert {name} organs.mska"
                f"{' --split' if len(self._masks) == 1 else ''}) and open the .mska to save edits into it, or "
                f"save the edited layer with File > Save Selected Layers")

    def all_names(self) -> list[str]:
        return list(self._masks)

    def entry_info(self, name: str):
        return self._infos[name]

    def entries(self) -> list:
        return list(self._infos.values())

    def load_segmask(self, name: str):
        return self._masks[name]

    def __contains__(self, name: object) -> bool:
        return name in self._masks

    def close(self) -> None:
        pass

    def __enter__(self) -> "LabelSource":
        return self

    def __exit__(self, *exc) -> bool:
        return False


def is_mask_folder(path: str | os.PathLike) -> bool:
    """A folder holding NIfTI files (TotalSegmentator's ``segmentations/``)."""
    p = Path(path)
    return p.is_dir() and any(f.name.lower().endswith((".nii", ".nii.gz")) for f in p.iterdir())


def _stamp(path: Path) -> tuple:
    st = path.stat()
    if path.is_dir():
        return (st.st_mtime_ns, tuple(sorted((f.name, f.stat().st_size, f.stat().st_mtime_ns)
                                            for f in path.iterdir() if f.is_file())))
    return (st.st_mtime_ns, st.st_size)


def _scan_for(path: Path, space):
    """The scan of TotalSegmentator's layout (``<case>/ct.nii.gz`` beside ``segmentations/``, or a
    ``ct.nii.gz`` beside the label file) when it lies on the masks' grid, as an ImageReference."""
    import warnings

    from medmask.convert.image_link import TOTALSEG_IMAGE, image_reference_for, totalseg_image_for

    folder = path if path.is_dir() else path.parent
    for candidate in (totalseg_image_for(folder), folder / TOTALSEG_IMAGE):
        if candidate is None or not candidate.is_file():
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return image_reference_for(candidate, path, space)
        except Exception:  # another grid, unreadable: the organs still open, without it
            continue
    return None


def _read(path: Path, array=None, space=None) -> LabelSource:
    from medmask.convert.api import load_items, path_kind

    name = path.name
    if path.is_dir():
        from medmask.convert.nifti_folder import read_nifti_folder

        space, items = read_nifti_folder(path, skip_bad=True, force=True)
        masks = dict(items)
    elif name.lower().endswith((".seg.nrrd", ".seg.nhdr")) or path_kind(path) == "nifti":
        space, items, _ = load_items(path, force=True)
        stem = items[0][0] if len(items) == 1 and items[0][0] is not None else None
        masks = {(n if n is not None else (stem or _stem(name))): m for n, m in items}
    else:  # a plain NRRD label volume, names label_<n> (or the file's for a binary one)
        if array is None:
            from medmask.convert.image_io import read_image

            array, space = read_image(path)
        masks = {_stem(name): _mask_of(array, space, _stem(name))}
    return LabelSource(path, space, masks, _scan_for(path, space))


def _mask_of(array, space, stem: str):
    from medmask import SegmentationMask
    from medmask.core.dtypes import smallest_label_dtype

    data = np.asarray(array)
    present = [int(v) for v in np.unique(data) if v]
    mapping = {stem: 1} if present in ([], [1]) else {f"label_{v}": v for v in present}
    data = data.astype(smallest_label_dtype(max(present, default=1)), copy=False)
    return SegmentationMask(data, mapping, space=space)


def _stem(name: str) -> str:
    low = name.lower()
    for suffix in (".seg.nrrd", ".seg.nhdr", ".nii.gz", ".nii", ".nrrd", ".nhdr"):
        if low.endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_label_source(path: str | os.PathLike, array=None, space=None) -> LabelSource:
    """The masks of a label file or mask folder, read once per version of the file (kept for the dock).

    ``array``/``space``: the voxels already read (a plain NRRD needs them; NIfTI files are read
    again by medmask's label reader, which knows their label tables).
    """
    p = Path(os.path.abspath(os.fspath(path)))
    key = (str(p), _stamp(p))
    source = _CACHE.get(key)
    if source is None:
        source = _read(p, array, space)
        _CACHE[key] = source
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return source
