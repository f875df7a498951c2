"""One open archive in one viewer: its model, its layers and saving back (no Qt).

The dock widget creates an :class:`ArchiveSession` per archive path. The
session keeps :class:`~napari_medmask.model.ArchiveModel` and the viewer's
layers in step: checking an entry creates its (cropped) Labels layer the first
time and shows it, unchecking hides it, the layer's eye icon updates the
model, painting marks the entry as edited, and :meth:`save` writes the edited
entries back into the archive in one atomic commit. Choosing a painting tool on a
cropped layer first grows it to the full volume (:meth:`expand_layer`), so the
brush reaches the whole scan and not just the stored bounding box.

Progressive loading. When the reader opened the archive with a single
*overview* layer (every entry shown on open painted into one full-volume label
map, see ``_reader.overview_layer``), the session adopts it and keeps a queue
of entries still to get their own cropped layer. Something with an event loop
(the dock widget's timer) calls :meth:`load_step` once per turn; each call
creates one layer. When the queue is empty the overview is removed. Meanwhile
checking an entry creates its layer at once, unchecking one that has no layer
yet hides it in the overview (colormap). The overview is never adopted as an
entry: it cannot be edited, marked dirty or saved back.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any

from ._layers import META_KEY, layer_meta, layer_to_mask, mask_to_layer_data, volume_ml
from ._reader import entry_rows
from .model import ArchiveModel

__all__ = ["ArchiveSession", "layer_archive"]

# Labels modes that change voxels: a cropped layer is grown to the full volume first
EDIT_MODES = frozenset({"paint", "fill", "erase", "polygon"})


def layer_archive(layer) -> tuple[str | None, str | None]:
    """(archive path, entry name) a layer came from, or (None, None); an overview layer has entry None."""
    info = (getattr(layer, "metadata", None) or {}).get(META_KEY) or {}
    if not isinstance(info, dict):
        return None, None
    return info.get("archive"), info.get("entry")


def is_overview(layer) -> bool:
    info = (getattr(layer, "metadata", None) or {}).get(META_KEY) or {}
    return isinstance(info, dict) and bool(info.get("overview"))


def same_layer(a, b) -> bool:
    """Identity that survives napari's public-only proxies around plugin-facing objects."""
    if a is b:
        return True
    try:
        return a is not None and b is not None and a.unique_id == b.unique_id
    except Exception:
        return False


@contextmanager
def _scene_updates_deferred(viewer):
    """Rebuild napari's vispy scene graph once after a block of visibility changes, not per layer.

    napari rebuilds it (~10 ms with 20 layers) on every ``layer.visible`` change; a group of 12
    would pay that 12 times. Uses napari's private ``_pause_scene_graph`` flag when present;
    without it (other napari versions) this does nothing special.
    """
    canvas = None
    try:
        real = getattr(viewer, "__wrapped__", viewer)  # widgets get a public-only proxy
        canvas = real.window._qt_viewer.canvas
        if not hasattr(canvas, "_pause_scene_graph") or canvas._pause_scene_graph:
            canvas = None
    except Exception:
        canvas = None
    if canvas is None:
        yield
        return
    canvas._pause_scene_graph = True
    try:
        yield
    finally:
        canvas._pause_scene_graph = False
        try:
            canvas._update_scenegraph()
        except Exception:
            pass


class ArchiveSession:
    def __init__(self, viewer, path: str | os.PathLike):
        from medmask import MaskArchive

        self.viewer = viewer
        self.path = os.path.abspath(os.fspath(path))
        with MaskArchive(self.path, "r") as archive:
            infos = archive.entries()
            self.space = archive.space
        self.model = ArchiveModel(entry_rows(infos, self.space), path=self.path)
        self.layers: dict[str, Any] = {}
        self._syncing = False
        self._expanding = False
        self.overview = None  # the overview layer while progressive loading runs
        self._overview_ids: dict[str, list[int]] = {}  # entry -> its label values in the overview
        self._overview_cmap: dict = {}
        self._overview_hidden: set[str] = set()
        self._pending: list[str] = []  # entries still to get their own layer, in order
        self.loaded_count = 0  # layers made by load_step (progress display)
        self.model.subscribe(self._on_model)
        for layer in list(viewer.layers):
            self.adopt_layer(layer)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    # layers <-> model -------------------------------------------------------------------------
    def adopt_layer(self, layer) -> bool:
        """Take charge of a layer read from this archive; returns whether it was ours."""
        path, entry = layer_archive(layer)
        if path is None or os.path.abspath(path) != self.path:
            return False
        if is_overview(layer):
            return self._adopt_overview(layer)
        if entry not in self.model:
            return False
        if same_layer(self.layers.get(entry), layer):
            return True
        self.layers[entry] = layer
        row = self.model[entry]
        row.loaded = True
        layer.events.visible.connect(self._on_layer_visible)
        layer.events.paint.connect(self._on_layer_edit)
        layer.events.data.connect(self._on_layer_edit)
        layer.events.mode.connect(self._on_layer_mode)
        self._syncing = True
        try:
            self.model.set_visible(entry, bool(layer.visible))
        finally:
            self._syncing = False
        return True

    def forget_layer(self, layer) -> list[str]:
        """Drop a layer the user deleted; returns entries whose unsaved edits went with it."""
        if self.overview is not None and same_layer(layer, self.overview):
            self.cancel_loading(hide=True)  # the user removed the overview: what it drew is no longer shown
            return []
        lost = []
        for name, lyr in list(self.layers.items()):
            if same_layer(lyr, layer):
                del self.layers[name]
                row = self.model[name]
                row.loaded = False
                if row.dirty:
                    lost.append(name)
                self.model.set_dirty(name, False)
                self._syncing = True
                try:
                    self.model.set_visible(name, False)
                finally:
                    self._syncing = False
        return lost

    def _entry_of(self, layer) -> str | None:
        for name, lyr in self.layers.items():
            if same_layer(lyr, layer):
                return name
        return None

    def _on_layer_visible(self, event) -> None:
        name = self._entry_of(event.source)
        if name is not None:
            self._syncing = True
            try:
                self.model.set_visible(name, bool(event.source.visible))
            finally:
                self._syncing = False
            self._sync_overview([name])

    def _on_layer_mode(self, event) -> None:
        name = self._entry_of(event.source)
        if name is not None and str(getattr(event.source, "mode", "")) in EDIT_MODES:
            self.expand_layer(name)

    def expand_layer(self, name: str) -> bool:
        """Grow an entry's cropped layer to the full volume, in place; returns whether it grew.

        The voxels keep their world position (translate moves back by the crop offset),
        nothing is marked edited, and the layer's metadata offset becomes (0, 0, 0).
        """
        import numpy as np

        layer = self.layers[name]
        info = dict((layer.metadata or {}).get(META_KEY) or {})
        full_shape = tuple(int(v) for v in info["space"]["shape"])
        crop = np.asarray(layer.data)
        if crop.shape == full_shape:
            return False
        offset = [int(v) for v in info.get("offset", (0, 0, 0))]
        full = np.zeros(full_shape, dtype=crop.dtype)
        full[tuple(slice(o, o + n) for o, n in zip(offset, crop.shape))] = crop
        translate = [float(t) - float(sc) * o for t, sc, o in zip(layer.translate, layer.scale, offset)]
        self._expanding = True
        try:
            layer.data = full
            layer.translate = translate
            layer.metadata = {**layer.metadata, META_KEY: {**info, "offset": [0, 0, 0]}}
        finally:
            self._expanding = False
        return True

    def _on_layer_edit(self, event=None) -> None:
        if self._expanding:
            return
        layer = getattr(event, "source", None)
        name = self._entry_of(layer)
        if name is not None:
            self.model.set_dirty(name, True)

    def _on_model(self, event: str, names: list[str]) -> None:
        if event != "visibility" or self._syncing:
            return
        if len(names) > 1:
            with _scene_updates_deferred(self.viewer):  # one scene-graph rebuild for a whole group
                self._apply_names(names)
        else:
            self._apply_names(names)

    def _apply_names(self, names: list[str]) -> None:
        for name in names:
            if (self.overview is not None and name in self._overview_ids and name not in self.layers
                    and not self.model[name].visible):
                continue  # drawn only by the overview: hidden there below, its layer is made when checked
            self.apply_visibility(name)
        self._sync_overview(names)

    def _sync_overview(self, names: list[str]) -> None:
        """While the overview is up, an entry that gets hidden disappears from it too (one colormap change)."""
        if self.overview is None:
            return
        hide = [n for n in names if n in self._overview_ids and n not in self._overview_hidden
                and not self.model[n].visible]
        if hide:
            self._hide_in_overview(hide)

    def apply_visibility(self, name: str) -> None:
        visible = self.model[name].visible
        layer = self.layers.get(name)
        if layer is not None and not any(same_layer(layer, l) for l in self.viewer.layers):
            self.forget_layer(layer)
            layer = None
            self.model[name].visible = visible
        if layer is None:
            if not visible:
                return
            layer = self.create_layer(name)
        layer.visible = visible

    def create_layer(self, name: str):
        """Load one entry (crop only) and add it as a Labels layer."""
        from medmask import MaskArchive

        with MaskArchive(self.path, "r") as archive:
            mask = archive.load_segmask(name)
        # an empty entry gets the full volume, so there is room to paint it
        data, kwargs, _ = mask_to_layer_data(mask, name=name, archive=self.path, entry=name,
                                             crop=mask.bbox is not None)
        layer = self.viewer.add_labels(data, **kwargs)
        self.adopt_layer(layer)
        return layer

    # progressive loading --------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        """Entries are still waiting for their own layer (the overview is up)."""
        return self.overview is not None

    @property
    def pending(self) -> list[str]:
        return list(self._pending)

    def _adopt_overview(self, layer) -> bool:
        if same_layer(self.overview, layer):
            return True
        if self.overview is not None:  # a second overview of the same archive (opened twice): drop the old one
            self.cancel_loading(hide=False)
        info = layer.metadata.get(META_KEY) or {}
        ids = {str(k): [int(v) for v in vs] for k, vs in (info.get("entries") or {}).items()}
        self.overview = layer
        self._overview_ids = {k: v for k, v in ids.items() if k in self.model}
        self._overview_hidden = set()
        try:
            self._overview_cmap = dict(layer.colormap.color_dict)
        except Exception:
            self._overview_cmap = {}
        try:
            layer.editable = False  # display only: edits would be lost when it goes
        except Exception:
            pass
        shown = [n for n in self._overview_ids if n not in self.layers]
        self._pending = list(shown)
        self._syncing = True
        try:
            self.model.set_many({n: True for n in shown})
        finally:
            self._syncing = False
        # even with nothing pending the overview stays until the next load_step: removing a layer
        # from inside napari's "inserted" event would confuse napari's other listeners
        return True

    def load_step(self) -> bool:
        """Create the next pending entry layer (one napari layer, ~0.1 s); returns whether more remain."""
        if self.overview is None:
            return False
        if not any(same_layer(self.overview, l) for l in self.viewer.layers):
            self.cancel_loading(hide=True)
            return False
        while self._pending:
            name = self._pending.pop(0)
            if name in self.layers or name not in self.model or not self.model[name].visible:
                continue  # already made (checked meanwhile) or unchecked meanwhile (made when checked)
            self.create_layer(name)
            self.loaded_count += 1
            break
        if not self._pending:
            self._finish_loading()
        return self.loading

    def load_all(self) -> None:
        """Run the whole queue now (blocking)."""
        while self.load_step():
            pass

    def _finish_loading(self) -> None:
        self.overview = None
        self._pending = []
        # this overview and any older one of the same archive (opened twice)
        for layer in [l for l in self.viewer.layers if is_overview(l) and layer_archive(l)[0] is not None
                      and os.path.abspath(layer_archive(l)[0]) == self.path]:
            self.viewer.layers.remove(layer)

    def cancel_loading(self, *, hide: bool = True) -> None:
        """Stop the queue; ``hide``: entries drawn only by the (gone) overview are marked not shown."""
        self.overview = None
        self._pending = []
        if hide:
            gone = [n for n in self._overview_ids if n not in self.layers and n in self.model]
            self._syncing = True
            try:
                self.model.set_many({n: False for n in gone})
            finally:
                self._syncing = False

    def _hide_in_overview(self, names: list[str]) -> None:
        self._overview_hidden.update(names)
        cmap = dict(self._overview_cmap)
        for n in self._overview_hidden:
            for v in self._overview_ids.get(n, ()):
                cmap[v] = (0.0, 0.0, 0.0, 0.0)
        try:
            self.overview.colormap = cmap
        except Exception:
            pass

    # saving ---------------------------------------------------------------------------------------
    def save(self, names: list[str] | None = None) -> list[str]:
        """Write edited entries back (atomically, one commit); returns the names written.

        On any error nothing is marked saved and the layers keep their edits.
        """
        from medmask import MaskArchive

        names = [n for n in (names if names is not None else self.model.dirty_names()) if n in self.layers]
        if not names:
            return []
        masks = {n: layer_to_mask(self.layers[n].data, layer_meta(self.layers[n])) for n in names}
        with MaskArchive(self.path, "a") as archive:
            for n, mask in masks.items():
                archive.replace(n, mask)
        for n, mask in masks.items():
            layer = self.layers[n]
            info = dict(layer.metadata.get(META_KEY) or {})
            info["bbox"] = None if mask.bbox is None else [list(p) for p in mask.bbox]
            info["mapping"] = mask.mapping.to_dict()
            info["colors"] = {k: list(v) for k, v in mask.colors.items()}
            layer.metadata = {**layer.metadata, META_KEY: info}
            voxels = sum(mask.voxel_counts().values())
            self.model.update_counts(n, voxels, volume_ml(self.space, voxels))
            self.model.set_dirty(n, False)
        return names
