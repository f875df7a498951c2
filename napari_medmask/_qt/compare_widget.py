"""The "MedMask compare" dock: two archives' versions of an entry and where they disagree."""
from __future__ import annotations

import html

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (QAbstractItemView, QFileDialog, QGridLayout, QHeaderView, QLabel, QLineEdit,
                            QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..compare_model import DISAGREEMENT_COLORS, DISAGREEMENT_NAMES, CompareModel


def _swatch(rgba) -> str:
    r, g, b = (int(255 * c) for c in rgba[:3])
    return f'<span style="color: rgb({r},{g},{b})">&#9632;</span>'


class CompareWidget(QWidget):
    """Pick archive A and B, then an entry: adds "A: x", "B: x" and "A≠B: x" layers."""

    COLUMNS = ("entry", "Dice", "vol. B-A %", "status")

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        self.viewer = napari_viewer
        self.model = CompareModel()
        self._layer_names: list[str] = []
        grid = QGridLayout()
        self.path_edits = []
        for row, side in enumerate(("A", "B")):
            edit = QLineEdit()
            edit.setPlaceholderText(f"archive {side} (.mska)")
            browse = QPushButton("…")
            browse.setToolTip(f"choose archive {side}")
            browse.clicked.connect(lambda _=False, e=edit: self._browse(e))
            grid.addWidget(QLabel(side), row, 0)
            grid.addWidget(edit, row, 1)
            grid.addWidget(browse, row, 2)
            self.path_edits.append(edit)
        self.compare_button = QPushButton("Compare")
        self.compare_button.clicked.connect(self._compare_clicked)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.summary = QLabel("Choose two archives of one case on one grid, then Compare.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        legend = " &nbsp; ".join(f"{_swatch(DISAGREEMENT_COLORS[k])} {v}" for k, v in DISAGREEMENT_NAMES.items())
        self.legend = QLabel(f"A≠B layer: {legend}")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.compare_button)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.legend)
        self.setMinimumWidth(420)

    # actions ---------------------------------------------------------------------------------
    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an archive", edit.text(), "MedMask archives (*.mska)")
        if path:
            edit.setText(path)

    def _compare_clicked(self) -> None:
        a, b = (e.text().strip() for e in self.path_edits)
        try:
            self.compare(a, b)
        except Exception as exc:  # a MedMaskError names the file; anything else still must not kill napari
            from napari.utils.notifications import show_error

            self.summary.setText(f"<b>Cannot compare:</b> {exc}")
            show_error(f"MedMask compare: {exc}")

    def compare(self, path_a: str, path_b: str) -> list[str]:
        """Open both archives and list their entries, disagreeing ones first."""
        for edit, p in zip(self.path_edits, (path_a, path_b)):
            edit.setText(str(p))
        entries = self.model.open(path_a, path_b)
        self.table.blockSignals(True)
        self.table.setRowCount(len(entries))
        for row, name in enumerate(entries):
            s = self.model.summaries[name]
            cells = (name, "" if s.dice is None else f"{s.dice:.3f}",
                     "" if s.volume_diff_pct is None else f"{s.volume_diff_pct:+.1f}", s.status.replace("_", " "))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (1, 2):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.blockSignals(False)
        differ = sum(1 for n in entries if (self.model.summaries[n].dice or 0) < 1
                     and self.model.summaries[n].status != "empty_in_both")
        note = f"<br><i>{html.escape(self.model.note)}</i>" if self.model.note else ""
        self.summary.setText(f"{len(entries)} entries, {differ} differ. Select one to show A, B and A≠B.{note}")
        return entries

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.show_entry(self.table.item(rows[0].row(), 0).text())

    def show_entry(self, entry: str) -> None:
        """Replace the layers of the previous entry with A, B and A≠B of ``entry``."""
        for name in self._layer_names:
            if name in self.viewer.layers:
                self.viewer.layers.remove(name)
        self._layer_names = []
        for data, kwargs, _ in self.model.layers(entry):
            layer = self.viewer.add_labels(data, **kwargs)
            self._layer_names.append(layer.name)
        s = self.model.summary(entry)
        self.summary.setText(f"<b>{entry}</b>: {s.text()}")
        self.viewer.layers.selection.active = self.viewer.layers[self._layer_names[-1]]
        self.viewer.reset_view()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt name)
        self.model.close()
        super().closeEvent(event)
