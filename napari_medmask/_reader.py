"""napari reader: ``.mska`` archives, ``.msk`` masks, NIfTI / NRRD scans -> layer data, nothing else.

As napari's plugin template has it, :func:`get_reader` returns a function or None and that
function only returns layer data: it opens no widget, keeps no state and touches no viewer.
The "MedMask archive" dock finds what it manages from ``layer.metadata["medmask"]``.

* An archive becomes one Labels layer named like the file (``organs.mska``): the composite label volume of every
  non-empty entry (:mod:`napari_medmask.composite`), overlaps included, drawn in the entries'
  colours; entries mostly drawn by smaller ones (aggregates, duplicates) start hidden.
* A ``.msk`` becomes one Labels layer.
* A scan (``.nii``, ``.nii.gz``, ``.nrrd``, ``.nhdr``) becomes an Image layer:
  grey, CT soft-tissue window W400/L40 or auto contrast for other scans, a view of the one array
  read (no copy).
* A segmentation (a NIfTI with a label table, a ``.seg.nrrd``, a volume whose voxels look like
  labels, a folder of mask NIfTIs) opens exactly as an archive: its composite layer, over
  TotalSegmentator's ``ct.nii.gz`` when it lies beside (:mod:`napari_medmask.label_source`).
Every layer is placed in its own display frame (:mod:`napari_medmask.frame`): a scan and the
masks made on its grid overlay voxel-exactly with no viewer state involved.
"""
from __future__ import annotations

import os
from typing import Callable

from ._layers import META_KEY, image_layer_data, mask_to_layer_data

IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr")
SEGMENTATION_SUFFIXES = (".seg.nrrd", ".seg.nhdr")


def get_reader(path: str | list[str]) -> Callable | None:
    from .label_source import is_mask_folder, open_as

    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    low = os.fspath(path).lower()
    if low.endswith(".mska"):
        return read_archive_path
    if low.endswith(".msk"):
        return read_mask_path
    if low.endswith(SEGMENTATION_SUFFIXES):
        return read_labels_path
    if low.endswith(IMAGE_SUFFIXES):
        return read_volume_path
    if os.path.isdir(path) and open_as() != "image" and is_mask_folder(path):
        return read_labels_path
    return None


def _one(path: str | list[str]) -> str:
    return os.path.abspath(os.fspath(path[0] if isinstance(path, (list, tuple)) else path))


def _stem(path: str) -> str:
    name = os.path.basename(path)
    for suffix in (".nii.gz", *IMAGE_SUFFIXES, ".mska", ".msk"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def read_mask_path(path: str | list[str]) -> list:
    from medmask import load_mask

    path = _one(path)
    return [mask_to_layer_data(load_mask(path), name=_stem(path), crop=False)]


def read_image_path(path: str | list[str]) -> list:
    path = _one(path)
    array, space = read_image(path)
    return [image_layer_data(array, space, name=_stem(path), path=path)]


def read_volume_path(path: str | list[str]) -> list:
    """A NIfTI / NRRD: a segmentation (label table, or voxels that look like labels) opens as an
    archive does, a scan as a grey image (:mod:`napari_medmask.label_source` has the rule)."""
    from .label_source import looks_like_labels, open_as

    path = _one(path)
    how = open_as()
    if how == "auto" and _has_label_table(path):
        return read_labels_path(path)
    array, space = read_image(path)
    if how == "labels" or (how == "auto" and looks_like_labels(array)):
        return read_labels_path(path, array, space)
    return [image_layer_data(array, space, name=_stem(path), path=path)]


def _has_label_table(path: str) -> bool:
    if not path.lower().endswith((".nii", ".nii.gz")):
        return False
    from medmask.convert.nifti_label_table import read_label_table
    from medmask.convert.nifti_read import read_header

    hdr = read_header(path)
    return hdr is not None and read_label_table(hdr) is not None


def read_labels_path(path: str | list[str], array=None, space=None) -> list:
    """A label NIfTI/NRRD, ``.seg.nrrd`` or folder of masks, shown exactly as an archive of its masks:
    the composite organ layer (over TotalSegmentator's ``ct.nii.gz`` when it lies beside)."""
    from .label_source import open_label_source

    path = _one(path)
    source = open_label_source(path, array, space)
    return _with_scan([composite_layer_data(source, path)], source, path)


def _with_scan(layers: list, archive, path: str) -> list:
    """``layers`` with the scan ``archive`` records underneath, when found on its grid and readable.

    A missing, mismatching or unreadable scan is left out here; the dock says why and offers a
    picker. ``NAPARI_MEDMASK_OPEN_IMAGE=0`` leaves the scan out always.
    """
    from medmask.errors import MedMaskError

    from .image_link import image_link, open_image_by_default

    link = image_link(archive, path) if open_image_by_default() else None
    if link is not None and link.state == "ok" and link.path is not None:
        try:
            scan = read_image_path(str(link.path))[0]
        except (MedMaskError, OSError):  # the organs still open; the dock reports the scan
            pass
        else:  # marked, so the dock can drop it when the user opened the same scan too
            scan[1]["metadata"][META_KEY]["brought_by"] = path
            layers.insert(0, scan)
    return layers


def read_image(path: str):
    """(array in medmask order, Space) of a scan: medmask's reader, one array, no copy."""
    from medmask.convert.image_io import read_image as medmask_read_image

    return medmask_read_image(path)


def composite_layer_data(archive, path: str, frame=None) -> tuple:
    """The archive's composite Labels LayerData, built from an open MaskArchive (the volume is not copied)."""
    from ._layers import crop_translate, geometry_meta
    from .composite import build_composite

    comp = build_composite(archive)
    shown = comp.initially_shown()
    hidden = [t for t in comp.titles if t not in shown]
    geometry, p = geometry_meta(archive.space, frame)
    meta = {"kind": "composite", **geometry, "archive": path, "entry": None, "offset": [0, 0, 0],
            "composite": comp.to_meta(), "shown": shown, "dtype": str(comp.data.dtype)}
    kwargs = {"name": os.path.basename(path), "scale": list(p.scale),
              "translate": crop_translate(p, (0, 0, 0)), "colormap": comp.colormap(hidden),
              "features": comp.features(), "metadata": {META_KEY: meta}, "opacity": 0.6}
    return p.layer_array(comp.data), kwargs, "labels"


def read_archive_path(path: str | list[str]) -> list:
    """An archive: the scan it records (when found on its grid) under its composite organ layer.

    Dropping an archive is then enough to see the organs on their scan, dock open or not.
    """
    from medmask import MaskArchive

    path = _one(path)
    with MaskArchive(path, "r") as archive:
        layers = [composite_layer_data(archive, path)]
        return _with_scan(layers, archive, path)
