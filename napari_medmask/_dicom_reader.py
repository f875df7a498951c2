"""napari reader for DICOM: a CT/MR series (folder, or one file of it) as an Image layer, a DICOM-SEG as labels.

Both go through the plugin's own layer helpers (``_layers``), so they land in the same display
frame as ``.mska`` masks. A SEG's segments are packed into as few Labels layers as their overlaps
allow (one layer when nothing overlaps), each segment a label named by its SegmentLabel and
coloured by its recommended display colour; ``medmask convert x.seg.dcm x.mska`` keeps them as
archive entries.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

EMPTY = [(None,)]
# files the plugin's other reader claims: never DICOM, so not even sniffed (its "*" pattern sees them all)
NOT_DICOM_SUFFIXES = (".mska", ".msk", ".nii", ".nii.gz", ".nrrd", ".nhdr")


def get_dicom_reader(path: str | list[str]) -> Callable | None:
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    path = os.fspath(path)
    if path.lower().endswith(NOT_DICOM_SUFFIXES):
        return None
    try:
        from medmask.convert.dicom_series import is_dicom_file, looks_like_dicom_series
    except ImportError:  # pragma: no cover
        return None
    if os.path.isdir(path):
        return read_series_path if looks_like_dicom_series(path) else None
    if not os.path.isfile(path) or not is_dicom_file(path):
        return None
    from medmask.convert.dicom_seg import is_dicom_seg

    return read_seg_path if is_dicom_seg(path) else read_series_path


def _one(path) -> str:
    return os.fspath(path[0] if isinstance(path, (list, tuple)) else path)


def _report(path: str, exc: Exception) -> list:
    from napari.utils.notifications import show_error

    problem = getattr(exc, "problem", None) or str(exc)
    show_error(f"MedMask could not open {os.path.basename(path.rstrip(os.sep))}: {problem} ({path})")
    return EMPTY


def series_layer_data(path: str) -> tuple:
    """LayerData of the series at ``path`` (the voxel values as read, in the plugin's frame)."""
    from medmask.convert.dicom_series import read_dicom_series_header

    series = read_dicom_series_header(path)
    array = series.read_pixels()
    name = (series.description or os.path.basename(str(series.folder).rstrip(os.sep)) or "DICOM series").strip()
    from ._layers import image_layer_data  # the plugin's frame placement and CT window

    data, kwargs, kind = image_layer_data(array, series.space, name=name, path=str(series.folder))
    meta = dict(kwargs.get("metadata") or {})
    meta["dicom"] = {"series_instance_uid": series.series_instance_uid, "modality": series.modality,
                     "folder": str(series.folder), "files": len(series.files)}
    kwargs["metadata"] = meta
    return data, kwargs, kind


def read_series_path(path: str | list[str]) -> list:
    from medmask.errors import MedMaskError

    path = _one(path)
    try:
        return [series_layer_data(path)]
    except (MedMaskError, OSError, ValueError) as exc:
        return _report(path, exc)


def pack_segments(items: list[tuple[str | None, Any]], space) -> list:
    """SegmentationMasks holding every label of ``items``, overlapping ones in separate masks."""
    from medmask import SegmentationMask

    shape = tuple(int(v) for v in space.shape)
    layers: list[dict] = []
    for entry, mask in items:
        box = mask.bbox
        for label_name, label in sorted(mask.mapping.items(), key=lambda kv: kv[1]):
            name = label_name if entry is None else (entry if len(mask.mapping) == 1 else f"{entry}/{label_name}")
            region = None
            if box is not None:
                crop = mask.crop_data
                region = crop if crop.dtype == bool else crop == label
            sl = tuple(slice(a, b) for a, b in box) if box is not None else None
            target = None
            for layer in layers:
                if layer["next"] >= 65535:
                    continue
                if region is None or not layer["data"][sl][region].any():
                    target = layer
                    break
            if target is None:
                target = {"data": np.zeros(shape, np.uint16), "mapping": {}, "colors": {}, "next": 1, "meta": {}}
                layers.append(target)
            value = target["next"]
            target["next"] += 1
            if region is not None:
                target["data"][sl][region] = value
            target["mapping"][name] = value
            color = mask.colors.get(label_name)
            if color is not None:
                target["colors"][name] = color
            dicom = mask.metadata.get("dicom") if isinstance(mask.metadata, dict) else None
            if dicom is not None:
                target["meta"].setdefault("dicom_segments", {})[name] = dicom
    out = []
    for layer in layers:
        data = layer["data"]
        if layer["next"] <= 256:
            data = data.astype(np.uint8)
        data.flags.writeable = False
        out.append(SegmentationMask(data, layer["mapping"], space=space, colors=layer["colors"],
                                    metadata=layer["meta"]))
    return out


def read_seg_path(path: str | list[str]) -> list:
    from medmask.convert.dicom_seg import read_dicom_seg
    from medmask.errors import MedMaskError

    from ._layers import mask_to_layer_data

    path = _one(path)
    try:
        space, items = read_dicom_seg(path)
        stem = os.path.basename(path)
        for suffix in (".seg.dcm", ".dcm"):
            if stem.lower().endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        masks = pack_segments(items, space)
        out = []
        for i, mask in enumerate(masks):
            name = stem if len(masks) == 1 else f"{stem} ({i + 1}/{len(masks)})"
            out.append(mask_to_layer_data(mask, name=name, crop=False))
        return out or EMPTY
    except (MedMaskError, OSError, ValueError) as exc:
        return _report(path, exc)
