"""The "MedMask compare" dock in a real (headless) napari viewer."""
from __future__ import annotations

import numpy as np
import pytest

from tests.napari.test_compare_model import two  # noqa: F401 (fixture)


@pytest.mark.slow
def test_widget_shows_a_b_and_disagreement(make_napari_viewer, two, qtbot):  # noqa: F811
    from napari_medmask._qt.compare_widget import CompareWidget

    (pa, pb), a, b, _, _ = two
    viewer = make_napari_viewer()
    widget = CompareWidget(viewer)
    viewer.window.add_dock_widget(widget, name="MedMask compare")
    entries = widget.compare(str(pa), str(pb))
    assert widget.table.rowCount() == len(entries) == 4
    row = entries.index("organ")
    widget.table.selectRow(row)
    names = [layer.name for layer in viewer.layers]
    assert names == ["A: organ", "B: organ", "A≠B: organ"]
    diff = viewer.layers["A≠B: organ"]
    assert set(np.unique(diff.data)) == {0, 1, 2}
    assert int((diff.data == 1).sum()) == int((a & ~b).sum())
    assert "Dice" in widget.summary.text()
    widget.table.selectRow(entries.index("segments"))
    assert [layer.name for layer in viewer.layers] == ["A: segments", "B: segments", "A≠B: segments"]


def test_widget_reports_errors_without_raising(make_napari_viewer, tmp_path, monkeypatch):
    from napari_medmask._qt.compare_widget import CompareWidget

    shown = []
    monkeypatch.setattr("napari.utils.notifications.show_error", lambda msg: shown.append(msg))
    viewer = make_napari_viewer()
    widget = CompareWidget(viewer)
    widget.path_edits[0].setText(str(tmp_path / "missing.mska"))
    widget.path_edits[1].setText(str(tmp_path / "missing.mska"))
    widget._compare_clicked()
    assert shown and "missing.mska" in shown[0] and "Cannot compare" in widget.summary.text()


def test_manifest_registers_the_widget():
    from pathlib import Path

    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "napari_medmask" / "napari.yaml").read_text())
    commands = {c["id"]: c["python_name"] for c in manifest["contributions"]["commands"]}
    assert commands["medmask.compare_widget"] == "napari_medmask._qt.compare_widget:CompareWidget"
    assert any(w["command"] == "medmask.compare_widget" for w in manifest["contributions"]["widgets"])
