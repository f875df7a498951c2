"""napari reader for ``.msk`` (one mask) and ``.mska`` (archive) files."""
from __future__ import annotations

import os
from typing import Any, Callable

from ._layers import mask_to_layer_data, volume_ml

PLUGIN_NAME = "medmask"  # npe2 requires the manifest name to equal the distribution name
AUTO_DOCK_ENV = "NAPARI_MEDMASK_AUTO_DOCK"  # "0" disables opening the dock widget on read
MAX_INITIAL_ENV = "NAPARI_MEDMASK_MAX_LAYERS"  # entries drawn when an archive opens (largest first)
MAX_INITIAL_LAYERS = 64  # napari spends ~0.3 s per layer; the rest are listed, one click away
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


def archive_layers(path: str, *, which: str = "initial") -> tuple[list, Any]:
    """LayerData of an archive's entries and the EntryInfo list.

    ``which="initial"``: non-empty entries that are not aggregates of other
    entries (aggregates and empty entries are made later, when checked).
    """
    from medmask import MaskArchive

    layers = []
    with MaskArchive(path, "r") as archive:
        infos = archive.entries()
        names = {i.name for i in infos}
        chosen = [i for i in infos if which != "initial" or (i.bbox is not None and not is_aggregate(i, names))]
        if which == "initial":
            limit = max_initial_layers()
            if len(chosen) > limit:
                keep = {i.name for i in sorted(chosen, key=lambda i: -sum((i.counts or {}).values()))[:limit]}
                chosen = [i for i in chosen if i.name in keep]
        for info in chosen:
            mask = archive.load_segmask(info.name)
            layers.append(mask_to_layer_data(mask, name=info.name, archive=path, entry=info.name))
    return layers, infos


def max_initial_layers() -> int:
    try:
        return max(0, int(os.environ.get(MAX_INITIAL_ENV, MAX_INITIAL_LAYERS)))
    except ValueError:
        return MAX_INITIAL_LAYERS


def read_archive_path(path: str | list[str]) -> list:
    from medmask.errors import MedMaskError

    path = os.path.abspath(os.fspath(path[0] if isinstance(path, (list, tuple)) else path))
    try:
        layers, _ = archive_layers(path)
    except (MedMaskError, OSError, ValueError) as exc:
        return _report(path, exc)
    _open_dock_soon(path)
    return layers or EMPTY


def _open_dock_soon(path: str) -> None:
    """Open the "MedMask archive" dock on the current viewer (it then finds the new layers)."""
    if os.environ.get(AUTO_DOCK_ENV, "1") == "0":
        return
    try:
        import napari

        viewer = napari.current_viewer()
        if viewer is None or getattr(viewer, "window", None) is None:
            return
        from ._qt.archive_widget import ArchiveWidget, PENDING

        PENDING.append(path)
        for widget in ArchiveWidget.instances_for(viewer):
            widget.adopt_pending()
            return
        viewer.window.add_plugin_dock_widget(PLUGIN_NAME, "MedMask archive")
    except Exception:  # never let the convenience break reading
        pass


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
