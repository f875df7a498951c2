"""SegmentationMask / image volume <-> napari layer data (no Qt).

Geometry: every layer is placed in a display frame (``napari_medmask.frame``) with a transpose
of its array axes, a diagonal scale and a translate, never with a rotation. The exact Space is
kept in ``layer.metadata["medmask"]``:

    {"kind": "mask" | "entry" | "composite" | "image",
     "space": space_to_dict(full space), "frame": R (3x3 list), "axes": [a0, a1, a2],
     "archive": path or None, "entry": name or None,
     "offset": [i0, i1, i2]   # array index (medmask order) of the layer's first voxel
     "bbox": stored bbox of the entry (half-open) or None,
     "mapping": {name: label}, "colors": {name: rgba}, "mask_metadata": {...}, "dtype": "uint8"}

Archive entries edited in their own layer are cropped to their bounding box grown by ``PAD``
voxels (clipped to the volume) so edits can reach a little beyond the stored extent without
costing a full volume per organ.
"""
from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np

from medmask.core.colors import color_for
from medmask.core.dtypes import DTYPE_BIT_DEPTHS, dtype_max, smallest_label_dtype
from medmask.core.geometry import compute_bbox, direction_matrix, space_from_dict, space_to_dict

PAD = 4
META_KEY = "medmask"
# CT soft-tissue window (W400 / L40 HU)
CT_WINDOW = (40.0 - 200.0, 40.0 + 200.0)

__all__ = ["PAD", "META_KEY", "CT_WINDOW", "mask_to_layer_data", "layer_to_mask",
           "image_layer_data", "image_contrast", "colormap_for", "features_for", "volume_ml", "padded_box",
           "geometry_meta", "crop_translate"]


def geometry_meta(space, frame=None) -> tuple[dict, Any]:
    """(metadata geometry part, Placement) of a volume shown in ``frame`` (default: its own)."""
    from .frame import frame_for, placement

    r = frame_for(space) if frame is None else np.asarray(frame, dtype=float)
    p = placement(space, r)
    return {"space": space_to_dict(space), "frame": r.tolist(), "axes": list(p.axes)}, p


def crop_translate(p, offset) -> list[float]:
    """Translate of a layer holding the array from index ``offset`` (array order) on."""
    return [float(t + s * offset[a]) for t, s, a in zip(p.translate, p.scale, p.axes)]


def volume_ml(space, voxels: int) -> float:
    return float(voxels) * float(np.prod(np.asarray(space.spacing, dtype=float))) / 1000.0


def padded_box(bbox, shape, pad: int = PAD):
    return tuple((max(0, a - pad), min(int(n), b + pad)) for (a, b), n in zip(bbox, shape))


def colormap_for(mapping: Mapping[str, int], colors: Mapping[str, Any] | None = None) -> dict:
    """{label: rgba} for a DirectLabelColormap: stored colours first, then color_for(name)."""
    colors = colors or {}
    cmap: dict[Any, Any] = {0: (0.0, 0.0, 0.0, 0.0), None: (0.6, 0.6, 0.6, 1.0)}
    for name, label in mapping.items():
        cmap[int(label)] = tuple(float(c) for c in (colors.get(name) or color_for(name)))
    return cmap


def features_for(mapping: Mapping[str, int]):
    """Labels ``features`` table: ``index`` column (label value) and ``name``."""
    import pandas as pd

    items = sorted((int(v), str(k)) for k, v in mapping.items())
    return pd.DataFrame({"index": [0] + [i for i, _ in items], "name": ["background"] + [n for _, n in items]})


def mask_to_layer_data(mask, *, name: str, archive: str | os.PathLike | None = None,
                       entry: str | None = None, crop: bool = True, pad: int = PAD,
                       visible: bool = True, frame=None) -> tuple:
    """A napari LayerData tuple ``(data, kwargs, "labels")`` for ``mask``, placed in ``frame``.

    ``crop=True`` gives the bounding box (grown by ``pad``) with a translate
    offset; an empty mask gets a 1-voxel layer at the corner.
    """
    space = mask.space
    shape = tuple(int(v) for v in space.shape)
    bbox = mask.bbox
    if crop:
        if bbox is None:
            box = ((0, 1), (0, 1), (0, 1))
            data = np.zeros((1, 1, 1), dtype=_display_dtype(mask.dtype))
        else:
            box = padded_box(bbox, shape, pad)
            data = np.zeros(tuple(b - a for a, b in box), dtype=_display_dtype(mask.dtype))
            inner = tuple(slice(a - p, b - p) for (a, b), (p, _) in zip(bbox, box))
            data[inner] = mask.crop_data
        offset = [a for a, _ in box]
    else:
        data = np.array(mask.data, dtype=_display_dtype(mask.dtype))
        offset = [0, 0, 0]
    geometry, p = geometry_meta(space, frame)
    mapping = mask.mapping.to_dict()
    meta = {
        "kind": "entry" if entry is not None else "mask",
        **geometry,
        "archive": os.path.abspath(os.fspath(archive)) if archive is not None else None,
        "entry": entry,
        "offset": [int(v) for v in offset],
        "bbox": None if bbox is None else [list(map(int, q)) for q in bbox],
        "mapping": mapping,
        "colors": {k: list(v) for k, v in mask.colors.items()},
        "mask_metadata": dict(mask.metadata),
        "dtype": str(mask.dtype),
    }
    kwargs = {
        "name": name,
        "scale": list(p.scale),
        "translate": crop_translate(p, offset),
        "colormap": colormap_for(mapping, mask.colors),
        "features": features_for(mapping),
        "metadata": {META_KEY: meta},
        "visible": visible,
        "opacity": 0.8,
    }
    return p.layer_array(data), kwargs, "labels"


def image_contrast(array: np.ndarray) -> tuple[str, tuple[float, float]]:
    """("ct" | "mr", contrast limits): a CT (integer HU with air and bone) gets W400/L40.

    Decided on a strided sample (at most ~2 M voxels), so a 512x512x1000 volume is not scanned
    whole nor copied.
    """
    step = max(1, int(round((array.size / 2e6) ** (1 / 3))))
    sample = np.asarray(array[::step, ::step, ::step])
    if sample.size == 0:
        return "mr", (0.0, 1.0)
    lo, hi = float(sample.min()), float(sample.max())
    integral = array.dtype.kind in "iu" or bool(np.all(np.mod(sample[:: max(1, sample.size // 10000)], 1) == 0))
    if integral and lo <= -500 and hi >= 300 and lo >= -4000:
        return "ct", CT_WINDOW
    p_lo, p_hi = (float(v) for v in np.percentile(sample, (0.5, 99.5)))
    if p_hi <= p_lo:
        p_lo, p_hi = lo, max(hi, lo + 1)
    return "mr", (p_lo, p_hi)


def image_layer_data(array: np.ndarray, space, *, name: str, path: str | None = None, frame=None) -> tuple:
    """``(data, kwargs, "image")`` of a scan: grey, CT window or auto contrast, placed in ``frame``.

    ``data`` is a view of ``array`` (transposed when the frame asks), never a copy.
    """
    geometry, p = geometry_meta(space, frame)
    kind, limits = image_contrast(array)
    sample = array[:: max(1, array.shape[0] // 16)]  # a few whole slices: the range for the slider
    lo, hi = float(np.min(sample)), float(np.max(sample))
    meta = {"kind": "image", **geometry, "path": os.path.abspath(path) if path else None,
            "modality": kind, "offset": [0, 0, 0], "data_range": [min(lo, limits[0]), max(hi, limits[1])]}
    kwargs = {
        "name": name,
        "scale": list(p.scale),
        "translate": list(p.translate),
        "colormap": "gray",
        "contrast_limits": list(limits),
        "metadata": {META_KEY: meta},
        "blending": "translucent_no_depth",
        "interpolation2d": "nearest",
    }
    return p.layer_array(array), kwargs, "image"


def _display_dtype(dtype) -> np.dtype:
    return np.dtype(np.uint8) if np.dtype(dtype) == bool else np.dtype(dtype)


# layer -> mask ---------------------------------------------------------------------------------
def _space_from_scale(shape, scale, translate):
    """Space of a layer without medmask metadata, read in the plugin's axis-aligned frame.

    napari world axes are (I, P, L) in LPS millimetres (``frame.TARGETS``), as for every
    axis-aligned MedMask scan: a Labels layer made over such a scan (napari's "new labels" copies
    its scale and translate) is saved where it was painted. Layer axis 0 runs inferior, 1
    posterior, 2 left; a negative scale runs the other way.
    """
    from spacetransformer import Space

    from .frame import TARGETS

    scale = [float(s) for s in (scale if scale is not None else (1, 1, 1))][-3:]
    translate = [float(t) for t in (translate if translate is not None else (0, 0, 0))][-3:]
    dirs = [tuple(float(v) for v in TARGETS[i] * (-1.0 if scale[i] < 0 else 1.0)) for i in range(3)]
    origin = tuple(float(v) for v in TARGETS.T @ np.asarray(translate))
    return Space(shape=tuple(int(v) for v in shape), origin=origin, spacing=tuple(abs(s) for s in scale),
                 x_orientation=dirs[0], y_orientation=dirs[1], z_orientation=dirs[2])


def _names_from_features(features) -> dict[str, int]:
    try:
        if features is None or len(features) == 0 or "name" not in features:
            return {}
        idx = features["index"] if "index" in features else features.index
        return {str(n): int(i) for i, n in zip(idx, features["name"]) if int(i) > 0}
    except Exception:
        return {}


def layer_to_mask(data, meta: Mapping[str, Any] | None):
    """A full-geometry SegmentationMask from a Labels layer's data and its attributes.

    ``meta`` is napari's layer-attribute dict (``scale``, ``translate``,
    ``metadata``, ``features``, ``name``) as writers receive it, or the same
    keys taken from a layer. Labels painted that the mapping does not know get
    the name ``label_<n>`` so nothing is lost.
    """
    from medmask import SegmentationMask

    meta = dict(meta or {})
    arr = np.asarray(data)
    if arr.ndim != 3:
        raise ValueError(f"MedMask stores 3D label volumes; this layer has {arr.ndim} dimensions {arr.shape}")
    if arr.dtype.kind not in "biu":
        raise ValueError(f"label layer dtype {arr.dtype} is not an integer type")
    if arr.dtype.kind == "i":
        if arr.size and arr.min() < 0:
            raise ValueError("label layer holds negative labels")
        arr = arr.astype(smallest_label_dtype(int(arr.max()) if arr.size else 0))
    info = (meta.get("metadata") or {}).get(META_KEY) or {}
    if info.get("kind") == "composite":
        raise ValueError(f"{meta.get('name') or 'this layer'} draws every organ of {info.get('archive')} for display "
                         f"and is not one mask: give an entry its own layer in the MedMask dock (Edit) and save that")
    if info.get("resampled_from"):
        raise ValueError(f"{meta.get('name') or 'this layer'} was resampled for display onto another grid; "
                         f"it cannot be saved back to its own")
    if info.get("space") and info.get("axes"):
        axes = [int(v) for v in info["axes"]]
        arr = arr if axes == [0, 1, 2] else np.transpose(arr, np.argsort(axes))  # back to array order
    if info.get("space"):
        space = space_from_dict(info["space"])
        offset = tuple(int(v) for v in info.get("offset", (0, 0, 0)))
        if any(o + n > int(s) for o, n, s in zip(offset, arr.shape, space.shape)):
            raise ValueError(f"layer of shape {arr.shape} at offset {offset} does not fit the stored space "
                             f"{tuple(space.shape)}")
        mapping = dict(info.get("mapping") or {})
        colors = dict(info.get("colors") or {})
        mask_meta = dict(info.get("mask_metadata") or {})
        dtype = np.dtype(info.get("dtype") or arr.dtype)
    else:
        space = _space_from_scale(arr.shape, meta.get("scale"), meta.get("translate"))
        offset = (0, 0, 0)
        mapping = _names_from_features(meta.get("features"))
        colors, mask_meta, dtype = {}, {}, arr.dtype
    present = [int(v) for v in np.unique(arr) if v]
    known = set(mapping.values())
    base = str(meta.get("name") or "label")
    for v in present:
        if v not in known:
            name = f"label_{v}" if mapping or len(present) > 1 else base
            while name in mapping:  # never take over the name of a label that already has one
                name += "_"
            mapping[name] = v
    if not mapping and not present:
        mapping = {base: 1}
    maxlabel = max([*present, *mapping.values(), 0])
    if dtype not in DTYPE_BIT_DEPTHS or maxlabel > dtype_max(dtype):
        dtype = smallest_label_dtype(maxlabel)
    for name in mapping:
        colors.setdefault(name, color_for(name))
    colors = {k: v for k, v in colors.items() if k in mapping}
    local = compute_bbox(arr)
    if local is None:
        return SegmentationMask.from_crop(None, None, mapping, space, dtype, colors=colors, metadata=mask_meta)
    crop = np.ascontiguousarray(arr[tuple(slice(a, b) for a, b in local)]).astype(dtype, copy=False)
    bbox = tuple((a + o, b + o) for (a, b), o in zip(local, offset))
    return SegmentationMask.from_crop(crop, bbox, mapping, space, dtype, colors=colors, metadata=mask_meta)


def layer_meta(layer) -> dict:
    """The attribute dict ``layer_to_mask`` wants, taken from a live layer."""
    return {"scale": list(layer.scale), "translate": list(layer.translate), "metadata": dict(layer.metadata),
            "features": layer.features, "name": layer.name}
