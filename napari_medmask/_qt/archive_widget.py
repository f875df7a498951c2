"""The "MedMask archive" dock widget: a searchable, grouped, checkable entry tree."""
from __future__ import annotations

import os
import weakref

from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QBrush, QColor, QIcon, QPixmap
from qtpy.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                            QLineEdit, QPushButton, QSizePolicy, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                            QWidget)

from medmask.core.colors import color_for

from .._layers import vertical_orientation
from ..session import ArchiveSession, layer_archive

PENDING: list[str] = []  # archives the reader opened before a widget existed
_INSTANCES: "weakref.WeakSet[ArchiveWidget]" = weakref.WeakSet()

KIND_ROLE = Qt.ItemDataRole.UserRole
KEY_ROLE = Qt.ItemDataRole.UserRole + 1
FIRST_STEP_DELAY_MS = 100
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
        self._updating = False
        self._message = ""  # last save result, shown under the counts
        self._entry_items: dict[str, QTreeWidgetItem] = {}
        self._group_items: dict[str, QTreeWidgetItem] = {}
        _INSTANCES.add(self)
        # background creation of entry layers: one per event-loop turn. The timer is a child of the
        # widget, so closing the viewer (which deletes the widget) stops the chain.
        self._loader = QTimer(self)
        self._loader.setSingleShot(True)
        self._loader.setInterval(0)
        self._loader.timeout.connect(self._load_tick)
        self._arm = QTimer(self)  # posts the start of the chain behind whatever napari does next
        self._arm.setSingleShot(True)
        self._arm.setInterval(0)
        self._arm.timeout.connect(lambda: self._loader.isActive() or self._loader.start(FIRST_STEP_DELAY_MS))

        self.archive_box = QComboBox()
        self.archive_box.setToolTip("Archive shown in the list")
        self.archive_box.currentIndexChanged.connect(self._on_archive_chosen)
        self.title = QLabel("No MedMask archive open: drop a .mska file on napari")
        self.title.setWordWrap(True)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Search entries…")
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
        self.tree.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.tree.setStyleSheet(_indicator_style(getattr(self.viewer, "theme", "dark")))

        self.show_all_btn = QPushButton("Show all")
        self.show_all_btn.clicked.connect(self.show_all)
        self.hide_all_btn = QPushButton("Hide all")
        self.hide_all_btn.clicked.connect(self.hide_all)
        self.save_btn = QPushButton("Save to archive")
        self.save_btn.setToolTip("Write edited entries (marked \u25cf) back into the .mska file")
        self.save_btn.clicked.connect(self.save)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.group_box)
        top.addWidget(self.empty_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.show_all_btn)
        buttons.addWidget(self.hide_all_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.save_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.archive_box)
        layout.addLayout(top)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self.archive_box.setVisible(False)
        self.setMinimumWidth(360)  # TotalSegmentator names are long ("gluteus_maximus_left/_right")
        self.viewer.dims.events.order.connect(self._orient_camera)
        self.viewer.dims.events.ndisplay.connect(self._orient_camera)

        self.viewer.layers.events.inserted.connect(self._on_layer_inserted)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.adopt_pending()
        for layer in list(self.viewer.layers):
            self._adopt(layer)

    # discovering archives ---------------------------------------------------------------------
    @classmethod
    def instances_for(cls, viewer) -> list["ArchiveWidget"]:
        out = []
        for w in list(_INSTANCES):
            try:
                if w.viewer.layers is viewer.layers or w.viewer == viewer:
                    out.append(w)
            except Exception:
                continue
        return out

    def adopt_pending(self) -> None:
        while PENDING:
            self.open_archive(PENDING.pop(0))

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
        self.set_session(session)
        self._kick()
        return session

    def _adopt(self, layer) -> None:
        path, _ = layer_archive(layer)
        if path is None:
            return
        path = os.path.abspath(path)
        if path not in self.sessions:
            try:
                self.open_archive(path)
            except Exception as exc:  # archive moved or damaged since the layer was read
                self.status.setText(f"Cannot list {os.path.basename(path)}: {exc}")
                return
        self.sessions[path].adopt_layer(layer)
        self._kick()

    # background loading ------------------------------------------------------------------------
    @property
    def loading(self) -> bool:
        """Some archive still has entry layers to create (its overview layer is up)."""
        return any(s.loading for s in self.sessions.values())

    def _kick(self) -> None:
        # the first step waits: napari still builds the overview's visual and processes events while it
        # finishes ``open`` (progress bar); the overview should reach the screen before the first
        # ~0.1 s layer creation. So: one event-loop turn, then FIRST_STEP_DELAY_MS, then one per turn.
        if self.loading and not self._loader.isActive() and not self._arm.isActive():
            self._arm.start()

    def _load_tick(self) -> None:
        """Create one pending entry layer (of the first archive that has any), then yield to the event loop."""
        for session in list(self.sessions.values()):
            if not session.loading:
                continue
            name = session.pending[0] if session.pending else None
            try:
                session.load_step()
            except Exception as exc:  # the archive went away, the viewer is closing ...
                session.cancel_loading(hide=False)
                self.status.setText(f"Loading {session.name} stopped: {exc}")
                return
            if session is self.session:
                self.refresh_rows([name] if name else [])
            break
        if self.loading:
            self._loader.start(0)

    def _on_layer_inserted(self, event) -> None:
        self._adopt(event.value)

    def _on_layer_removed(self, event) -> None:
        for session in self.sessions.values():
            lost = session.forget_layer(event.value)
            if lost:
                from napari.utils.notifications import show_warning

                show_warning(f"Unsaved edits of {', '.join(lost)} were discarded with the layer; "
                             f"{session.name} still holds the last saved version.")

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
        self._orient_camera()

    def _orient_camera(self, event=None) -> None:
        """Keep superior up in coronal/sagittal views and anterior up in axial ones."""
        if self.session is None or self.viewer.dims.ndisplay != 2 or self.viewer.dims.ndim != 3:
            return
        camera = self.viewer.scene.camera if hasattr(self.viewer, "scene") else self.viewer.camera
        vertical = vertical_orientation(self.session.space, int(self.viewer.dims.displayed[0]))
        try:
            camera.orientation2d = (vertical, camera.orientation2d[1])
        except Exception:  # a napari without orientable cameras: leave the view as it is
            pass

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
            self.title.setText(f"<b>{s.name}</b> \u2014 {len(m)} entries<br>{shape} voxels, {spacing} mm")
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
        item.setToolTip(0, f"{name}\nlabels: {labels}\n{row.voxels:,} voxels, {row.volume_ml:.2f} ml")
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
        if s.loading:
            total = s.loaded_count + len(s.pending)
            msg += f"; loading editable layers {s.loaded_count}/{total}…"
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

    def save(self) -> list[str]:
        """Write edited layers back into their archive entries; errors keep the edits."""
        from napari.utils.notifications import show_error, show_info

        if self.session is None:
            return []
        try:
            written = self.session.save()
        except Exception as exc:
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
