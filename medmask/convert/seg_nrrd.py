"""3D Slicer segmentations (``.seg.nrrd``) <-> medmask ``.msk`` / ``.mska``.

Layout written (what 3D Slicer 4.11+ itself writes, checked against slicerio):

* geometry in LPS: ``space: left-posterior-superior``, ``space directions`` (one vector
  per NRRD axis, fastest first) and ``space origin`` (position of voxel 0);
* segments that never overlap share a 3D labelmap (``kinds: domain domain domain``);
  overlapping ones go to extra layers, making the volume 4D with the layer axis first
  (``kinds: list domain domain domain``, ``space directions: none (..) (..) (..)``);
* per segment ``Segment{N}_ID``, ``_Name``, ``_Color`` (r g b in 0..1), ``_Layer``,
  ``_LabelValue``, ``_Extent`` (inclusive i0 i1 j0 j1 k0 k1; ``0 -1 0 -1 0 -1`` when
  empty), ``_Tags``. medmask keeps what Slicer has no field for (entry name, label value,
  dtype, entry metadata) in tags ``medmask.*``, which Slicer keeps when it re-saves.

Array axes: medmask's (z, y, x) array is the NRRD volume read with C index order, so
NRRD axis i/j/k (fastest first) is medmask axis 2/1/0. No axis is swapped or flipped.
"""
from __future__ import annotations

import colorsys
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import quote, unquote

import numpy as np
from spacetransformer import Space

from ..core.dtypes import DTYPE_BIT_DEPTHS, dtype_max, smallest_label_dtype
from ..errors import ConversionError, MedMaskError
from ._geometry import nrrd_geometry_from_space, ras_affine_from_space, space_from_nrrd_geometry

SEG_SUFFIX = ".seg.nrrd"
MAX_LABELS_PER_LAYER = 255  # Slicer writes unsigned char layers
TAG_ENTRY = "medmask.entry"
TAG_LABEL = "medmask.label"
TAG_NAME = "medmask.name"
TAG_DTYPE = "medmask.dtype"
TAG_META = "medmask.metadata"


def is_seg_nrrd_path(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith((SEG_SUFFIX, ".nrrd"))


# ------------------------------------------------------------------------------------------
# writing


def default_color(index: int) -> tuple[float, float, float, float]:
    """A distinct, deterministic colour for the ``index``-th segment (golden-angle hues)."""
    h = (0.1 + index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.55 + 0.25 * (index % 2), 0.9)
    return (round(r, 6), round(g, 6), round(b, 6), 1.0)


def _tag_value(value: str) -> str:
    # Slicer separates tags with '|' and key from value with the first ':'
    return quote(value, safe=" !\"#$&'()*+,-./:;<=>?@[]^_`{}~")


def _label_dtype(hi: int, path) -> np.dtype:
    try:
        return smallest_label_dtype(hi)
    except ValueError as exc:
        raise ConversionError(str(exc), path) from None


def _segment_id(name: str, used: set[str]) -> str:
    return _unique(re.sub(r"[^0-9A-Za-z_.-]", "_", name) or "Segment", used)


def _fmt(v: float) -> str:
    return repr(float(v)) if v != 0 else "0"


def _vec(v: Sequence[float]) -> str:
    return "(" + ",".join(_fmt(x) for x in v) + ")"


def write_seg_nrrd(items: Sequence[tuple[str | None, Any]], space: Space, path: str | os.PathLike, *,
                   compression_level: int = 6) -> Path:
    """Write masks as one Slicer segmentation.

    ``items`` are ``(entry name or None, SegmentationMask)`` pairs on ``space``; every
    label of every mask becomes one segment. With an entry name and a single label the
    segment is called after the entry, with several labels ``entry/label``; without an
    entry name (a lone .msk) after the label.
    """
    from ..core.geometry import bbox_slices, spaces_equal

    path = Path(path)
    shape = tuple(int(v) for v in space.shape)
    layers: list[np.ndarray] = []
    layer_next: list[int] = []
    segments: list[dict[str, Any]] = []
    for entry, mask in items:
        if not spaces_equal(mask.space, space):
            raise ConversionError(f"entry {entry!r} has another geometry than the segmentation", path)
        box = mask.bbox
        crop = mask.crop_data
        labels = sorted(mask.mapping.items(), key=lambda kv: kv[1])
        entry_meta_written = False
        for label_name, label in labels:
            region = None
            if box is not None:
                region = crop == label if crop.dtype != bool else crop.copy()
                if not region.any():
                    region = None
            sub_box = None
            if region is not None:
                from ..core.geometry import compute_bbox

                rb = compute_bbox(region)
                region = region[bbox_slices(rb)]
                sub_box = tuple((box[a][0] + rb[a][0], box[a][0] + rb[a][1]) for a in range(3))
            # first layer with room and no voxel already taken
            for li, layer in enumerate(layers):
                if layer_next[li] > MAX_LABELS_PER_LAYER:
                    continue
                if region is None or not layer[bbox_slices(sub_box)][region].any():
                    break
            else:
                layers.append(np.zeros(shape, dtype=np.uint8))
                layer_next.append(1)
                li = len(layers) - 1
            value = layer_next[li]
            layer_next[li] += 1
            if region is not None:
                view = layers[li][bbox_slices(sub_box)]
                view[region] = value
            if entry is None:
                display = label_name
            elif len(labels) == 1:
                display = entry
            else:
                display = f"{entry}/{label_name}"
            tags = {TAG_LABEL: str(int(label)), TAG_NAME: label_name, TAG_DTYPE: str(mask.dtype)}
            if entry is not None:
                tags[TAG_ENTRY] = entry
            if mask.metadata and not entry_meta_written:  # once per entry, on its first segment
                try:
                    tags[TAG_META] = json.dumps(mask.metadata, separators=(",", ":"), sort_keys=True)
                    entry_meta_written = True
                except (TypeError, ValueError):
                    pass
            color = mask.colors.get(label_name) or default_color(len(segments))
            segments.append({"name": display, "layer": li, "value": value, "box": sub_box, "tags": tags,
                             "color": color, "auto_color": label_name not in mask.colors})
    if not layers:
        layers.append(np.zeros(shape, dtype=np.uint8))
    header = _seg_header(space, segments, n_layers=len(layers))
    if len(layers) == 1:
        data = layers[0]
    else:
        data = np.stack(layers, axis=-1)  # (z, y, x, layer): layer is NRRD's fastest axis
    _atomic_nrrd_write(path, data, header, compression_level)
    return path


def _seg_header(space: Space, segments: list[dict[str, Any]], n_layers: int) -> dict[str, Any]:
    directions, origin = nrrd_geometry_from_space(space)
    header: dict[str, Any] = {"space": "left-posterior-superior", "space origin": origin}
    if n_layers == 1:
        header["kinds"] = ["domain", "domain", "domain"]
        header["space directions"] = directions
    else:
        header["kinds"] = ["list", "domain", "domain", "domain"]
        header["space directions"] = np.vstack([np.full((1, 3), np.nan), directions])
    used: set[str] = set()
    for n, seg in enumerate(segments):
        p = f"Segment{n}_"
        r, g, b = seg["color"][:3]
        header[p + "Color"] = f"{r:g} {g:g} {b:g}"
        header[p + "ColorAutoGenerated"] = "1" if seg["auto_color"] else "0"
        if seg["box"] is None:
            header[p + "Extent"] = "0 -1 0 -1 0 -1"
        else:
            (z0, z1), (y0, y1), (x0, x1) = seg["box"]
            header[p + "Extent"] = f"{x0} {x1 - 1} {y0} {y1 - 1} {z0} {z1 - 1}"
        header[p + "ID"] = _segment_id(seg["name"], used)
        header[p + "LabelValue"] = str(seg["value"])
        header[p + "Layer"] = str(seg["layer"])
        header[p + "Name"] = seg["name"]
        header[p + "NameAutoGenerated"] = "0"
        header[p + "Tags"] = "".join(f"{k}:{_tag_value(v)}|" for k, v in seg["tags"].items())
    nz, ny, nx = (int(v) for v in space.shape)
    ras = ras_affine_from_space(space)  # Slicer's world is RAS; the string is row-major IJK->RAS
    geometry = ";".join(_fmt(v) for v in ras.ravel()) + f";0;{nx - 1};0;{ny - 1};0;{nz - 1};"
    header["Segmentation_ContainedRepresentationNames"] = "Binary labelmap|"
    header["Segmentation_ConversionParameters"] = (
        f"Reference image geometry|{geometry}|Image geometry description string determining the geometry "
        f"of the labelmap that is created in course of conversion.")
    header["Segmentation_MasterRepresentation"] = "Binary labelmap"
    header["Segmentation_ReferenceImageExtentOffset"] = "0 0 0"
    return header


def _atomic_nrrd_write(path: Path, data: np.ndarray, header: dict[str, Any], compression_level: int) -> None:
    import nrrd

    from ..storage.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        nrrd.write(fh, data, header, index_order="C", compression_level=compression_level)


# ------------------------------------------------------------------------------------------
# reading


class SegNrrd:
    """A parsed ``.seg.nrrd``: geometry, layers as (layer, z, y, x) and the segments' fields."""

    def __init__(self, space: Space, layers: np.ndarray, segments: list[dict[str, Any]], header: dict[str, Any]):
        self.space = space
        self.layers = layers
        self.segments = segments
        self.header = header

        self._crops: dict[int, dict[int, tuple[Any, np.ndarray]]] = {}

    def segment_mask(self, seg: Mapping[str, Any]) -> np.ndarray:
        """Bool (z, y, x) array of one segment."""
        return self.layers[seg["layer"]] == seg["label_value"]

    def segment_crop(self, seg: Mapping[str, Any]) -> tuple[Any, np.ndarray | None]:
        """(bbox or None, bool crop or None) of one segment, from one sparse pass per layer."""
        layer = seg["layer"]
        if layer not in self._crops:
            self._crops[layer] = _label_crops(self.layers[layer])
        return self._crops[layer].get(seg["label_value"], (None, None))

    @property
    def has_medmask_tags(self) -> bool:
        return bool(self.segments) and all(TAG_LABEL in s["tags"] for s in self.segments)


def read_seg_nrrd(path: str | os.PathLike) -> SegNrrd:
    """Read a Slicer segmentation (3D single-layer or 4D layered, LPS or RAS space)."""
    import nrrd

    path = Path(path)
    if not path.exists():
        raise ConversionError("no such file", path)
    if path.is_dir():
        raise ConversionError("is a folder, not a .seg.nrrd file", path)
    try:
        data, header = nrrd.read(str(path), index_order="C")
    except MedMaskError:
        raise
    except Exception as exc:
        raise ConversionError(f"not a readable NRRD file ({type(exc).__name__}: {exc})", path) from None
    kinds = [str(k) for k in header.get("kinds", [])]
    ndim = int(header.get("dimension", data.ndim))
    if data.ndim != ndim or ndim not in (3, 4):
        raise ConversionError(f"a segmentation must be 3D or 4D, this NRRD has {data.ndim} dimensions", path)
    if data.dtype.kind not in "biu":
        raise ConversionError(f"voxel type {data.dtype} is not a label type", path)
    if data.dtype.kind == "i" and data.size and data.min() < 0:
        raise ConversionError("negative label values", path)
    sizes = [int(v) for v in header.get("sizes", data.shape[::-1])]
    if "space directions" not in header or "space origin" not in header:
        raise ConversionError("NRRD header lacks 'space directions' or 'space origin'", path)
    directions = np.asarray(header["space directions"], dtype=float)
    if ndim == 4:
        list_axes = [n for n, k in enumerate(kinds) if k not in ("domain", "space")] if kinds else []
        if len(list_axes) != 1:
            list_axes = [n for n in range(4) if not np.all(np.isfinite(directions[n]))]
        if len(list_axes) != 1:
            raise ConversionError(f"4D NRRD needs exactly one non-spatial (list) axis, kinds {kinds}", path)
        la = list_axes[0]
        dom = [n for n in range(4) if n != la]
        directions = directions[dom]
        dom_sizes = [sizes[n] for n in dom]
        layers = np.moveaxis(data, 3 - la, 0)  # C order reverses the NRRD axes
    else:
        dom_sizes = sizes
        layers = data[np.newaxis]
    space = space_from_nrrd_geometry(directions, np.asarray(header["space origin"], dtype=float), dom_sizes,
                                     space_name=str(header.get("space", "left-posterior-superior")), path=path)
    if layers.dtype.kind == "b":
        layers = layers.astype(np.uint8)
    segments = _parse_segments(header, n_layers=layers.shape[0], path=path)
    if not segments and layers.shape[0] == 1:  # a plain labelmap .nrrd: one segment per value present
        values = np.unique(layers[0])
        segments = [{"index": n, "id": f"label_{int(v)}", "name": f"label_{int(v)}", "layer": 0,
                     "label_value": int(v), "color": None, "tags": {}, "extent": None}
                    for n, v in enumerate(v for v in values if v)]
    for s in segments:
        if not 0 <= s["layer"] < layers.shape[0]:
            raise ConversionError(f"segment {s['name']!r} is in layer {s['layer']}, the file has "
                                  f"{layers.shape[0]}", path)
    return SegNrrd(space, np.ascontiguousarray(layers), segments, header)


def _label_crops(layer: np.ndarray) -> dict[int, tuple[Any, np.ndarray]]:
    """label value -> (half-open bbox, bool crop) for every value of a 3D label array, in O(non-zeros)."""
    flat = layer.ravel()
    nz = np.flatnonzero(flat)
    if nz.size == 0:
        return {}
    vals = flat[nz]
    order = np.argsort(vals, kind="stable")
    nz, vals = nz[order], vals[order]
    starts = np.r_[0, np.flatnonzero(np.diff(vals)) + 1]
    ends = np.r_[starts[1:], vals.size]
    out = {}
    for a, b in zip(starts, ends):
        z, y, x = np.unravel_index(nz[a:b], layer.shape)
        lo = (int(z.min()), int(y.min()), int(x.min()))
        hi = (int(z.max()) + 1, int(y.max()) + 1, int(x.max()) + 1)
        crop = np.zeros(tuple(h - l for l, h in zip(lo, hi)), dtype=bool)
        crop[z - lo[0], y - lo[1], x - lo[2]] = True
        out[int(vals[a])] = (tuple(zip(lo, hi)), crop)
    return out


def _parse_segments(header: Mapping[str, Any], n_layers: int, path) -> list[dict[str, Any]]:
    fields: dict[int, dict[str, str]] = {}
    for key, value in header.items():
        m = re.match(r"^Segment(\d+)_(.+)$", str(key))
        if m:
            fields.setdefault(int(m.group(1)), {})[m.group(2)] = str(value)
    segments = []
    for idx in sorted(fields):
        f = fields[idx]
        tags: dict[str, str] = {}
        for part in f.get("Tags", "").split("|"):
            if ":" in part:
                k, v = part.split(":", 1)
                tags[k.strip()] = unquote(v) if k.startswith("medmask.") else v
        try:
            if "LabelValue" in f or "Layer" in f:
                layer, value = int(f.get("Layer", 0)), int(f.get("LabelValue", 1))
            elif n_layers > 1:  # Slicer < 4.11: one segment per component, value 1
                layer, value = idx, 1
            else:
                layer, value = 0, idx + 1
        except ValueError:
            raise ConversionError(f"segment {idx} has a non-integer layer or label value", path) from None
        color = None
        if "Color" in f:
            try:
                rgb = [float(v) for v in f["Color"].split()]
                if len(rgb) == 3 and all(0 <= v <= 1 for v in rgb):
                    color = (rgb[0], rgb[1], rgb[2], 1.0)
            except ValueError:
                color = None
        segments.append({"index": idx, "id": f.get("ID", f"Segment_{idx + 1}"), "name": f.get("Name") or f.get("ID")
                         or f"Segment_{idx + 1}", "layer": layer, "label_value": value, "color": color,
                         "tags": tags, "extent": f.get("Extent")})
    return segments


def _unique(name: str, used: set[str]) -> str:
    out, n = name, 1
    while out in used:
        n += 1
        out = f"{name}_{n}"
    used.add(out)
    return out


def seg_to_masks(seg: SegNrrd, *, path=None) -> list[tuple[str, Any]]:
    """The segmentation as (entry name, SegmentationMask) pairs.

    A file written by medmask gives back its entries (labels, names, dtype, metadata).
    Any other file gives one binary entry per segment, named after the segment.
    """
    from ..core.geometry import bbox_slices, compute_bbox
    from ..core.segmask import SegmentationMask

    out: list[tuple[str, Any]] = []
    if seg.has_medmask_tags:
        groups: dict[str | None, list[dict[str, Any]]] = {}
        for s in seg.segments:
            groups.setdefault(s["tags"].get(TAG_ENTRY), []).append(s)
        if list(groups) == [None]:  # written from a single .msk
            return [(None, _rebuild_mask(seg, seg.segments, path))]
        for entry, segs in groups.items():
            out.append((entry if entry is not None else "mask", _rebuild_mask(seg, segs, path)))
        return out
    used: set[str] = set()
    for s in seg.segments:
        box, crop = seg.segment_crop(s)
        name = _unique(s["name"], used)
        colors = {name: s["color"]} if s["color"] else None
        try:
            mask = SegmentationMask.from_crop(crop, box, {name: 1}, seg.space, np.dtype(bool), colors=colors,
                                              metadata={"slicer": {"id": s["id"]}})
        except MedMaskError as exc:
            raise ConversionError(exc.problem, path) from None
        out.append((name, mask))
    return out


def _rebuild_mask(seg: SegNrrd, segs: list[dict[str, Any]], path) -> Any:
    from ..core.segmask import SegmentationMask

    dtype = np.dtype(segs[0]["tags"].get(TAG_DTYPE, "uint8"))
    labels = [int(s["tags"][TAG_LABEL]) for s in segs]
    hi = max(labels, default=1)
    if dtype.kind not in "bu" or dtype not in DTYPE_BIT_DEPTHS or hi > dtype_max(dtype):
        dtype = _label_dtype(hi, path)
    mapping: dict[str, int] = {}
    colors: dict[str, tuple] = {}
    metadata: dict[str, Any] = {}
    parts = []
    for s, label in zip(segs, labels):
        box, crop = seg.segment_crop(s)
        if box is not None:
            parts.append((box, crop, label, s))
        name = s["tags"].get(TAG_NAME) or s["name"]
        if name in mapping:
            raise ConversionError(f"two segments of entry {s['tags'].get(TAG_ENTRY)!r} are named {name!r}", path)
        mapping[name] = label
        if s["color"]:
            colors[name] = s["color"]
        if TAG_META in s["tags"]:
            try:
                metadata = json.loads(s["tags"][TAG_META])
            except json.JSONDecodeError:
                pass
    bbox = None
    crop_out = None
    if parts:
        lo = [min(p[0][a][0] for p in parts) for a in range(3)]
        hi_ = [max(p[0][a][1] for p in parts) for a in range(3)]
        bbox = tuple(zip(lo, hi_))
        crop_out = np.zeros(tuple(h - l for l, h in bbox), dtype=dtype)
        for box, crop, label, s in parts:
            view = crop_out[tuple(slice(box[a][0] - lo[a], box[a][1] - lo[a]) for a in range(3))]
            if (view[crop] != 0).any():
                raise ConversionError(f"segment {s['name']!r} overlaps another label of its entry", path)
            view[crop] = label
    try:
        return SegmentationMask.from_crop(crop_out, bbox, mapping, seg.space, dtype, colors=colors,
                                          metadata=metadata)
    except MedMaskError as exc:
        raise ConversionError(exc.problem, path) from None


def seg_to_single_mask(seg: SegNrrd, *, path=None) -> Any:
    """All segments in one label mask (a ``.msk``); overlapping segments cannot be merged."""
    from ..core.segmask import SegmentationMask

    if seg.has_medmask_tags and len({s["tags"].get(TAG_ENTRY) for s in seg.segments}) == 1:
        return _rebuild_mask(seg, seg.segments, path)
    one_layer = len({s["layer"] for s in seg.segments}) <= 1
    values = [s["label_value"] for s in seg.segments]
    keep_values = one_layer and len(set(values)) == len(values)
    labels = values if keep_values else list(range(1, len(seg.segments) + 1))
    dtype = _label_dtype(max(labels, default=1), path)
    data = np.zeros(tuple(seg.space.shape), dtype=dtype)
    mapping: dict[str, int] = {}
    colors: dict[str, tuple] = {}
    used: set[str] = set()
    for s, label in zip(seg.segments, labels):
        region = seg.segment_mask(s)
        clash = data[region]
        clash = clash[clash != 0]
        if clash.size:
            other = next(n for n, v in mapping.items() if v == int(clash[0]))
            raise ConversionError(f"segments {other!r} and {s['name']!r} overlap ({clash.size} voxels); "
                                  f"a .msk holds one label per voxel - convert to .mska instead", path)
        data[region] = label
        name = _unique(s["name"], used)
        mapping[name] = label
        if s["color"]:
            colors[name] = s["color"]
    try:
        data.flags.writeable = False  # our own temporary: shared, not copied
        return SegmentationMask(data, mapping, space=seg.space, colors=colors)
    except MedMaskError as exc:
        raise ConversionError(exc.problem, path) from None


# ------------------------------------------------------------------------------------------
# file-level API


def mask_to_seg_nrrd(mask, path: str | os.PathLike, **kwargs) -> Path:
    """One SegmentationMask (e.g. a loaded ``.msk``) -> ``.seg.nrrd``: one segment per label."""
    return write_seg_nrrd([(None, mask)], mask.space, path, **kwargs)


def archive_to_seg_nrrd(src: str | os.PathLike, dst: str | os.PathLike, *, names: Iterable[str] | None = None,
                        **kwargs) -> Path:
    """``.mska`` -> ``.seg.nrrd``; overlapping entries land in separate layers."""
    from .. import MaskArchive

    with MaskArchive(src, mode="r") as archive:
        wanted = list(names) if names is not None else archive.all_names()
        items = [(n, archive.load_segmask(n)) for n in wanted]
        return write_seg_nrrd(items, archive.space, dst, **kwargs)


def medmask_to_seg_nrrd(src: str | os.PathLike, dst: str | os.PathLike, **kwargs) -> Path:
    """``.msk`` or ``.mska`` -> ``.seg.nrrd``."""
    if str(src).lower().endswith(".mska"):
        return archive_to_seg_nrrd(src, dst, **kwargs)
    from .. import load_mask

    return mask_to_seg_nrrd(load_mask(src), dst, **kwargs)


def seg_nrrd_to_archive(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """``.seg.nrrd`` -> ``.mska`` (one entry per segment, or medmask's own entries back)."""
    from ..storage.archive_builder import write_archive

    seg = read_seg_nrrd(src)
    items = seg_to_masks(seg, path=src)
    write_archive(Path(dst), seg.space, items)
    return Path(dst)


def seg_nrrd_to_mask(src: str | os.PathLike) -> Any:
    return seg_to_single_mask(read_seg_nrrd(src), path=src)
