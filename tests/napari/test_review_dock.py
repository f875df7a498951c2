"""The "MedMask review" dock: a queue of cases driven through Qt (pytest-qt), then the archives checked."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from medmask import MaskArchive
from medmask.review import queue_states
from napari_medmask.review_queue import ReviewQueue


@pytest.fixture
def queue_dir(tmp_path, small_archive):
    """Three cases: copies of a small archive (no scan: the organs alone)."""
    folder = tmp_path / "queue"
    for i in range(1, 4):
        (folder / f"case_{i}").mkdir(parents=True)
        shutil.copyfile(small_archive, folder / f"case_{i}" / "organs.mska")
    return folder


def _review_dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask review")
    return widget


def test_queue_model_starts_at_the_first_open_case_and_reads_ahead(queue_dir):
    first = queue_dir / "case_1" / "organs.mska"
    with MaskArchive(first, "a") as a:
        for name in a.names:
            a.set_review(name, "accepted")
    read = []
    q = ReviewQueue([], states=queue_states([queue_dir]), reader=lambda p: read.append(p) or [p])
    assert [s.state for s in q.states] == ["done", "untouched", "untouched"]
    assert q.index == 1 and q.label(0).startswith("✓ case_1/organs")
    q.read_ahead(2)
    assert q.layers(2) == [q.paths[2]] and read == [q.paths[2]]
    assert q.layers(2) == [q.paths[2]] and len(read) == 2  # taken once, then read again
    assert "1 of 3 cases done" in q.progress()
    q.close()


def test_review_dock_drives_the_queue(make_napari_viewer, queue_dir, qtbot):
    """Next case, accept, needs fix + paint stroke + save (-> fixed), next: the archives say so."""
    viewer = make_napari_viewer()
    w = _review_dock(viewer)
    w.on_unsaved = "save"
    w.open_queue([queue_dir], reviewer="dr.test")
    aw = w.archive_widget
    assert w.queue.index == 0 and aw.session is not None and aw.session.path.endswith("case_1/organs.mska")
    assert any(l.name == "organs.mska" for l in viewer.layers)

    # case 1: accept the liver by its key in the archive dock, reject a kidney by button
    w.select_entry("liver")
    aw.tree.setFocus()
    qtbot.keyClick(aw.tree, "a")
    assert w.queue.current.review["liver"]["status"] == "accepted"
    assert aw.item_for("liver").text(3) == "✓ accepted"  # the archive dock's Review column
    w.comment.setText("wrong side")
    w.select_entry("kidney_left")
    w.status_btns["rejected"].click()
    assert w.selected_entry() != "kidney_left"  # moved on to the next undecided organ

    # fix: needs fix, Edit, one paint stroke, then Next saves it and marks it fixed
    w.select_entry("kidney_right")
    w.decide("needs_fix")
    w.select_entry("kidney_right")
    layer = w.edit()
    layer.brush_size = 1
    layer.mode = "paint"  # grows the cropped layer to the full volume
    spot = np.array(layer.data.shape) - 1
    layer.paint(spot, 1, refresh=True)
    assert aw.session.model["kidney_right"].dirty
    assert w.next_case()
    assert w.queue.index == 1 and aw.session.path.endswith("case_2/organs.mska")
    assert not any("case_1" in (l.metadata.get("medmask", {}).get("archive") or "") for l in viewer.layers)
    assert w.cases.item(0).text().startswith("◐")  # started, not done

    first = MaskArchive(queue_dir / "case_1" / "organs.mska")
    review = first.review
    assert {k: v["status"] for k, v in review.items()} == \
        {"liver": "accepted", "kidney_left": "rejected", "kidney_right": "fixed"}
    assert review["kidney_left"]["comment"] == "wrong side" and review["liver"]["reviewer"] == "dr.test"
    (edit,) = [r for r in first.history if r["action"] == "voxels"]
    assert edit["entry"] == "kidney_right" and edit["voxels_added"] == 1 and edit["voxels_removed"] == 0
    assert first["kidney_right"].voxel_counts()[1] == MaskArchive(queue_dir / "case_2" / "organs.mska")[
        "kidney_right"].voxel_counts()[1] + 1

    # case 2: everything accepted -> done; previous comes back to case 1
    for name in aw.session.model.entries:
        if aw.session.model[name].voxels:
            w.decide("accepted", name)
    assert w.queue.current.state == "done" and w.cases.item(1).text().startswith("✓")
    assert w.previous_case() and w.queue.index == 0
    assert aw.item_for("liver").text(3) == "✓ accepted"
    w.queue.close()


def test_unsaved_edit_asks_and_cancel_stays(make_napari_viewer, queue_dir, monkeypatch):
    from qtpy.QtWidgets import QMessageBox

    viewer = make_napari_viewer()
    w = _review_dock(viewer)
    w.open_queue([queue_dir])
    w.select_entry("liver")
    layer = w.edit()
    layer.paint(np.array([0, 0, 0]), 1, refresh=True)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a) or QMessageBox.StandardButton.Cancel)
    assert not w.next_case()
    assert asked and w.queue.index == 0 and w.archive_widget.session.model["liver"].dirty
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    assert w.next_case() and w.queue.index == 1
    assert MaskArchive(queue_dir / "case_1" / "organs.mska").history == []
    w.queue.close()


def test_next_case_is_read_ahead_with_its_scan(make_napari_viewer, tmp_path, qtbot):
    from medmask.sample import aorta_queue

    paths = aorta_queue(tmp_path / "aorta", 2)
    viewer = make_napari_viewer()
    w = _review_dock(viewer)
    w.open_queue([tmp_path / "aorta"])
    assert [l.name for l in viewer.layers] == ["ct", "organs.mska"]
    qtbot.waitUntil(lambda: 1 in w.queue._ahead and w.queue._ahead[1].done(), timeout=30000)
    assert w.next_case()
    assert w.last_switch["wait_read"] < 0.05  # nothing left to read: it was read ahead
    assert [l.name for l in viewer.layers] == ["ct", "organs.mska"]
    assert viewer.layers["ct"].metadata["medmask"]["path"].endswith("case_002/ct.nrrd")
    assert w.archive_widget.session.path == str(paths[1])
    w.queue.close()
