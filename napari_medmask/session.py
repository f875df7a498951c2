"""One open archive in one viewer: its model, its layers and saving back (no Qt).

The dock creates an :class:`ArchiveSession` per archive path it finds in the layers' metadata.
The session holds **one** archive handle for its whole life (reading entries, then committing
edits through it, so a file changed by someone else meanwhile is detected on save).

Display: the reader's *composite* layer draws every non-empty entry; showing or hiding an entry
recolours it (:class:`~napari_medmask.composite.Composite`), a colormap change whatever the
number of entries. Editing: :meth:`ArchiveSession.edit` gives one entry its own cropped Labels
layer (the composite stops drawing it); choosing a painting tool grows that layer to the full
volume so the brush reaches the whole scan; :meth:`save` writes the edited entries back in one
atomic commit.
"""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ._layers import META_KEY, layer_meta, layer_to_mask, mask_to_layer_data, volume_ml
from .composite import Composite
from .model import ArchiveModel, EntryRow

__all__ = ["ArchiveSession", "layer_info", "layer_archive", "entry_rows", "same_layer", "EDIT_MODES"]

# Labels modes that change voxels: a cropped layer is grown to the full volume first
EDIT_MODES = frozenset({"paint", "fill", "erase", "polygon"})
# composite colormaps kept (per set of hidden entries): a toggle back reuses napari's validated colormap
COLORMAP_CACHE = 8


def layer_info(layer) -> dict:
    info = (getattr(layer, "metadata", None) or {}).get(META_KEY) or {}
    return info if isinstance(info, dict) else {}


def layer_archive(layer) -> tuple[str | None, str | None]:
    """(archive path, entry name) a layer came from, or (None, None); the composite has entry None."""
    info = layer_info(layer)
    return info.get("archive"), info.get("entry")


def same_layer(a, b) -> bool:
    """Identity that survives napari's public-only proxies around plugin-facing objects."""
    if a is b:
        return True
    try:
        return a is not None and b is not None and a.unique_id == b.unique_id
    except Exception:
        return False


def entry_rows(infos, space) -> list[EntryRow]:
    """The dock's rows: one per single-label entry, one per label of a multi-label entry.

    A label's row is named like the label (``liver`` of a TotalSegmentator ``--ml`` entry), or
    ``entry: label`` for every label of an entry when another row would have one of its names
    (``rib_left_1`` and ``ribs_left``'s ``rib_left_1``).
    """
    from collections import Counter

    from medmask.core.colors import color_for

    infos = list(infos)
    wanted = Counter(lab for i in infos if len(i.mapping) > 1 for lab in i.mapping)
    wanted.update(i.name for i in infos if len(i.mapping) <= 1)
    rows: list[EntryRow] = []
    used: set[str] = set()
    for info in infos:
        # an entry's labels are all named alike: bare when none is taken, else all ``entry: label``
        bare = all(wanted[lab] == 1 for lab in info.mapping)
        counts = info.counts or {}
        if len(info.mapping) <= 1:
            voxels = int(sum(counts.values())) if info.counts is not None else 0
            colors = [tuple((info.colors or {}).get(n) or color_for(n)) for n in info.mapping]
            rows.append(EntryRow(name=info.name, voxels=voxels, volume_ml=volume_ml(space, voxels),
                                 labels=dict(info.mapping), colors=colors))
            used.add(info.name)
            continue
        for label, value in sorted(info.mapping.items(), key=lambda kv: kv[1]):
            key = label if bare and label not in used else f"{info.name}: {label}"
            while key in used:
                key += "'"
            used.add(key)
            voxels = int(counts.get(int(value), counts.get(str(value), 0)) or 0)
            color = tuple((info.colors or {}).get(label) or color_for(label))
            rows.append(EntryRow(name=key, voxels=voxels, volume_ml=volume_ml(space, voxels), labels={label: int(value)},
                                 colors=[color], entry=info.name, label=label, value=int(value)))
    return rows


def row_of_layer(model: ArchiveModel, info: dict) -> str | None:
    """The row an entry layer (``entry``, and ``label`` for one label of a multi-label entry) shows."""
    entry, label = info.get("entry"), info.get("label") or ""
    for row in model:
        if row.entry_name == entry and row.label == label:
            return row.name
    return None


def _open_handle(path: str):
    """The session's one handle: editable when the file and its folder are writable.

    A label NIfTI/NRRD or a folder of masks (not an archive) is read-only (:mod:`.label_source`).
    """
    from medmask import MaskArchive

    if not path.lower().endswith(".mska"):
        from .label_source import open_label_source

        return open_label_source(path)

    writable = os.access(path, os.W_OK) and os.access(os.path.dirname(path) or ".", os.W_OK)
    return MaskArchive(path, "a" if writable else "r")


class ArchiveSession:
    def __init__(self, viewer, path: str | os.PathLike):
        self.viewer = viewer
        self.path = os.path.abspath(os.fspath(path))
        self.archive = _open_handle(self.path)
        self.space = self.archive.space
        self.model = ArchiveModel(entry_rows(self.archive.entries(), self.space), path=self.path)
        self.composite_layer = None
        self.composite: Composite | None = None
        self.layers: dict[str, Any] = {}  # row -> its own (editable) layer
        self._row_of_title = {r.title: r.name for r in self.model}  # composite item title -> row
        self._syncing = False
        self._expanding = False
        self._colormaps: dict[frozenset, Any] = {}  # hidden entries -> napari colormap, of _colormaps_of
        self._colormaps_of: Composite | None = None
        self.model.subscribe(self._on_model)
        for layer in list(viewer.layers):
            self.adopt_layer(layer)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    @property
    def frame(self):
        """Display frame of this archive's layers (that of its composite, else the grid's own)."""
        from .frame import frame_for

        info = layer_info(self.composite_layer) if self.composite_layer is not None else {}
        return np.asarray(info["frame"]) if info.get("frame") else frame_for(self.space)

    def close(self) -> None:
        self.archive.close()

    # layers <-> model -------------------------------------------------------------------------
    def owns(self, layer) -> bool:
        path, _ = layer_archive(layer)
        return path is not None and os.path.abspath(path) == self.path

    def adopt_layer(self, layer) -> bool:
        """Take charge of a layer read from this archive; returns whether it was ours."""
        if not self.owns(layer):
            return False
        info = layer_info(layer)
        if info.get("kind") == "composite":
            return self._adopt_composite(layer, info)
        entry = row_of_layer(self.model, info)
        if entry is None:
            return False
        if same_layer(self.layers.get(entry), layer):
            return True
        self.layers[entry] = layer
        self.model[entry].loaded = True
        layer.events.visible.connect(self._on_layer_visible)
        layer.events.paint.connect(self._on_layer_edit)
        layer.events.data.connect(self._on_layer_edit)
        layer.events.mode.connect(self._on_layer_mode)
        self._syncing = True
        try:
            self.model.set_visible(entry, bool(layer.visible))
        finally:
            self._syncing = False
        self._recolor()
        return True

    def _adopt_composite(self, layer, info: dict) -> bool:
        if same_layer(self.composite_layer, layer):
            return True
        self.composite_layer = layer
        self.composite = Composite.from_meta(layer.data, info.get("composite") or {})
        try:
            layer.editable = False  # display only: paint an entry in its own layer (edit)
        except Exception:
            pass
        drawn = self._drawn
        shown = {self._row_of_title.get(t) for t in info.get("shown") or ()}
        self._syncing = True
        try:
            self.model.set_many({n: (n in shown) for n in drawn if n not in self.layers})
        finally:
            self._syncing = False
        self._recolor()
        return True

    def forget_layer(self, layer) -> list[str]:
        """Drop a layer the user deleted; returns entries whose unsaved edits went with it."""
        if same_layer(layer, self.composite_layer):
            self.composite_layer = None
            gone = [n for n in self._drawn if n not in self.layers]
            self.composite = None
            self._syncing = True
            try:
                self.model.set_many({n: False for n in gone})
            finally:
                self._syncing = False
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
                self._recolor()
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

    def _on_layer_mode(self, event) -> None:
        name = self._entry_of(event.source)
        if name is not None and str(getattr(event.source, "mode", "")) in EDIT_MODES:
            self.expand_layer(name)

    def expand_layer(self, name: str) -> bool:
        """Grow an entry's cropped layer to the full volume, in place; returns whether it grew.

        The voxels keep their world position, nothing is marked edited, and the layer's metadata
        offset becomes (0, 0, 0).
        """
        from ._layers import crop_translate
        from .frame import placement

        layer = self.layers[name]
        info = dict(layer_info(layer))
        axes = [int(v) for v in info.get("axes", (0, 1, 2))]
        full_shape = tuple(int(self.space.shape[a]) for a in axes)
        crop = np.asarray(layer.data)
        if crop.shape == full_shape:
            return False
        offset = [int(v) for v in info.get("offset", (0, 0, 0))]
        layer_offset = [offset[a] for a in axes]
        full = np.zeros(full_shape, dtype=crop.dtype)
        full[tuple(slice(o, o + n) for o, n in zip(layer_offset, crop.shape))] = crop
        p = placement(self.space, np.asarray(info["frame"]))
        self._expanding = True
        try:
            layer.data = full
            layer.translate = crop_translate(p, (0, 0, 0))
            layer.metadata = {**layer.metadata, META_KEY: {**info, "offset": [0, 0, 0]}}
        finally:
            self._expanding = False
        return True

    def _on_layer_edit(self, event=None) -> None:
        if self._expanding:
            return
        name = self._entry_of(getattr(event, "source", None))
        if name is not None:
            self.model.set_dirty(name, True)

    # visibility -------------------------------------------------------------------------------
    def _on_model(self, event: str, names: list[str]) -> None:
        if event != "visibility" or self._syncing:
            return
        recolor = False
        for name in names:
            layer = self.layers.get(name)
            if layer is not None and not any(same_layer(layer, lyr) for lyr in self.viewer.layers):
                self.forget_layer(layer)
                layer = None
            if layer is not None:
                layer.visible = self.model[name].visible
            elif self.composite is not None and name in self._drawn:
                recolor = True
            elif self.model[name].visible:  # not drawn by the composite (empty, or composite removed)
                self.edit(name, select=False)
        if recolor:
            self._recolor()

    @property
    def _drawn(self) -> set[str]:
        if self.composite is None:
            return set()
        if getattr(self, "_drawn_cache", None) is None or self._drawn_cache[0] is not self.composite:
            rows = {self._row_of_title.get(t) for t in self.composite.titles}
            self._drawn_cache = (self.composite, {r for r in rows if r is not None})
        return self._drawn_cache[1]

    def hidden_in_composite(self) -> set[str]:
        """Rows the composite does not draw: unchecked, or drawn by their own layer."""
        return {n for n in self._drawn if not self.model[n].visible or n in self.layers}

    def _recolor(self) -> None:
        if self.composite is None or self.composite_layer is None:
            return
        hidden = frozenset(self.model[n].title for n in self.hidden_in_composite())
        self.composite_layer.colormap = self._colormap_for(hidden)

    def _colormap_for(self, hidden: frozenset):
        """The composite's napari colormap with ``hidden`` entries undrawn, kept for the last few states.

        Toggling an entry off and on again (the common review gesture) then hands napari a colormap
        it has already validated and whose colour texture it has already computed.
        """
        from napari.utils.colormaps import DirectLabelColormap

        if self._colormaps_of is not self.composite:
            self._colormaps.clear()
            self._colormaps_of = self.composite
        cmap = self._colormaps.pop(hidden, None)
        if cmap is None:
            cmap = DirectLabelColormap(color_dict=self.composite.colormap(hidden))
        self._colormaps[hidden] = cmap  # most recent last
        while len(self._colormaps) > COLORMAP_CACHE:
            del self._colormaps[next(iter(self._colormaps))]
        return cmap

    def names_at(self, position) -> list[str]:
        """Entries at a napari world position (composite and entry layers), shown ones first."""
        shown, hidden = [], []
        if self.composite is not None and self.composite_layer is not None:
            v = _value_at(self.composite_layer, position)
            if v:
                for title in self.composite.names_at(v):
                    row = self._row_of_title.get(title, title)
                    if row in self.layers or row not in self.model:
                        continue
                    (shown if self.model[row].visible else hidden).append(row)
        for name, layer in self.layers.items():
            v = _value_at(layer, position)
            if v:
                labels = {int(val): lab for lab, val in (layer_info(layer).get("mapping") or {}).items()}
                title = name if len(labels) <= 1 else f"{name}: {labels.get(v, v)}"
                (shown if layer.visible else hidden).append(title)
        return shown + [f"({t})" for t in hidden]

    # editing ------------------------------------------------------------------------------------
    def edit(self, name: str, *, select: bool = True):
        """Give a row its own editable Labels layer (cropped; grown when a brush is picked).

        A label of a multi-label entry gets a layer of that label alone; saving writes it back
        into its entry, the entry's other labels untouched.
        """
        layer = self.layers.get(name)
        if layer is not None and any(same_layer(layer, lyr) for lyr in self.viewer.layers):
            layer.visible = True
        else:
            row = self.model[name]
            mask = self.archive.load_segmask(row.entry_name)
            if row.label:
                mask = one_label(mask, row.label)
            # an empty entry gets the full volume, so there is room to paint it
            data, kwargs, _ = mask_to_layer_data(mask, name=name, archive=self.path, entry=row.entry_name,
                                                 crop=mask.bbox is not None, frame=self.frame)
            if row.label:
                kwargs["metadata"][META_KEY]["label"] = row.label
            layer = self.viewer.add_labels(data, **kwargs)
            if row.label:
                layer.selected_label = row.value  # the brush paints this organ
            self.adopt_layer(layer)
        if select:
            self.viewer.layers.selection.active = layer
        return layer

    # saving ---------------------------------------------------------------------------------------
    def save(self, names: list[str] | None = None) -> list[str]:
        """Write edited entries back (atomically, one commit); returns the names written.

        On any error (read-only file, the file changed on disk since it was opened, disk full)
        nothing is marked saved and the layers keep their edits.
        """
        from medmask.errors import ArchiveModeError

        names = [n for n in (names if names is not None else self.model.dirty_names()) if n in self.layers]
        if not names:
            return []
        if self.archive.mode == "r":
            raise ArchiveModeError(getattr(self.archive, "read_only_reason", None)
                                   or "the archive or its folder is read-only; save the edited layers "
                                   "elsewhere (File > Save Selected Layers)", self.path)
        masks: dict[str, Any] = {}  # entry -> its new mask
        for n in names:
            row = self.model[n]
            if not row.label:
                masks[row.entry_name] = layer_to_mask(self.layers[n].data, layer_meta(self.layers[n]))
        for n in names:  # labels of multi-label entries, merged into their entry's stored voxels
            row = self.model[n]
            if row.label:
                entry = row.entry_name
                base = masks.get(entry) or self.archive.load_segmask(entry)
                masks[entry] = with_label(base, row.value, self._painted(self.layers[n]))
        self.archive.add_segmasks(masks, replace=True)
        for n in names:
            row, layer = self.model[n], self.layers[n]
            mask = masks[row.entry_name]
            info = dict(layer_info(layer))
            own = one_label(mask, row.label) if row.label else mask
            info["bbox"] = None if own.bbox is None else [list(p) for p in own.bbox]
            info["mapping"] = own.mapping.to_dict()
            info["colors"] = {k: list(v) for k, v in own.colors.items()}
            layer.metadata = {**layer.metadata, META_KEY: info}
            counts = mask.voxel_counts()
            voxels = counts.get(row.value, 0) if row.label else sum(counts.values())
            self.model.update_counts(n, voxels, volume_ml(self.space, voxels))
            self.model.set_dirty(n, False)
        return names

    def _painted(self, layer) -> np.ndarray:
        """A layer's non-zero voxels as a full-volume boolean array in medmask order."""
        info = layer_info(layer)
        arr = np.asarray(layer.data)
        axes = [int(v) for v in info.get("axes", (0, 1, 2))]
        if axes != [0, 1, 2]:
            arr = np.transpose(arr, np.argsort(axes))
        offset = [int(v) for v in info.get("offset", (0, 0, 0))]
        full = np.zeros(tuple(int(v) for v in self.space.shape), dtype=bool)
        full[tuple(slice(o, o + n) for o, n in zip(offset, arr.shape))] = arr != 0
        return full


def one_label(mask, label: str):
    """One label of a multi-label mask as its own mask (same value, cropped to its voxels)."""
    from medmask import SegmentationMask
    from medmask.core.geometry import bbox_slices, compute_bbox

    value = int(mask.mapping[label])
    colors = {label: mask.colors[label]} if label in mask.colors else {}
    if mask.bbox is None:
        return SegmentationMask.from_crop(None, None, {label: value}, mask.space, mask.dtype, colors=colors,
                                          metadata=mask.metadata)
    hit = np.asarray(mask.crop_data) == value
    local = compute_bbox(hit)
    if local is None:
        return SegmentationMask.from_crop(None, None, {label: value}, mask.space, mask.dtype, colors=colors,
                                          metadata=mask.metadata)
    crop = np.where(hit[bbox_slices(local)], value, 0).astype(mask.dtype)
    bbox = tuple((a + o, b + o) for (a, b), (o, _) in zip(local, mask.bbox))
    return SegmentationMask.from_crop(crop, bbox, {label: value}, mask.space, mask.dtype, colors=colors,
                                      metadata=mask.metadata)


def with_label(mask, value: int, painted: np.ndarray):
    """``mask`` with label ``value`` redrawn as ``painted`` (full-volume boolean); other labels untouched.

    A voxel another label of the entry holds stays that label's: one organ's edit never
    takes voxels from its neighbours in the same label map.
    """
    from medmask import SegmentationMask

    data = np.array(mask.data)
    data[data == value] = 0
    data[painted & (data == 0)] = value
    return SegmentationMask(data, mask.mapping, space=mask.space, colors=mask.colors, metadata=mask.metadata)


def _value_at(layer, position) -> int:
    """Label value of ``layer`` at a napari world position (0 outside)."""
    try:
        idx = np.round(np.asarray(layer.world_to_data(position), dtype=float)[-3:]).astype(int)
    except Exception:
        return 0
    data = layer.data
    if np.any(idx < 0) or np.any(idx >= np.asarray(data.shape[-3:])):
        return 0
    return int(data[tuple(idx)])
