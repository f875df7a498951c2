"""The "MedMask archive" dock widget, driven through Qt (pytest-qt)."""
from __future__ import annotations

import os

import numpy as np
import pytest
from qtpy.QtCore import Qt

from medmask import MaskArchive
from napari_medmask._qt.archive_widget import ArchiveWidget



def _open(viewer, path, qtbot=None):
    """Open like a user: the reader docks the widget; wait for the entry layers; return the widget."""
    viewer.open(str(path), plugin="medmask")
    widgets = ArchiveWidget.instances_for(viewer)
    assert widgets, "reading an archive should dock the MedMask widget"
    if qtbot is not None:
        qtbot.waitUntil(lambda: not widgets[-1].loading, timeout=60000)
    return widgets[-1]


def test_widget_lists_entries_groups_and_counts(make_napari_viewer, phantom_path, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path, qtbot)
    assert w.session.path == str(phantom_path.resolve())
    top = [w.tree.topLevelItem(i).text(0) for i in range(w.tree.topLevelItemCount())]
    assert "rib_left_*" in top and "kidney_left/_right" in top and "ribs_left/_right" in top
    assert "liver" in top and "ribs_all" in top
    group = w.item_for("rib_left_*")
    assert group.childCount() == 6
    assert group.checkState(0) == Qt.CheckState.Checked  # all ribs are drawn on open
    assert w.item_for("ribs_all").checkState(0) == Qt.CheckState.Unchecked  # aggregate: not drawn yet
    # every row carries a check state, or Qt draws no box and an unchecked entry looks uncheckable
    for name in ("ribs_all", "ribs_left/_right", "ribs_left", "liver", "rib_left_*"):
        assert w.item_for(name).data(0, Qt.ItemDataRole.CheckStateRole) is not None, name
    liver = w.item_for("liver")
    row = w.model["liver"]
    assert liver.text(1) == f"{row.voxels:,}" and row.voxels > 1000
    assert float(liver.text(2).replace(",", "")) == pytest.approx(row.volume_ml, abs=0.05)
    assert row.volume_ml == pytest.approx(row.voxels * 2.5 * 1.25 * 1.75 / 1000)


def test_search_filters_tree(make_napari_viewer, small_archive, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive, qtbot)
    qtbot.keyClicks(w.search, "kidney")
    assert w.tree.topLevelItemCount() == 1
    assert w.tree.topLevelItem(0).text(0) == "kidney_left/_right"
    w.search.clear()
    assert w.tree.topLevelItemCount() == 4  # liver, kidney pair, rib_left_*, ribs_left
    w.group_box.setChecked(False)
    assert w.tree.topLevelItemCount() == 6


def test_toggle_entry_and_group_with_mouse_and_api(make_napari_viewer, small_archive, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive, qtbot)
    liver = viewer.layers["liver"]
    item = w.item_for("liver")
    item.setCheckState(0, Qt.CheckState.Unchecked)  # what a click on the box does
    assert liver.visible is False and w.model["liver"].visible is False
    item.setCheckState(0, Qt.CheckState.Checked)
    assert liver.visible is True
    # group checkbox hides both kidneys
    w.item_for("kidney_left/_right").setCheckState(0, Qt.CheckState.Unchecked)
    assert not viewer.layers["kidney_left"].visible and not viewer.layers["kidney_right"].visible
    assert w.item_for("kidney_left/_right").checkState(0) == Qt.CheckState.Unchecked
    viewer.layers["kidney_left"].visible = True  # eye icon in the layer list -> widget follows
    assert w.item_for("kidney_left/_right").checkState(0) == Qt.CheckState.PartiallyChecked
    # a real mouse click on the "Hide all" button
    qtbot.mouseClick(w.hide_all_btn, Qt.MouseButton.LeftButton)
    assert not any(l.visible for l in viewer.layers)
    qtbot.mouseClick(w.show_all_btn, Qt.MouseButton.LeftButton)
    assert "ribs_left" in viewer.layers  # show all also creates the aggregate entry's layer
    assert all(l.visible for l in viewer.layers)


def test_lazy_layer_creation_is_cropped(make_napari_viewer, phantom_path, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path, qtbot)
    assert "ribs_all" not in viewer.layers
    n = len(viewer.layers)
    w.item_for("ribs_all").setCheckState(0, Qt.CheckState.Checked)
    assert len(viewer.layers) == n + 1
    layer = viewer.layers["ribs_all"]
    with MaskArchive(phantom_path) as archive:
        info = archive.entry_info("ribs_all")
        shape = archive.space.shape
    assert layer.metadata["medmask"]["entry"] == "ribs_all"
    assert layer.data.shape != tuple(shape)
    assert all(s <= (b - a) + 8 for s, (a, b) in zip(layer.data.shape, info.bbox))
    assert set(layer.features["name"]) >= {"rib_left_1", "rib_right_6"}
    # unchecking hides, checking again reuses the same layer
    w.set_entry_visible("ribs_all", False)
    assert layer.visible is False
    w.set_entry_visible("ribs_all", True)
    assert viewer.layers["ribs_all"] is layer and len(viewer.layers) == n + 1
    # the layer list entry removed by the user: checking again recreates it
    viewer.layers.remove(layer)
    assert w.model["ribs_all"].visible is False
    w.set_entry_visible("ribs_all", True)
    assert "ribs_all" in viewer.layers


def test_edit_marks_and_save_back_keeps_other_entries_identical(make_napari_viewer, phantom_path, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path, qtbot)
    with MaskArchive(phantom_path) as archive:
        before = {n: archive.raw_payload(n) for n in archive.all_names()}
        infos = {i.name: i for i in archive.entries()}
    spleen = viewer.layers["spleen"]
    spleen.brush_size = 1
    data = spleen.data
    # erase the whole first occupied slice of the spleen and paint one voxel outside it (padding)
    zs = np.flatnonzero(data.any(axis=(1, 2)))
    data_before = data.copy()
    spleen.paint(np.array([zs[0], *np.argwhere(data[zs[0]])[0]]), 0, refresh=True)
    assert w.model["spleen"].dirty
    assert w.item_for("spleen").text(0).startswith("spleen") and "\u25cf" in w.item_for("spleen").text(0)
    assert w.save_btn.isEnabled()
    spleen.paint(np.array([0, 0, 0]), 1, refresh=True)
    edited = spleen.data.copy()
    assert not np.array_equal(edited, data_before)
    qtbot.mouseClick(w.save_btn, Qt.MouseButton.LeftButton)
    assert not w.model["spleen"].dirty and "\u25cf" not in w.item_for("spleen").text(0)
    with MaskArchive(phantom_path) as archive:
        after = {n: archive.raw_payload(n) for n in archive.all_names()}
        saved = archive.load_segmask("spleen")
        new_info = archive.entry_info("spleen")
        assert archive.all_names() == list(before)
    for name in before:
        if name != "spleen":
            assert after[name] == before[name], name
    assert after["spleen"] != before["spleen"]
    # names, mapping, colours and metadata kept; voxels as painted
    assert new_info.mapping == infos["spleen"].mapping
    assert new_info.colors == infos["spleen"].colors
    assert new_info.metadata == infos["spleen"].metadata
    off = spleen.metadata["medmask"]["offset"]
    full = saved.data
    sl = tuple(slice(o, o + s) for o, s in zip(off, edited.shape))
    np.testing.assert_array_equal(full[sl], edited)
    assert full.sum() == edited.sum()
    assert w.model["spleen"].voxels == int(edited.astype(bool).sum())


def test_paint_mode_grows_cropped_layer_to_full_volume(make_napari_viewer, phantom_path, qtbot):
    """The brush must reach the whole scan, not only the stored bounding box plus a margin."""
    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path, qtbot)
    spleen = viewer.layers["spleen"]
    meta = spleen.metadata["medmask"]
    full_shape = tuple(meta["space"]["shape"])
    crop = spleen.data.copy()
    assert crop.shape != full_shape
    voxel = np.argwhere(crop)[0]
    world_before = spleen.data_to_world(voxel)
    spleen.mode = "pan_zoom"
    assert spleen.data.shape == crop.shape  # looking does not cost a full volume
    spleen.mode = "paint"
    assert spleen.data.shape == full_shape and spleen.metadata["medmask"]["offset"] == [0, 0, 0]
    grown = np.asarray(spleen.data)
    off = meta["offset"]
    np.testing.assert_array_equal(grown[tuple(slice(o, o + n) for o, n in zip(off, crop.shape))], crop)
    assert grown.sum() == crop.sum()
    np.testing.assert_allclose(spleen.data_to_world(voxel + np.array(off)), world_before)
    assert not w.model["spleen"].dirty  # growing is not an edit
    far = np.array(full_shape) - 1  # a corner far outside the spleen's box
    spleen.brush_size = 1
    spleen.paint(far, 1, refresh=True)
    assert w.model["spleen"].dirty
    w.session.save()
    with MaskArchive(phantom_path) as archive:
        saved = archive.load_segmask("spleen")
    assert saved.data[tuple(far)] == 1 and saved.voxel_counts()[1] == int(crop.astype(bool).sum()) + 1


def test_save_to_readonly_location_reports_and_keeps_edits(make_napari_viewer, small_archive, qtbot, errors,
                                                           monkeypatch):
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive, qtbot)
    layer = viewer.layers["liver"]
    layer.paint(np.array([0, 0, 0]), 1, refresh=True)
    edited = layer.data.copy()
    original = small_archive.read_bytes()

    def deny(src, dst, *a, **k):
        raise PermissionError(13, "Permission denied", os.fspath(dst))

    monkeypatch.setattr(os, "replace", deny)  # root ignores chmod, so refuse the atomic rename
    assert w.save() == []
    monkeypatch.undo()
    assert len(errors) == 1 and "Save failed" in errors[0] and str(small_archive) in errors[0]
    assert "Permission denied" in w.status.text()
    assert w.model["liver"].dirty  # still marked: nothing lost
    np.testing.assert_array_equal(layer.data, edited)
    assert small_archive.read_bytes() == original
    # once writable again, the same edits save
    assert w.save() == ["liver"]
    assert not w.model["liver"].dirty


def test_widget_from_menu_picks_up_open_archives(make_napari_viewer, small_archive, monkeypatch, qtbot):
    monkeypatch.setenv("NAPARI_MEDMASK_AUTO_DOCK", "0")
    viewer = make_napari_viewer()
    viewer.open(str(small_archive), plugin="medmask")
    assert not ArchiveWidget.instances_for(viewer)
    _, w = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    assert w.session is not None and w.session.path == str(small_archive.resolve())
    assert w.model["liver"].loaded and w.model["liver"].visible


def test_large_archive_draws_largest_entries_first_and_empty_entry_gets_full_volume(
        make_napari_viewer, small_archive, monkeypatch, qtbot):
    from medmask import SegmentationMask

    with MaskArchive(small_archive, "a") as archive:
        space = archive.space
        archive.add_segmask(SegmentationMask(np.zeros(tuple(space.shape), np.uint8), {"tumour": 1}, space=space),
                            "tumour")
    monkeypatch.setenv("NAPARI_MEDMASK_MAX_LAYERS", "2")
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive, qtbot)
    assert [l.name for l in viewer.layers] == ["liver", "kidney_left"]  # the two largest, in archive order
    assert not w.model["kidney_right"].visible and w.model["tumour"].empty
    assert w.item_for("tumour").text(1) == "0"
    w.set_group_visible("kidney_left/_right", True)
    assert viewer.layers["kidney_right"].visible
    w.set_entry_visible("tumour", True)
    tumour = viewer.layers["tumour"]
    assert tumour.data.shape == tuple(space.shape)  # room to paint a new structure
    tumour.brush_size = 1
    tumour.paint(np.array([3, 4, 5]), 1, refresh=True)
    painted = int((tumour.data > 0).sum())
    assert painted >= 1 and tumour.data[3, 4, 5] == 1
    assert w.save() == ["tumour"]
    with MaskArchive(small_archive) as archive:
        info = archive.entry_info("tumour")
    assert all(a <= v < b for v, (a, b) in zip((3, 4, 5), info.bbox)) and info.mapping == {"tumour": 1}
    assert w.model["tumour"].voxels == painted


def test_deleting_an_edited_layer_warns(make_napari_viewer, small_archive, monkeypatch, qtbot):
    import napari.utils.notifications as notifications

    warnings_seen = []
    monkeypatch.setattr(notifications, "show_warning", lambda msg: warnings_seen.append(msg))
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive, qtbot)
    layer = viewer.layers["kidney_left"]
    layer.paint(np.array([0, 0, 0]), 1, refresh=True)
    assert w.model["kidney_left"].dirty
    viewer.layers.remove(layer)
    assert len(warnings_seen) == 1 and "kidney_left" in warnings_seen[0]
    assert not w.model["kidney_left"].dirty and not w.model["kidney_left"].loaded
    assert not w.save_btn.isEnabled()
