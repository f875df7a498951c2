"""The review dock over cases holding a TotalSegmentator ``--ml`` entry: a decision on one organ of a
multi-label entry is that organ's alone; Edit, paint, Save and Next write back into the entry.

Driven through Qt (pytest-qt, Xvfb, ``show=True`` for the screenshot) as a reviewer would, then
the archives are checked: statuses per organ, history voxel counts per organ, other organs' voxels.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.convert import convert

OUT = Path(__file__).resolve().parents[2] / "out"  # screenshots (git-ignored)
LONG = "T716_aorta_true_false_lumen_1"  # a long TotalSegmentator-style name


@pytest.fixture
def ml_queue(tmp_path):
    """Two cases: ``organs.mska`` with the --ml label map as one entry ``total`` (over its ct.nii.gz,
    recorded by convert from the file beside it) and two single-label entries."""
    from test_multilabel import write_ml_case

    root = tmp_path / "queue"
    for i in (1, 2):
        case = root / f"case_{i}"
        seg, _, _ = write_ml_case(case)
        seg = seg.rename(case / "total.nii.gz")  # the entry's name
        convert(seg, case / "organs.mska")
        with MaskArchive(case / "organs.mska", "a") as a:
            assert a.image_reference is not None and a.image_reference.path == "ct.nii.gz"
            total = a["total"]
            lumen = np.zeros(total.space.shape, np.uint8)
            lumen[tuple(np.argwhere(total.data == total.mapping["aorta"])[:40].T)] = 1
            a.add_segmask(SegmentationMask(lumen, {LONG: 1}, space=total.space), LONG)
            lesion = np.zeros(total.space.shape, bool)
            lesion[1:3, 1:3, 1:3] = True
            a.add_segmask(SegmentationMask(lesion, {"lesion": 1}, space=total.space), "lesion")
        seg.unlink()
    return root


def _docks(viewer):
    _, review = viewer.window.add_plugin_dock_widget("medmask", "MedMask review")
    return review, review.archive_widget


def test_review_organs_of_a_multi_label_entry(make_napari_viewer, ml_queue, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 900)
    w, aw = _docks(viewer)
    w.on_unsaved = "save"
    w.open_queue([ml_queue], reviewer="dr.ml")
    first = ml_queue / "case_1" / "organs.mska"
    before = MaskArchive(first)["total"]
    assert [l.name for l in viewer.layers] == ["ct", "organs.mska"]
    rows = aw.session.model
    assert {"liver", "spleen", "kidney_left", "aorta", LONG, "lesion"} <= set(rows.entries)
    assert rows["liver"].entry_name == "total" and rows["liver"].label == "liver"
    assert aw.title.text().split("\u2014")[1].strip().startswith("3 entries, 11 organs")

    # accept the liver by its key: the liver alone, not the 40 other organs of its label map
    w.select_entry("liver")
    aw.tree.setFocus()
    qtbot.keyClick(aw.tree, "a")
    review = MaskArchive(first).review
    assert review["total/liver"]["status"] == "accepted" and review["total/liver"]["reviewer"] == "dr.ml"
    assert "total" not in review and "total/spleen" not in review
    assert aw.item_for("liver").text(3) == "\u2713 accepted" and aw.item_for("spleen").text(3) == ""
    assert w.selected_entry() == "total/rib_left_1"  # the walk goes on to the next undecided row (dock order)

    # reject a kidney by its key, with a comment
    w.select_entry("kidney_left")
    w.comment.setText("includes the renal vein")
    qtbot.keyClick(aw.tree, "r")
    # the long single-label entry: accepted by its key as an entry
    w.select_entry(LONG)
    qtbot.keyClick(aw.tree, "a")

    # spleen: needs fix, Edit its row, paint one background voxel and one liver voxel, Save
    w.select_entry("spleen")
    qtbot.keyClick(aw.tree, "f")
    w.select_entry("spleen")
    layer = w.edit()
    assert layer is not None and layer.selected_label == before.mapping["spleen"]
    layer.brush_size = 1
    layer.mode = "paint"  # grows the cropped layer to the full volume
    axes = [int(v) for v in layer.metadata["medmask"]["axes"]]
    data = before.data
    bg = tuple(int(v) for v in np.argwhere(data == 0)[0])
    liver_voxel = tuple(int(v) for v in np.argwhere(data == before.mapping["liver"])[0])
    for voxel in (bg, liver_voxel):
        layer.paint(np.array([voxel[a] for a in axes]), layer.selected_label, refresh=True)
    assert rows["spleen"].dirty
    assert w.save() == ["spleen"]
    assert aw.item_for("spleen").text(3) == "\u2713 fixed"

    # a long name does not fit the dock's default width: cut in the middle, whole in its tooltip
    from qtpy.QtCore import Qt
    from qtpy.QtGui import QFontMetrics

    item = aw.item_for(LONG)
    room = aw.tree.columnWidth(0) - 60  # indentation, check box and swatch
    shown = QFontMetrics(aw.tree.font()).elidedText(LONG, aw.tree.textElideMode(), room)
    assert aw.tree.textElideMode() == Qt.TextElideMode.ElideMiddle
    assert shown.endswith("lumen_1") and item.toolTip(0).startswith(LONG)  # cut or not, the suffix shows

    if OUT.parent.is_dir():  # look at it: the Review column, long names
        OUT.mkdir(exist_ok=True)
        w.select_entry(LONG)
        qtbot.wait(100)
        viewer.screenshot(str(OUT / "review_multilabel.png"), canvas_only=False)

    assert w.next_case() and aw.session.path.endswith("case_2/organs.mska")
    assert aw.item_for("liver").text(3) == ""  # a new case starts unreviewed

    a = MaskArchive(first)
    statuses = {k: v["status"] for k, v in a.review.items()}
    assert statuses == {"total/liver": "accepted", "total/kidney_left": "rejected", LONG: "accepted",
                        "total/spleen": "fixed"}
    assert a.review["total/kidney_left"]["comment"] == "includes the renal vein"
    after = a["total"]
    changed = np.argwhere(after.data != data)
    assert [tuple(v) for v in changed] == [bg]  # the liver voxel stays the liver's; nothing else moved
    assert after.data[bg] == before.mapping["spleen"]
    (vox,) = [r for r in a.history if r["action"] == "voxels"]
    assert vox["entry"] == "total" and (vox["voxels_added"], vox["voxels_removed"]) == (1, 0)
    assert vox["labels"] == {"spleen": [1, 0]}
    assert a.label_voxel_edits() == {"total/spleen": (1, 0)}
    assert MaskArchive(ml_queue / "case_2" / "organs.mska").history == []  # not touched

    # the case list and the report count organs, not entries
    from medmask.review import case_state, report_rows

    s = case_state(first)
    assert s.state == "started" and s.decided == 4 and len(s.to_review) == 9
    rows_by = {(r["entry"], r["label"]): r for r in report_rows([s])}
    assert rows_by["total", "spleen"]["status"] == "fixed" and rows_by["total", "spleen"]["voxels_added"] == 1
    assert rows_by["total", "aorta"]["status"] == "unreviewed"
    assert rows_by[LONG, None]["status"] == "accepted"
    w.queue.close()


def test_an_entry_decision_covers_its_organs_until_one_has_its_own(make_napari_viewer, ml_queue):
    first = ml_queue / "case_1" / "organs.mska"
    with MaskArchive(first, "a") as a:
        a.set_review("total", "accepted", reviewer="api")  # e.g. a script accepting the whole label map
        a.set_review("total/aorta", "needs_fix")
    viewer = make_napari_viewer()
    w, aw = _docks(viewer)
    w.open_queue([first])
    assert aw.item_for("liver").text(3) == "\u2713 accepted (entry)"
    assert "whole entry total" in aw.item_for("liver").toolTip(3)
    assert aw.item_for("aorta").text(3) == "\u270e needs fix"
    w.select_entry("aorta")
    assert "needs fix" in w.organ.text() and "total/aorta" in w.organ.text()
    assert w.decide("accepted")
    assert MaskArchive(first).review["total/aorta"]["status"] == "accepted"
    state = w.queue.current
    assert state.decided == len(state.to_review) - 2 and state.state == "started"  # LONG and lesion left
    for name in (LONG, "lesion"):
        w.decide("accepted", name)
    assert w.queue.current.state == "done" and w.cases.item(0).text().startswith("\u2713")
    w.queue.close()
