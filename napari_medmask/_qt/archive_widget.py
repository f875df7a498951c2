"""The "MedMask archive" dock: archives found in the layers, a checkable entry tree, the scan.

The dock finds archives, scans and masks from ``layer.metadata["medmask"]`` (the reader returns
layer data only). It keeps one display frame per viewer: the first MedMask volume's frame; later
volumes of another rotation are placed in it (re-ordered axes, or resampled when truly rotated
against it). It shows the patient coordinate and the organs under the cursor in the status bar,
opens the scan an archive records, and writes edits back.
"""
from __future__ import annotations

import os
import time

import numpy as np
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QBrush, QColor, QIcon, QPixmap
from qtpy.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QHeaderView,
                            QLabel, QLineEdit, QPushButton, QSizePolicy, QTreeWidget, QTreeWidgetItem,
                            QVBoxLayout, QWidget)

from medmask.core.colors import color_for

from .._layers import META_KEY, crop_translate
from ..camera import TrueView
from ..frame import CONVENTIONS, placement, resample_nearest, same_frame
from ..image_link import ImageLink, image_link, open_image_by_default
from ..session import ArchiveSession, layer_archive, layer_info
from ..status import PatientStatus
from ..warmup import warm_up_steps

KIND_ROLE = Qt.ItemDataRole.UserRole
KEY_ROLE = Qt.ItemDataRole.UserRole + 1
LOOK_ROLE = Qt.ItemDataRole.UserRole + 2  # (dirty, empty) the row's font/colour were last set for
DIRTY_MARK = " \u25cf"  # a dot after the name: unsaved edits
DIRTY_COLOR = QColor(255, 170, 60)


def _set_text(item: QTreeWidgetItem, column: int, text: str) -> None:
    if item.text(column) != text:  # every setText emits itemChanged and repaints the row
        item.setText(column, text)


def _fmt_ml(ml: float) -> str:
    return f"{ml:,.1f}" if ml < 1000 else f"{ml:,.0f}"


class ArchiveWidget(QWidget):
    """Lists the entries of the archives open in the viewer; checking shows them."""

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.sessions: dict[str, ArchiveSession] = {}
        self.session: ArchiveSession | None = None
        self.frame = None  # the viewer's display frame: that of the first MedMask volume seen
        self.links: dict[str, ImageLink] = {}  # archive path -> its scan reference and state
        self._updating = False
        self._message = ""  # last save result, shown under the counts
        self._entry_items: dict[str, QTreeWidgetItem] = {}
        self._group_items: dict[str, QTreeWidgetItem] = {}

        self.archive_box = QComboBox()
        self.archive_box.setToolTip("Archive shown in the list")
        self.archive_box.currentIndexChanged.connect(self._on_archive_chosen)
        self.title = QLabel("No MedMask archive open: drop a .mska file on napari")
        self.title.setWordWrap(True)
        self.image_label = QLabel("")
        self.image_label.setWordWrap(True)
        self.image_label.setTextFormat(Qt.TextFormat.RichText)
        self.image_btn = QPushButton("Choose scan\u2026")
        self.image_btn.setToolTip("Open the scan these organs were segmented on (NIfTI or NRRD)")
        self.image_btn.clicked.connect(self._pick_image)
        self.auto_image_box = QCheckBox("Open scan with archive")
        self.auto_image_box.setToolTip("Open the scan the archive records, under the organs, when an archive opens")
        self.auto_image_box.setChecked(open_image_by_default())
        self.coords_box = QComboBox()
        self.coords_box.addItems(list(CONVENTIONS))
        self.coords_box.setToolTip("Patient coordinates in the status bar: LPS (DICOM, ITK) or RAS (NIfTI, Slicer)")
        self.coords_box.currentTextChanged.connect(self._on_convention)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search entries\u2026")
        self.search.setToolTip("Words (all must match: 'rib left') or a glob pattern ('vertebrae_T*', 'rib_*_3')")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._on_search)
        self.group_box = QCheckBox("Group")
        self.group_box.setToolTip("Group entries by name pattern (rib_left_*, vertebrae_*, *_left/_right)")
        self.group_box.setChecked(True)
        self.group_box.toggled.connect(self._on_grouping)
        self.empty_box = QCheckBox("Empty")
        self.empty_box.setToolTip("List entries without voxels (listed last)")
        self.empty_box.setChecked(True)
        self.empty_box.toggled.connect(self._on_show_empty)

        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Entry", "Voxels", "ml"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemChanged.connect(self._on_item_changed)
        self.tree.itemDoubleClicked.connect(lambda item, col: self._edit_item(item))
        self.tree.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.tree.setStyleSheet(_indicator_style(getattr(self.viewer, "theme", "dark")))

        self.show_all_btn = QPushButton("Show all")
        self.show_all_btn.clicked.connect(self.show_all)
        self.hide_all_btn = QPushButton("Hide all")
        self.hide_all_btn.clicked.connect(self.hide_all)
        self.edit_btn = QPushButton("Edit")
        self.edit_btn.setToolTip("Give the selected entry its own Labels layer to paint (or double-click it)")
        self.edit_btn.clicked.connect(lambda: self._edit_item(self.tree.currentItem()))
        self.save_btn = QPushButton("Save to archive")
        self.save_btn.setToolTip("Write edited entries (marked \u25cf) back into the .mska file")
        self.save_btn.clicked.connect(self.save)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        image_row = QHBoxLayout()
        image_row.addWidget(self.auto_image_box, 1)
        image_row.addWidget(self.image_btn)
        coords_row = QHBoxLayout()
        coords_row.addWidget(QLabel("Status bar coordinates"))
        coords_row.addWidget(self.coords_box)
        coords_row.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.group_box)
        top.addWidget(self.empty_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.show_all_btn)
        buttons.addWidget(self.hide_all_btn)
        buttons.addWidget(self.edit_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.save_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.archive_box)
        layout.addWidget(self.image_label)
        layout.addLayout(image_row)
        layout.addLayout(coords_row)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.archive_box.setVisible(False)
        self.image_label.setVisible(False)
        self.image_btn.setVisible(False)
        self.setMinimumWidth(360)  # TotalSegmentator names are long ("gluteus_maximus_left/_right")

        self.patient_status = PatientStatus(self.viewer, lambda: self.frame, lambda: list(self.sessions.values()))
        status = self.patient_status
        self.destroyed.connect(lambda *_: status.disconnect())  # the dock closed: napari's status again
        self.true_view = TrueView(self.viewer)  # Transpose / a flipped 2D axis never mirror the patient
        true_view = self.true_view
        self.destroyed.connect(lambda *_: true_view.disconnect())
        self.viewer.dims.events.order.connect(self._on_view_change)
        self.viewer.dims.events.ndisplay.connect(self._on_view_change)
        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        for layer in list(self.viewer.layers):
            self._adopt(layer)
        # fit the view once the dock has taken its room (a camera reset before that clips the body)
        QTimer.singleShot(0, self.fit_view)
        # napari's first-Labels-layer set-up, while the user is idle: a step per event-loop turn
        self.warm_up_done = False
        self.warm_up_times: list[float] = []  # seconds each step held the event loop
        self._warm_steps = warm_up_steps()
        self._warm_timer = QTimer(self)
        self._warm_timer.setInterval(20)
        self._warm_timer.timeout.connect(self._warm_up_step)
        self._warm_timer.start()

    def _warm_up_step(self) -> None:
        """One step of :func:`napari_medmask.warmup.warm_up_steps`; never an error for the user."""
        step = next(self._warm_steps, None)
        if step is None:
            self._warm_timer.stop()
            self.warm_up_done = True
            return
        t0 = time.perf_counter()
        try:
            step()
        except Exception:  # a warm-up is an optimisation: the open pays the cost instead
            pass
        self.warm_up_times.append(time.perf_counter() - t0)

    # discovering archives and volumes -----------------------------------------------------------
    def open_archive(self, path: str) -> ArchiveSession:
        """Show ``path`` in the list (creating its session once)."""
        path = os.path.abspath(path)
        session = self.sessions.get(path)
        if session is None:
            session = ArchiveSession(self.viewer, path)
            self.sessions[path] = session
            session.model.subscribe(lambda event, names, s=session: self._on_model(s, event, names))
            self.archive_box.blockSignals(True)
            self.archive_box.addItem(session.name, path)
            self.archive_box.blockSignals(False)
            self.archive_box.setVisible(self.archive_box.count() > 1)
            self.links[path] = image_link(session.archive, path)
        self.set_session(session)
        return session

    def _adopt(self, layer) -> None:
        info = layer_info(layer)
        if not info.get("space"):
            return
        self._place(layer, info)
        path, _ = layer_archive(layer)
        if path is None:
            if info.get("kind") == "image":
                self._drop_duplicate_scan(layer, info)
                self._update_image_row()
            return
        path = os.path.abspath(path)
        first = path not in self.sessions
        if first:
            try:
                self.open_archive(path)
            except Exception as exc:  # archive moved or damaged since the layer was read
                self.status.setText(f"Cannot list {os.path.basename(path)}: {exc}")
                return
        self.sessions[path].adopt_layer(layer)
        if first:
            self.fit_view()
            if self.auto_image_box.isChecked():
                QTimer.singleShot(0, lambda p=path: self.open_image(p))

    def _place(self, layer, info: dict) -> None:
        """Put a volume into the viewer's frame (the first volume's frame defines it)."""
        from medmask.core.geometry import space_from_dict

        frame = np.asarray(info["frame"], dtype=float)
        if self.frame is None:
            self.frame = frame
            return
        if same_frame(frame, self.frame):
            return
        space = space_from_dict(info["space"])
        old_axes = [int(v) for v in info.get("axes", (0, 1, 2))]
        array = np.transpose(layer.data, np.argsort(old_axes)) if old_axes != [0, 1, 2] else layer.data
        offset = [int(v) for v in info.get("offset", (0, 0, 0))]
        p = placement(space, self.frame)
        new = dict(info)
        if p.exact:
            layer.data = p.layer_array(array)
            layer.scale = list(p.scale)
            layer.translate = crop_translate(p, offset)
            new.update(frame=self.frame.tolist(), axes=list(p.axes))
        else:  # really rotated against the frame: nearest-neighbour onto an axis-aligned grid of it
            from medmask.core.geometry import index_to_world_affine, space_to_dict
            from spacetransformer import Space

            if offset != [0, 0, 0] or tuple(array.shape) != tuple(space.shape):  # a cropped layer: its own grid
                corner = index_to_world_affine(space) @ np.array([*offset, 1.0])
                space = Space(shape=tuple(int(v) for v in array.shape), origin=tuple(float(v) for v in corner[:3]),
                              spacing=space.spacing, x_orientation=space.x_orientation,
                              y_orientation=space.y_orientation, z_orientation=space.z_orientation)
            out, q, new_space = resample_nearest(np.asarray(array), space, self.frame)
            layer.data = q.layer_array(out)
            layer.scale = list(q.scale)
            layer.translate = list(q.translate)
            new.update(frame=self.frame.tolist(), axes=list(q.axes), resampled_from=info["space"],
                       space=space_to_dict(new_space), offset=[0, 0, 0])
            try:
                layer.editable = False  # a resampled copy cannot be saved back to its grid
            except Exception:
                pass
        layer.metadata = {**layer.metadata, META_KEY: new}

    # the scan under the organs --------------------------------------------------------------------
    def open_image(self, archive_path: str | None = None, image_path: str | None = None) -> bool:
        """Open the scan of an archive (the one it records, or ``image_path``) under its organs.

        Returns whether a scan is shown. A missing or mismatching scan is reported in the dock.
        """
        archive_path = archive_path or (self.session.path if self.session else None)
        if archive_path is None or archive_path not in self.sessions:
            return False
        session = self.sessions[archive_path]
        link = self.links.get(archive_path) or image_link(session.archive, archive_path)
        if image_path is not None:
            link = link.with_choice(image_path, session.space)
        self.links[archive_path] = link
        if link.state == "ok" and link.path is not None:
            if self._image_layer(link.path) is None:
                try:
                    self.viewer.open(str(link.path), plugin="medmask")
                except Exception as exc:  # unreadable scan: say so, keep the organs
                    self.links[archive_path] = link.failed(f"cannot read it: {exc}")
                else:
                    layer = self._image_layer(link.path)
                    if layer is not None:  # under the organs
                        self.viewer.layers.move(self.viewer.layers.index(layer), 0)
        self._update_image_row()
        return self._image_layer(link.path) is not None if link.path else False

    def _drop_duplicate_scan(self, layer, info: dict) -> None:
        """A scan an archive brought is also opened by the user (``napari ct.nii.gz organs.mska``), or the
        other way round: keep the lower layer (under the organs), close the other, one copy in memory.
        """
        if not info.get("path"):
            return
        want = os.path.abspath(info["path"])
        layers = list(self.viewer.layers)
        for other in layers:
            o = layer_info(other)
            if (other is layer or o.get("kind") != "image" or not o.get("path")
                    or os.path.abspath(o["path"]) != want or not (o.get("brought_by") or info.get("brought_by"))):
                continue
            keep, extra = (other, layer) if layers.index(other) < layers.index(layer) else (layer, other)

            def close(extra=extra) -> None:  # after napari has finished inserting it
                if extra in self.viewer.layers:
                    self.viewer.layers.remove(extra)

            QTimer.singleShot(0, close)
            self._message = f"{os.path.basename(want)} is already open ({keep.name}): closed its second copy"
            if self.session is not None:
                self._update_status()
            else:
                self.status.setText(self._message)
            return

    def _image_layer(self, path):
        if path is None:
            return None
        want = os.path.abspath(os.fspath(path))
        for layer in self.viewer.layers:
            info = layer_info(layer)
            if info.get("kind") == "image" and info.get("path") and os.path.abspath(info["path"]) == want:
                return layer
        return None

    def _pick_image(self) -> None:
        start = os.path.dirname(self.session.path) if self.session else ""
        path, _ = QFileDialog.getOpenFileName(self, "Scan of these organs", start,
                                              "Scans (*.nii *.nii.gz *.nrrd *.nhdr);;All files (*)")
        if path and self.session is not None:
            self.open_image(self.session.path, path)

    def _update_image_row(self) -> None:
        link = self.links.get(self.session.path) if self.session else None
        if link is None:
            self.image_label.setVisible(False)
            self.image_btn.setVisible(False)
            return
        shown = link.path is not None and self._image_layer(link.path) is not None
        self.image_label.setText(link.describe(shown))
        self.image_label.setToolTip(str(link.path or ""))
        self.image_label.setVisible(True)
        self.image_btn.setVisible(not shown)

    # camera ---------------------------------------------------------------------------------------
    def fit_view(self) -> None:
        """Whole volume in view (also after the dock narrowed the canvas)."""
        if self.frame is None:
            return
        try:
            self.viewer.reset_view()
        except Exception:
            pass

    def _on_view_change(self, event=None) -> None:
        self.fit_view()

    def _on_convention(self, text: str) -> None:
        self.patient_status.convention = text

    def _on_layer_inserted(self, event) -> None:
        self._adopt(event.value)

    def _on_layer_removed(self, event) -> None:
        for session in self.sessions.values():
            lost = session.forget_layer(event.value)
            if lost:
                from napari.utils.notifications import show_warning

                show_warning(f"Unsaved edits of {', '.join(lost)} were discarded with the layer; "
                             f"{session.name} still holds the last saved version.")
        if self.session is not None:
            self._update_image_row()

    def _on_archive_chosen(self, index: int) -> None:
        path = self.archive_box.itemData(index)
        if path in self.sessions:
            self.set_session(self.sessions[path])

    def set_session(self, session: ArchiveSession) -> None:
        self.session = session
        idx = self.archive_box.findData(session.path)
        if idx >= 0 and idx != self.archive_box.currentIndex():
            self.archive_box.blockSignals(True)
            self.archive_box.setCurrentIndex(idx)
            self.archive_box.blockSignals(False)
        self._updating = True
        self.search.setText(session.model.filter_text)
        self.group_box.setChecked(session.model.grouping)
        self.empty_box.setChecked(session.model.show_empty)
        self._updating = False
        self.rebuild()
        self._update_image_row()

    # model -> view ------------------------------------------------------------------------------
    def _on_model(self, session, event: str, names: list[str]) -> None:
        if session is not self.session:
            return
        if event in ("filter", "grouping"):
            self.rebuild()
        elif event in ("visibility", "dirty"):
            self.refresh_rows(names)
        else:
            self.refresh()

    def rebuild(self) -> None:
        """Recreate the rows from the model (after a filter, grouping or archive change)."""
        self._updating = True
        try:
            self.tree.clear()
            self._entry_items.clear()
            self._group_items.clear()
            s = self.session
            if s is None:
                return
            m = s.model
            times = "\u00d7"
            shape = times.join(str(int(v)) for v in s.space.shape)
            spacing = times.join(f"{v:g}" for v in s.space.spacing)
            entries = len({r.entry_name for r in m})
            count = f"{entries} entr{'y' if entries == 1 else 'ies'}" + (f", {len(m)} organs" if entries != len(m) else "")
            self.title.setText(f"<b>{s.name}</b> \u2014 {count}<br>{shape} voxels, {spacing} mm")
            self.title.setToolTip(s.path)
            for node in m.tree():
                if node.kind == "group":
                    item = QTreeWidgetItem([node.key, "", ""])
                    item.setData(0, KIND_ROLE, "group")
                    item.setData(0, KEY_ROLE, node.key)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(0, Qt.CheckState.Unchecked)  # without a state Qt draws no box
                    f = item.font(0)
                    f.setBold(True)
                    item.setFont(0, f)
                    self._group_items[node.key] = item
                    for child in node.children:
                        item.addChild(self._entry_item(child.key))
                    self.tree.addTopLevelItem(item)
                    item.setExpanded(bool(m.filter_text) or len(node.children) <= 3)
                else:
                    self.tree.addTopLevelItem(self._entry_item(node.key))
        finally:
            self._updating = False
        self.refresh()

    def _entry_item(self, name: str) -> QTreeWidgetItem:
        row = self.session.model[name]  # type: ignore[union-attr]
        item = QTreeWidgetItem([name, f"{row.voxels:,}", _fmt_ml(row.volume_ml)])
        item.setData(0, KIND_ROLE, "entry")
        item.setData(0, KEY_ROLE, name)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(0, Qt.CheckState.Unchecked)  # without a state Qt draws no box
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setIcon(0, self._swatch(row.colors[0] if row.colors else color_for(name)))
        labels = ", ".join(f"{k}={v}" for k, v in row.labels.items())
        where = f"label {row.label}={row.value} of entry {row.entry_name}" if row.label else f"labels: {labels}"
        item.setToolTip(0, f"{name}\n{where}\n{row.voxels:,} voxels, {row.volume_ml:.2f} ml\n"
                           f"double-click (or Edit) to paint it")
        self._entry_items[name] = item
        return item

    _swatches: dict = {}

    @classmethod
    def _swatch(cls, rgba) -> QIcon:
        key = tuple(round(float(c), 3) for c in rgba)
        icon = cls._swatches.get(key)
        if icon is None:
            pix = QPixmap(12, 12)
            pix.fill(QColor.fromRgbF(*[float(c) for c in key[:3]], 1.0))
            icon = cls._swatches[key] = QIcon(pix)
        return icon

    def refresh(self) -> None:
        """Update check states, counts and edit marks of every row without rebuilding."""
        self.refresh_rows(None)

    def refresh_rows(self, names) -> None:
        """Update the rows of ``names`` (None: all), their groups and the status line."""
        s = self.session
        if s is None:
            return
        m = s.model
        if names is None:
            entry_items = list(self._entry_items.items())
            group_keys = list(self._group_items)
        else:
            entry_items = [(n, self._entry_items[n]) for n in names if n in self._entry_items]
            group_keys = [k for k in m.groups_of(names) if k in self._group_items]
        self._updating = True
        try:
            for name, item in entry_items:
                self._update_entry_item(item, m[name])
            for key in group_keys:
                item = self._group_items[key]
                state = {"checked": Qt.CheckState.Checked, "unchecked": Qt.CheckState.Unchecked,
                         "partial": Qt.CheckState.PartiallyChecked}[m.group_state(key)]
                if item.checkState(0) != state:
                    item.setCheckState(0, state)
                vox, ml = m.group_totals(key)
                dirty = any(m[n].dirty for n in m.group_members(key, filtered=False))
                _set_text(item, 0, key + (DIRTY_MARK if dirty else ""))
                _set_text(item, 1, f"{vox:,}")
                _set_text(item, 2, _fmt_ml(ml))
        finally:
            self._updating = False
        self._update_status()

    def _update_entry_item(self, item: QTreeWidgetItem, row) -> None:
        state = Qt.CheckState.Checked if row.visible else Qt.CheckState.Unchecked
        if item.checkState(0) != state:
            item.setCheckState(0, state)
        _set_text(item, 0, row.name + (DIRTY_MARK if row.dirty else ""))
        _set_text(item, 1, f"{row.voxels:,}")
        _set_text(item, 2, _fmt_ml(row.volume_ml))
        look = (row.dirty, row.empty)
        if item.data(0, LOOK_ROLE) == look:
            return  # font and colour already right: no Qt change signal
        item.setData(0, LOOK_ROLE, look)
        font = item.font(0)
        font.setItalic(row.dirty)
        item.setFont(0, font)
        if row.dirty:
            item.setForeground(0, QBrush(DIRTY_COLOR))
        elif row.empty:
            item.setForeground(0, QBrush(QColor(140, 140, 140)))
        else:
            item.setData(0, Qt.ItemDataRole.ForegroundRole, None)

    def _update_status(self) -> None:
        s = self.session
        m = s.model
        dirty = m.dirty_names()
        self.save_btn.setEnabled(bool(dirty))
        msg = f"{sum(r.visible for r in m)} of {len(m)} shown"
        if dirty:
            msg += f"; \u25cf unsaved edits in {', '.join(dirty[:4])}{' ...' if len(dirty) > 4 else ''}"
        if self._message:
            msg += "\n" + self._message
        if self.status.text() != msg:
            self.status.setText(msg)

    # view -> model --------------------------------------------------------------------------------
    def _on_item_changed(self, item: QTreeWidgetItem, column: int) -> None:
        if self._updating or column != 0 or self.session is None:
            return
        checked = item.checkState(0) != Qt.CheckState.Unchecked
        key = item.data(0, KEY_ROLE)
        if item.data(0, KIND_ROLE) == "group":
            self.set_group_visible(key, checked)
        else:
            self.set_entry_visible(key, checked)

    def _on_search(self, text: str) -> None:
        if not self._updating and self.session is not None:
            self.session.model.set_filter(text)

    def _on_grouping(self, on: bool) -> None:
        if not self._updating and self.session is not None:
            self.session.model.set_grouping(on)

    def _on_show_empty(self, on: bool) -> None:
        if not self._updating and self.session is not None:
            self.session.model.set_show_empty(on)

    # public API (also what the tests drive) ----------------------------------------------------------
    @property
    def model(self):
        return None if self.session is None else self.session.model

    def set_entry_visible(self, name: str, visible: bool) -> None:
        self._run(lambda: self.session.model.set_visible(name, visible))

    def set_group_visible(self, key: str, visible: bool) -> None:
        self._run(lambda: self.session.model.set_group_visible(key, visible))

    def show_all(self) -> None:
        if self.session is not None:
            self._run(self.session.model.show_all)

    def hide_all(self) -> None:
        if self.session is not None:
            self._run(self.session.model.hide_all)

    def _run(self, action) -> None:
        """Run a model change; the model's events update the rows it touched (nothing else is redrawn)."""
        try:
            action()
        except Exception as exc:
            from napari.utils.notifications import show_error

            show_error(f"MedMask: {exc}")
            self.refresh()

    def edit(self, name: str):
        """Give ``name`` its own editable layer (selected, ready to paint)."""
        if self.session is None:
            return None
        layer = self.session.edit(name)
        self.refresh_rows([name])
        return layer

    def _edit_item(self, item) -> None:
        if item is not None and item.data(0, KIND_ROLE) == "entry":
            self._run(lambda: self.edit(item.data(0, KEY_ROLE)))

    def save(self) -> list[str]:
        """Write edited layers back into their archive entries; errors keep the edits."""
        from napari.utils.notifications import show_error, show_info

        from medmask import errors

        if self.session is None:
            return []
        concurrent = getattr(errors, "ConcurrentModificationError", None)
        try:
            written = self.session.save()
        except Exception as exc:
            if concurrent is not None and isinstance(exc, concurrent):
                msg = (f"Not saved: {self.session.name} was changed on disk by someone else since it was "
                       f"opened ({exc}). Your edits are still in the layers: save them as .msk "
                       f"(File > Save Selected Layers), reopen the archive and merge them.")
            else:
                msg = f"Save failed for {self.session.path}: {exc}. Your edits are still in the layers."
            self._message = msg
            self.refresh()
            show_error(msg)
            return []
        if written:
            msg = f"Saved {len(written)} entr{'y' if len(written) == 1 else 'ies'} to {self.session.name}: {', '.join(written)}"
            self._message = msg
            show_info(msg)
        self.refresh()
        return written

    def item_for(self, key: str) -> QTreeWidgetItem | None:
        return self._entry_items.get(key) or self._group_items.get(key)


def _indicator_style(theme_id: str) -> str:
    """Tree check boxes drawn like napari's own: an unchecked box must stay visible on a dark theme."""
    try:
        from napari.utils.theme import get_theme
        t = get_theme(theme_id)
        primary, highlight, current, secondary = (str(getattr(t, k).as_hex()) for k in
                                                  ("primary", "highlight", "current", "secondary"))
        tid = t.id
    except Exception:  # an unknown theme: keep Qt's default boxes
        return ""
    return (
        f"QTreeWidget::indicator {{ width: 13px; height: 13px; border-radius: 2px;"
        f" background-color: {primary}; border: 1px solid {highlight}; }}"
        f"QTreeWidget::indicator:hover {{ background-color: {highlight}; }}"
        f"QTreeWidget::indicator:checked {{ image: url(\"theme_{tid}:/check.svg\"); background-color: {current};"
        f" border-color: {current}; }}"
        f"QTreeWidget::indicator:indeterminate {{ image: url(\"theme_{tid}:/minus.svg\");"
        f" background-color: {secondary}; }}"
    )
