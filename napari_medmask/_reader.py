"""napari reader for ``.msk`` (one mask) and ``.mska`` (archive) files."""
from __future__ import annotations

import os
from typing import Any, Callable

from ._layers import mask_to_layer_data, volume_ml

PLUGIN_NAME = "medmask"  # npe2 requires the manifest name to equal the distribution name
AUTO_DOCK_ENV = "NAPARI_MEDMASK_AUTO_DOCK"  # "0" disables opening the dock widget on read
MAX_INITIAL_ENV = "NAPARI_MEDMASK_MAX_LAYERS"  # entries drawn when an archive opens (largest first)
MAX_INITIAL_LAYERS = 64  # napari spends ~0.1-0.3 s per layer; the rest are listed, one click away
PROGRESSIVE_ENV = "NAPARI_MEDMASK_PROGRESSIVE"  # "0": add every entry layer during the read (slow, blocking)
OVERVIEW_SUFFIX = " (overview)"
EMPTY = [(None,)]  # napari's "read fine, nothing to add" sentinel


def get_reader(path: str | list[str]) -> Callable | None:
    if isinstance(path, (list, tuple)):
        if len(path) != 1:
            return None
        path = path[0]
    path = os.fspath(path)
    low = path.lower()
    if low.endswith(".mska"):
        return read_archive_path
    if low.endswith(".msk"):
        return read_mask_path
    return None


def _report(path: str, exc: Exception) -> list:
    """One clear notification naming the file; napari keeps running."""
    from napari.utils.notifications import show_error

    problem = getattr(exc, "problem", None) or str(exc)
    show_error(f"MedMask could not open {os.path.basename(path)}: {problem} ({path})")
    return EMPTY


def read_mask_path(path: str | list[str]) -> list:
    from medmask import load_mask
    from medmask.errors import MedMaskError

    path = os.fspath(path[0] if isinstance(path, (list, tuple)) else path)
    try:
        mask = load_mask(path)
        name = os.path.splitext(os.path.basename(path))[0]
        return [mask_to_layer_data(mask, name=name, crop=False)]
    except (MedMaskError, OSError, ValueError) as exc:
        return _report(path, exc)


def is_aggregate(info, names: set[str]) -> bool:
    """An entry whose labels are named like two or more other entries (e.g. ``ribs_all``)."""
    return sum(1 for n in info.mapping if n in names and n != info.name) >= 2


def initial_infos(infos) -> list:
    """Entries shown when an archive opens: non-empty, not aggregates of other entries, at most
    ``max_initial_layers()`` (the largest), in archive order."""
    names = {i.name for i in infos}
    chosen = [i for i in infos if i.bbox is not None and not is_aggregate(i, names)]
    limit = max_initial_layers()
    if len(chosen) > limit:
        keep = {i.name for i in sorted(chosen, key=lambda i: -sum((i.counts or {}).values()))[:limit]}
        chosen = [i for i in chosen if i.name in keep]
    return chosen


def archive_layers(path: str, *, which: str = "initial") -> tuple[list, Any]:
    """LayerData of an archive's entries and the EntryInfo list.

    ``which="initial"``: non-empty entries that are not aggregates of other
    entries (aggregates and empty entries are made later, when checked).
    """
    from medmask import MaskArchive

    layers = []
    with MaskArchive(path, "r") as archive:
        infos = archive.entries()
        chosen = initial_infos(infos) if which == "initial" else list(infos)
        for info in chosen:
            mask = archive.load_segmask(info.name)
            layers.append(mask_to_layer_data(mask, name=info.name, archive=path, entry=info.name))
    return layers, infos


def overview_layer(path: str) -> tuple:
    """One full-volume uint8/uint16 Labels LayerData drawing every initial entry (display only).

    Single-label entries get one label value each, multi-label entries consecutive
    values; where entries overlap the later one wins. ``features`` name each value
    (``entry`` or ``entry: label``) so hovering shows the organ; the metadata records
    ``{"overview": True, "entries": {entry: [values]}}`` for the session.
    """
    import numpy as np

    from medmask import MaskArchive
    from medmask.core.colors import color_for
    from medmask.core.geometry import space_to_dict

    from ._layers import META_KEY, display_transform

    path = os.path.abspath(path)
    with MaskArchive(path, "r") as archive:
        space = archive.space
        chosen = initial_infos(archive.entries())
        # uint8 when the labels fit: half the memory and texture upload of uint16
        n_labels = sum(len(i.mapping) for i in chosen if not i.is_empty)
        dtype = np.uint8 if n_labels <= 255 else np.uint16
        data = np.zeros(tuple(int(v) for v in space.shape), dtype=dtype)
        cmap: dict[Any, Any] = {0: (0.0, 0.0, 0.0, 0.0), None: (0.6, 0.6, 0.6, 1.0)}
        index, names, entries, mapping = [0], ["background"], {}, {}
        next_id = 1
        for info in chosen:
            labels = sorted(info.mapping.items(), key=lambda kv: kv[1])
            if not labels or next_id + len(labels) - 1 > np.iinfo(dtype).max:
                continue
            mask = archive.load_segmask(info.name)
            if mask.bbox is None:
                continue
            lut = np.zeros(max(int(v) for _, v in labels) + 1, dtype=dtype)
            ids = []
            for label_name, value in labels:
                lut[int(value)] = next_id
                shown = info.name if len(labels) == 1 else f"{info.name}: {label_name}"
                color = (info.colors or {}).get(label_name) or color_for(label_name)
                cmap[next_id] = tuple(float(c) for c in color)
                index.append(next_id)
                names.append(shown)
                mapping[shown] = next_id
                ids.append(next_id)
                next_id += 1
            crop = np.asarray(mask.crop_data)
            region = data[tuple(slice(a, b) for a, b in mask.bbox)]
            hit = crop != 0
            values = crop[hit].astype(np.intp)
            region[hit] = lut[np.minimum(values, len(lut) - 1)]
            entries[info.name] = ids
    import pandas as pd

    scale, translate, _ = display_transform(space)
    meta = {
        "archive": path, "entry": None, "overview": True, "entries": entries,
        "space": space_to_dict(space), "offset": [0, 0, 0], "bbox": None, "mapping": mapping,
        "colors": {n: list(cmap[v]) for n, v in mapping.items()}, "mask_metadata": {}, "dtype": str(np.dtype(dtype)),
    }
    kwargs = {
        "name": os.path.splitext(os.path.basename(path))[0] + OVERVIEW_SUFFIX,
        "scale": scale, "translate": translate, "colormap": cmap,
        "features": pd.DataFrame({"index": index, "name": names}),
        "metadata": {META_KEY: meta}, "opacity": 0.8,
    }
    return data, kwargs, "labels"


def max_initial_layers() -> int:
    try:
        return max(0, int(os.environ.get(MAX_INITIAL_ENV, MAX_INITIAL_LAYERS)))
    except ValueError:
        return MAX_INITIAL_LAYERS


def read_archive_path(path: str | list[str]) -> list:
    """An archive: one overview layer at once, entry layers made in the background by the dock.

    Without a viewer to load into (no current viewer, ``NAPARI_MEDMASK_AUTO_DOCK=0`` or
    ``NAPARI_MEDMASK_PROGRESSIVE=0``) every initial entry layer is returned at once instead.
    """
    from medmask.errors import MedMaskError

    path = os.path.abspath(os.fspath(path[0] if isinstance(path, (list, tuple)) else path))
    try:
        if _progressive_possible():
            overview = overview_layer(path)
            if _open_dock_soon(path):
                return [overview] if overview[1]["metadata"]["medmask"]["entries"] else EMPTY
        layers, _ = archive_layers(path)
    except (MedMaskError, OSError, ValueError) as exc:
        return _report(path, exc)
    _open_dock_soon(path)
    return layers or EMPTY


def _current_viewer():
    try:
        import napari

        viewer = napari.current_viewer()
        if viewer is None or getattr(viewer, "window", None) is None:
            return None
        return viewer
    except Exception:
        return None


def _progressive_possible() -> bool:
    if os.environ.get(PROGRESSIVE_ENV, "1") == "0" or os.environ.get(AUTO_DOCK_ENV, "1") == "0":
        return False
    return _current_viewer() is not None


def _open_dock_soon(path: str) -> bool:
    """Open the "MedMask archive" dock on the current viewer (it then finds the new layers).

    Returns whether a dock now lists ``path``.
    """
    if os.environ.get(AUTO_DOCK_ENV, "1") == "0":
        return False
    try:
        viewer = _current_viewer()
        if viewer is None:
            return False
        from ._qt.archive_widget import ArchiveWidget, PENDING

        PENDING.append(path)
        for widget in ArchiveWidget.instances_for(viewer):
            widget.adopt_pending()
            return path in widget.sessions
        viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "MedMask archive")
        return any(path in w.sessions for w in ArchiveWidget.instances_for(viewer))
    except Exception:  # never let the convenience break reading
        return False


def entry_rows(infos, space):
    from medmask.core.colors import color_for

    from .model import EntryRow

    rows = []
    for info in infos:
        voxels = int(sum((info.counts or {}).values())) if info.counts is not None else 0
        names = sorted(info.mapping, key=lambda n: info.mapping[n])
        colors = [tuple((info.colors or {}).get(n) or color_for(n)) for n in names]
        rows.append(EntryRow(name=info.name, voxels=voxels, volume_ml=volume_ml(space, voxels),
                             labels=dict(info.mapping), colors=colors))
    return rows
