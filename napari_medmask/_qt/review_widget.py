"""The "MedMask review" dock: a queue of cases, one at a time over its scan, a decision per organ.

The queue's state and the read-ahead are :class:`napari_medmask.review_queue.ReviewQueue` (no Qt).
This dock works with the "MedMask archive" dock (opened beside it): the organ list, Edit and Save
are that dock's; the selected row is the organ a decision applies to, and a "Review" column shows
each organ's status. Keys, in either dock: ``n``/``p`` next/previous case, ``a`` accept, ``f``
needs fix, ``r`` reject; on the canvas ``n`` and ``Shift-N`` (napari uses ``p``/``f`` for painting).
"""
from __future__ import annotations

import os
import time

import numpy as np

from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtGui import QKeySequence, QShortcut
from qtpy.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                            QMessageBox, QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from ..review_queue import STATUS_KEYS, STATUS_MARKS, ReviewQueue
from ..session import layer_archive, layer_info

REVIEW_COLUMN = 3
ARCHIVE_DOCK = ("medmask", "MedMask archive")


class ReviewWidget(QWidget):
    """Case list with progress, Next/Previous, Accept / Needs fix / Reject, a comment, Edit and Save."""

    def __init__(self, napari_viewer, parent=None, *, archive_widget=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.queue: ReviewQueue | None = None
        self._archive_widget = archive_widget
        self.on_unsaved = "ask"  # what Next does with unsaved edits: "ask", "save" or "discard"
        self.last_switch: dict[str, float] = {}  # seconds of the last case switch, by phase
        self._decorated_session = None

        self.title = QLabel("No review queue: run `medmask review FOLDER`, or open one")
        self.title.setWordWrap(True)
        self.open_btn = _button("Open queue\u2026", "Review every .mska archive of a folder (searched recursively)",
                                self._pick_folder)
        self.cases = QListWidget()
        self.cases.setToolTip("\u2713 done (every organ decided), \u25d0 started; double-click to open")
        self.cases.itemActivated.connect(lambda item: self.go(self.cases.row(item)))
        self.prev_btn = _button("\u25c0 Previous (p)", "Open the previous case", self.previous_case)
        self.next_btn = _button("Next (n) \u25b6", "Save this case's edits and open the next case", self.next_case)
        self.organ = QLabel("Select an organ in the MedMask archive dock")
        self.organ.setWordWrap(True)
        self.status_btns = {}
        for key, status in STATUS_KEYS.items():
            text = {"accepted": "Accept", "needs_fix": "Needs fix", "rejected": "Reject"}[status]
            self.status_btns[status] = _button(f"{text} ({key})",
                                               f"Mark the selected organ {status.replace('_', ' ')} (key {key})",
                                               lambda _=False, s=status: self.decide(s))
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("Comment (stored with the next decision)\u2026")
        self.edit_btn = _button("Edit", "Paint the selected organ in its own layer (the archive dock's Edit)",
                                self.edit)
        self.save_btn = _button("Save", "Write painted organs back; organs marked 'needs fix' become 'fixed'",
                                self.save)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        nav = QHBoxLayout()
        nav.addWidget(self.prev_btn)
        nav.addWidget(self.next_btn)
        decide = QHBoxLayout()
        for btn in self.status_btns.values():
            decide.addWidget(btn)
        fix = QHBoxLayout()
        fix.addWidget(self.edit_btn)
        fix.addWidget(self.save_btn)
        fix.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.open_btn)
        layout.addWidget(self.cases)
        layout.addLayout(nav)
        layout.addWidget(self.organ)
        layout.addLayout(decide)
        layout.addWidget(self.comment)
        layout.addLayout(fix)
        layout.addWidget(self.status)
        self.cases.setMaximumHeight(150)  # the organ list (archive dock, below) needs the height
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.setMinimumWidth(430)  # the archive dock below shares the width: room for its Review column
        self._shortcuts(self)
        self._keys = _ReviewKeys(self)  # the same keys on the lists (before their type-to-search)
        self.cases.installEventFilter(self._keys)
        if archive_widget is not None:
            archive_widget.tree.installEventFilter(self._keys)
            archive_widget.tree.currentItemChanged.connect(lambda *_: self._update_organ())
        self._bind_canvas_keys()
        self._update_buttons()

    # the archive dock ------------------------------------------------------------------------
    @property
    def archive_widget(self):
        """The "MedMask archive" dock (opened beside this one when it is not open yet)."""
        if self._archive_widget is None:
            _, self._archive_widget = self.viewer.window.add_plugin_dock_widget(*ARCHIVE_DOCK)
            aw = self._archive_widget
            aw.tree.installEventFilter(self._keys)
            aw.tree.currentItemChanged.connect(lambda *_: self._update_organ())
        return self._archive_widget

    @property
    def session(self):
        return self.archive_widget.session

    def key_actions(self) -> dict:
        keys = {"n": self.next_case, "p": self.previous_case, "N": self.previous_case}
        keys.update({k: (lambda s=s: self.decide(s)) for k, s in STATUS_KEYS.items()})
        return keys

    def _shortcuts(self, widget) -> None:
        for key, action in self.key_actions().items():
            key = "shift+n" if key == "N" else key
            sc = QShortcut(QKeySequence(key), widget)
            sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            sc.activated.connect(action)

    def _bind_canvas_keys(self) -> None:
        try:
            self.viewer.bind_key("n", lambda viewer: self.next_case(), overwrite=True)
            self.viewer.bind_key("Shift-N", lambda viewer: self.previous_case(), overwrite=True)
        except Exception:  # a viewer without key bindings (proxy or old napari): the docks' keys remain
            pass

    # the queue -----------------------------------------------------------------------------------
    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of archives to review")
        if folder:
            self.open_queue([folder])

    def open_queue(self, inputs, *, reviewer: str | None = None) -> None:
        """Review the archives of ``inputs`` (folders, globs, files): opens the first case not done."""
        from medmask.review import queue_states

        states = queue_states(inputs)
        if self.queue is not None:
            self.queue.close()
        self.queue = ReviewQueue([], reviewer=reviewer, states=states)
        self.open_btn.setVisible(False)
        self._fill_cases()
        if self.queue.index >= 0:
            self.go(self.queue.index, save=False, force=True)

    def _fill_cases(self) -> None:
        q = self.queue
        self.cases.blockSignals(True)
        self.cases.clear()
        for i in range(len(q)):
            item = QListWidgetItem(q.label(i))
            item.setToolTip(str(q.states[i].path))
            self.cases.addItem(item)
        self.cases.blockSignals(False)
        self._update_queue_rows()

    def _update_queue_rows(self, rows=None) -> None:
        q = self.queue
        for i in (range(len(q)) if rows is None else rows):
            item = self.cases.item(i)
            item.setText(q.label(i))
            font = item.font()
            font.setBold(i == q.index)
            item.setFont(font)
        if 0 <= q.index < len(q):
            self.cases.setCurrentRow(q.index)
        self.title.setText(f"<b>Review</b> \u2014 {q.progress()}")

    def next_case(self) -> bool:
        """Save this case and open the next one (the next not done, if any is left after this one)."""
        if self.queue is None or not len(self.queue):
            return False
        target = self.queue.neighbour(1)
        if target is None:
            target = self.queue.next_open()
            if target is None or target == self.queue.index:
                self.status.setText("Last case reached: every case is done" if target is None
                                    else "Last case reached")
                return False
        return self.go(target)

    def previous_case(self) -> bool:
        if self.queue is None:
            return False
        target = self.queue.neighbour(-1)
        return False if target is None else self.go(target)

    def go(self, index: int, *, save: bool = True, force: bool = False) -> bool:
        """Show case ``index``: this one's unsaved edits saved (or asked about), its layers replaced."""
        q = self.queue
        if q is None or not 0 <= index < len(q) or (index == q.index and not force and self._shown()):
            return False
        t0 = time.perf_counter()
        if save and not self._leave_case():
            return False
        t1 = time.perf_counter()
        old = q.path if self._shown() else None
        try:
            data = q.layers(index)
        except Exception as exc:
            self.status.setText(f"Cannot open {q.states[index].case}: {exc}")
            return False
        t2 = time.perf_counter()
        reusable = self._remove_case(old, keep=True) if old is not None else {}
        if old is not None:
            q.forget(q.index)
        q.index = index
        aw = self.archive_widget
        aw.frame = None  # each case is shown in its own frame, never resampled
        for array, kwargs, kind in data:
            layer = reusable.pop(_slot(kind, kwargs), None)
            if layer is None:
                (self.viewer.add_image if kind == "image" else self.viewer.add_labels)(array, **kwargs)
            else:  # the previous case's layer takes the new data: no layer (and GL visual) torn down and rebuilt
                _swap(layer, array, kwargs)
                aw._adopt(layer)
        for layer in reusable.values():
            self.viewer.layers.remove(layer)
        t3 = time.perf_counter()
        q.keep_only(index + 1)  # what was read of other cases may be stale by the time they come back
        q.read_ahead(index + 1)
        self._decorate()
        self._update_queue_rows()
        self._update_organ()
        state = q.states[index]
        self.status.setText(f"Case {index + 1} of {len(q)}: {state.case} \u2014 {state.decided} of "
                            f"{len(state.to_review)} organs decided")
        self.last_switch = {"save": t1 - t0, "wait_read": t2 - t1, "layers": t3 - t2, "total": t3 - t0}
        return True

    def _shown(self) -> bool:
        q = self.queue
        return q is not None and q.path is not None and q.path in self.archive_widget.sessions

    def _leave_case(self) -> bool:
        """Unsaved edits of the shown case: saved, discarded or (Cancel) stay; False = stay."""
        session = self.session if self._shown() else None
        if session is None:
            return True
        dirty = session.model.dirty_names()
        if not dirty:
            return True
        choice = self.on_unsaved
        if choice == "ask":
            answer = QMessageBox.question(
                self, "Unsaved edits", f"Save the edits of {', '.join(dirty)} before moving on?",
                QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
            choice = {QMessageBox.StandardButton.Save: "save",
                      QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")
        if choice == "save":
            return bool(self.save()) or not session.model.dirty_names()
        if choice == "discard":
            for name in dirty:
                session.model.set_dirty(name, False)
            return True
        return False

    def _remove_case(self, path: str, keep: bool = False) -> dict:
        """Close the shown case: its layers, the scan it brought, its archive dock session. With
        ``keep``, its scan and organ layers are left in place and returned by slot (to be reused)."""
        aw = self.archive_widget
        link = aw.links.get(path)
        scan = os.path.abspath(str(link.path)) if link is not None and link.path else None
        kept: dict = {}
        for layer in list(self.viewer.layers):
            info = layer_info(layer)
            mine = layer_archive(layer)[0] is not None and os.path.abspath(layer_archive(layer)[0]) == path
            brought = info.get("kind") == "image" and (
                info.get("brought_by") == path or (scan and info.get("path") and os.path.abspath(info["path"]) == scan))
            if not (mine or brought):
                continue
            slot = _slot("image" if info.get("kind") == "image" else "labels", {"metadata": layer.metadata})
            if keep and slot is not None and slot not in kept:
                kept[slot] = layer
            else:
                self.viewer.layers.remove(layer)
        session = aw.sessions.pop(path, None)
        if session is not None:
            session.close()
        aw.links.pop(path, None)
        idx = aw.archive_box.findData(path)
        if idx >= 0:
            aw.archive_box.blockSignals(True)
            aw.archive_box.removeItem(idx)
            aw.archive_box.blockSignals(False)
        if aw.session is session:
            aw.session = None
        return kept

    # decisions --------------------------------------------------------------------------------
    def selected_entry(self) -> str | None:
        from .archive_widget import KEY_ROLE, KIND_ROLE

        item = self.archive_widget.tree.currentItem()
        if item is None or item.data(0, KIND_ROLE) != "entry":
            return None
        return self._entry_of(item.data(0, KEY_ROLE))

    def _entry_of(self, row: str) -> str:
        """The archive entry a row of the archive dock shows (a row may be one label of a multi-label
        entry: the decision is the entry's)."""
        session = self.archive_widget.session
        model_row = session.model.entries.get(row) if session is not None else None
        return getattr(model_row, "entry_name", None) or row

    def select_entry(self, name: str) -> None:
        item = self.archive_widget.item_for(name)
        if item is not None:
            self.archive_widget.tree.setCurrentItem(item)

    def decide(self, status: str, entry: str | None = None) -> bool:
        """Record ``status`` for ``entry`` (default: the organ selected in the archive dock)."""
        entry = entry or self.selected_entry()
        if self.queue is None or not self._shown() or entry is None:
            self.status.setText("Select an organ in the MedMask archive dock first")
            return False
        try:
            self.queue.decide(self.session.archive, entry, status, self.comment.text())
        except Exception as exc:
            self.status.setText(f"Not recorded: {exc}")
            return False
        self.comment.clear()
        self.status.setText(f"{entry}: {status.replace('_', ' ')}")
        self._after_change()
        self._select_next_undecided(entry)
        return True

    def _select_next_undecided(self, after: str) -> None:
        """After a decision, move the selection to the next organ without one (the review walk)."""
        state = self.queue.current
        todo = state.to_review
        if after in todo:
            rest = todo[todo.index(after) + 1:] + todo[:todo.index(after)]
            nxt = next((n for n in rest if n not in state.review), None)
            if nxt is not None:
                self.select_entry(nxt)

    def edit(self):
        entry = self.selected_entry()
        if entry is None or not self._shown():
            self.status.setText("Select an organ in the MedMask archive dock first")
            return None
        return self.archive_widget.edit(entry)

    def save(self) -> list[str]:
        """The archive dock's save; saved organs marked 'needs fix' (or undecided) become 'fixed'."""
        if not self._shown():
            return []
        written = self.archive_widget.save()
        if written:
            fixed = self.queue.mark_fixed(self.session.archive, written)
            if fixed:
                self.status.setText(f"Saved; marked fixed: {', '.join(fixed)}")
            self._after_change()
        return written

    def _after_change(self) -> None:
        self.queue.refresh()
        self._update_queue_rows([self.queue.index])
        self._decorate()
        self._update_organ()

    # the archive dock's Review column ------------------------------------------------------------
    def _decorate(self) -> None:
        """Show each organ's decision in a "Review" column of the archive dock's rows."""
        aw = self.archive_widget
        session = aw.session
        if session is None or self.queue is None:
            return
        if self._decorated_session is not session:
            self._decorated_session = session
            session.model.subscribe(lambda event, names: self._decorate() if session is aw.session else None)
        tree = aw.tree
        if tree.columnCount() <= REVIEW_COLUMN:
            from qtpy.QtWidgets import QHeaderView

            tree.setColumnCount(REVIEW_COLUMN + 1)
            tree.headerItem().setText(REVIEW_COLUMN, "Review")
            tree.header().setSectionResizeMode(REVIEW_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        review = self.queue.current.review if self.queue.current is not None else {}
        for name, item in list(aw._entry_items.items()):
            d = review.get(self._entry_of(name))
            text = STATUS_MARKS[d["status"]] if d else ""
            if item.text(REVIEW_COLUMN) != text:
                aw._updating = True
                try:
                    item.setText(REVIEW_COLUMN, text)
                    item.setToolTip(REVIEW_COLUMN, _decision_tip(d) if d else "not reviewed")
                finally:
                    aw._updating = False

    def _update_organ(self) -> None:
        entry = self.selected_entry() if self._archive_widget is not None else None
        state = self.queue.current if self.queue is not None else None
        if entry is None or state is None:
            self.organ.setText("Select an organ in the MedMask archive dock (a / f / r decide)")
        else:
            d = state.review.get(entry)
            self.organ.setText(f"<b>{entry}</b>: " + (_decision_tip(d) if d else "not reviewed"))
        self._update_buttons()

    def _update_buttons(self) -> None:
        q = self.queue
        has = q is not None and len(q) > 0
        self.prev_btn.setEnabled(has and q.neighbour(-1) is not None)
        self.next_btn.setEnabled(has)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt)
        if self.queue is not None:
            self.queue.close()
        super().closeEvent(event)


def _button(text: str, tip: str, slot) -> QPushButton:
    btn = QPushButton(text)
    btn.setToolTip(tip)
    btn.clicked.connect(slot)
    return btn


def _slot(kind: str, kwargs: dict) -> str | None:
    """Which layer of a case this is: its scan, its composite organ layer, or (None) another."""
    info = (kwargs.get("metadata") or {}).get("medmask") or {}
    if kind == "image" and info.get("kind") == "image":
        return "scan"
    if kind == "labels" and info.get("kind") == "composite":
        return "organs"
    return None


def _swap(layer, array, kwargs: dict) -> None:
    """Give an existing layer of the same kind the data and settings of a new one."""
    kwargs = dict(kwargs)
    layer.metadata = kwargs.pop("metadata")
    layer.data = array
    info = layer.metadata.get("medmask") or {}
    if "contrast_limits" in kwargs and info.get("data_range"):
        layer.contrast_limits_range = info["data_range"]
    for key, value in kwargs.items():
        if key in ("scale", "translate") and np.array_equal(np.asarray(getattr(layer, key))[-len(value):], value):
            continue  # cases on one grid: nothing to move (each set refreshes the layer)
        if key in ("name", "opacity", "blending", "interpolation2d") and getattr(layer, key, None) == value:
            continue
        setattr(layer, key, value)


class _ReviewKeys(QObject):
    """n / p / N and a / f / r typed in the case list or the archive dock's organ list."""

    def __init__(self, widget: ReviewWidget):
        super().__init__(widget)
        self.widget = widget

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt)
        if event.type() == QEvent.Type.KeyPress and not (
                event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
                                     | Qt.KeyboardModifier.MetaModifier)):
            action = self.widget.key_actions().get(event.text())
            if action is not None:
                action()
                return True
        return False


def _decision_tip(d: dict) -> str:
    text = f"{d['status'].replace('_', ' ')} by {d['reviewer']} at {d['time']}"
    return text + (f" \u2014 {d['comment']}" if d.get("comment") else "")

