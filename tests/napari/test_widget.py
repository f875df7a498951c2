"""The "MedMask archive" dock, driven through Qt (pytest-qt)."""
from __future__ import annotations

import os

import numpy as np
import pytest
from qtpy.QtCore import Qt

from medmask import MaskArchive, SegmentationMask

TRANSPARENT = (0.0, 0.0, 0.0, 0.0)


def _dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    return widget


def _open(viewer, path):
    """Open like a user with the dock open (before or after: both are found from the layers)."""
    widget = _dock(viewer)
    viewer.open(str(path), plugin="medmask")
    return widget


def _drawn(viewer, widget, name) -> bool:
    """Is any voxel of entry ``name`` drawn (composite colour or its own visible layer)?"""
    s = widget.session
    if name in s.layers:
        return bool(s.layers[name].visible)
    comp, layer = s.composite, s.composite_layer
    title = s.model[name].title  # the row's item in the composite: entry, or "entry: label"
    values = [v for v in range(1, len(comp.combos)) if title in comp.names_at(v)]
    colors = layer.colormap.map(np.array(values))
    return bool(layer.visible and (colors[:, 3] > 0).any())


def test_widget_lists_entries_groups_and_counts(make_napari_viewer, phantom_path):
    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path)
    assert w.session.path == str(phantom_path.resolve())
    top = [w.tree.topLevelItem(i).text(0) for i in range(w.tree.topLevelItemCount())]
    assert "rib_left_*" in top and "kidney_left/_right" in top and "liver" in top
    # each rib of the multi-label entries is a row, grouped like entries
    assert {"ribs_left: rib_left_*", "ribs_right: rib_right_*", "ribs_all: rib_left_*", "ribs_all: rib_right_*"} <= set(top)
    group = w.item_for("rib_left_*")
    assert group.childCount() == 6
    assert group.checkState(0) == Qt.CheckState.Checked  # all ribs are drawn on open
    aggregate = w.item_for("ribs_all: rib_left_*")  # the same ribs again: unchecked
    assert aggregate.childCount() == 6 and aggregate.checkState(0) == Qt.CheckState.Unchecked
    for name in ("ribs_all: rib_left_*", "ribs_left: rib_left_3", "liver", "rib_left_*"):
        assert w.item_for(name).data(0, Qt.ItemDataRole.CheckStateRole) is not None, name
    row = w.model["liver"]
    assert w.item_for("liver").text(1) == f"{row.voxels:,}" and row.voxels > 1000
    assert row.volume_ml == pytest.approx(row.voxels * 2.5 * 1.25 * 1.75 / 1000)
    assert len(viewer.layers) == 1  # one composite layer draws every organ


def test_dock_opened_after_the_archive_finds_it(make_napari_viewer, small_archive):
    viewer = make_napari_viewer()
    viewer.open(str(small_archive), plugin="medmask")
    w = _dock(viewer)
    assert w.session is not None and w.session.path == str(small_archive.resolve())
    assert w.model["liver"].visible and _drawn(viewer, w, "liver")


def test_search_filters_tree(make_napari_viewer, small_archive, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive)
    qtbot.keyClicks(w.search, "kidney")
    assert w.tree.topLevelItemCount() == 1
    assert w.tree.topLevelItem(0).text(0) == "kidney_left/_right"
    w.search.clear()
    assert w.tree.topLevelItemCount() == 4  # liver, kidney pair, rib_left_*, ribs_left: rib_left_*
    w.group_box.setChecked(False)
    assert w.tree.topLevelItemCount() == 11  # 5 single-label entries, the 6 ribs of ribs_left


def test_toggles_recolour_the_composite_only(make_napari_viewer, small_archive, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive)
    layer = w.session.composite_layer
    data_before = layer.data
    w.item_for("liver").setCheckState(0, Qt.CheckState.Unchecked)  # what a click on the box does
    assert not _drawn(viewer, w, "liver") and w.model["liver"].visible is False
    assert _drawn(viewer, w, "kidney_left")
    w.item_for("liver").setCheckState(0, Qt.CheckState.Checked)
    assert _drawn(viewer, w, "liver")
    w.item_for("kidney_left/_right").setCheckState(0, Qt.CheckState.Unchecked)
    assert not _drawn(viewer, w, "kidney_left") and not _drawn(viewer, w, "kidney_right")
    assert w.item_for("kidney_left/_right").checkState(0) == Qt.CheckState.Unchecked
    qtbot.mouseClick(w.hide_all_btn, Qt.MouseButton.LeftButton)
    assert not any(_drawn(viewer, w, n) for n in w.model.entries)
    qtbot.mouseClick(w.show_all_btn, Qt.MouseButton.LeftButton)
    assert all(_drawn(viewer, w, n) for n in w.model.entries)  # the aggregate ribs_left too
    assert layer.data is data_before and len(viewer.layers) == 1  # no layer made, no voxel rewritten


def test_overlapping_entry_shows_through_when_the_one_on_top_is_hidden(make_napari_viewer, phantom_path):
    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path)
    s = w.session
    w.set_group_visible("ribs_all: rib_left_*", True)
    comp = s.composite
    rib = next(v for v in range(1, len(comp.combos)) if comp.names_at(v)[:1] == ["rib_left_1"] and comp.counts[v])
    assert "ribs_all: rib_left_1" in comp.names_at(rib)
    cmap = lambda: tuple(float(c) for c in s.composite_layer.colormap.map(np.array([rib]))[0])  # noqa: E731
    assert cmap()[3] > 0
    w.set_entry_visible("rib_left_1", False)
    assert cmap()[3] > 0  # ribs_all's rib_left_1 (same label colour) now draws those voxels
    w.set_entry_visible("ribs_all: rib_left_1", False)
    assert cmap()[3] == 0


def test_edit_gives_an_entry_its_own_layer_and_save_keeps_others_identical(make_napari_viewer, phantom_path, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path)
    with MaskArchive(phantom_path) as archive:
        before = {n: archive.raw_payload(n) for n in archive.all_names()}
        infos = {i.name: i for i in archive.entries()}
    spleen = w.edit("spleen")
    assert viewer.layers.selection.active.unique_id == spleen.unique_id and "spleen" in viewer.layers
    assert w.session.layers["spleen"].unique_id == spleen.unique_id
    assert _drawn(viewer, w, "spleen")
    comp = w.session.composite
    v = next(v for v in range(1, len(comp.combos)) if comp.names_at(v) == ["spleen"] and comp.counts[v])
    assert w.session.composite_layer.colormap.map(np.array([v]))[0][3] == 0  # drawn by its own layer now
    spleen.brush_size = 1
    data = spleen.data
    data_before = data.copy()
    spleen.paint(np.argwhere(data)[0], 0, refresh=True)
    assert w.model["spleen"].dirty and "\u25cf" in w.item_for("spleen").text(0)
    assert w.save_btn.isEnabled()
    edited = np.asarray(spleen.data).copy()
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
    assert new_info.mapping == infos["spleen"].mapping and new_info.colors == infos["spleen"].colors
    assert new_info.metadata == infos["spleen"].metadata
    assert saved.voxel_counts()[1] == int((edited > 0).sum())
    assert w.model["spleen"].voxels == int((edited > 0).sum())


def test_paint_mode_grows_cropped_layer_to_full_volume(make_napari_viewer, phantom_path):
    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path)
    spleen = w.edit("spleen")
    meta = spleen.metadata["medmask"]
    full_shape = tuple(meta["space"]["shape"][a] for a in meta["axes"])
    crop = np.asarray(spleen.data).copy()
    assert crop.shape != full_shape
    voxel = np.argwhere(crop)[0]
    world_before = spleen.data_to_world(voxel)
    spleen.mode = "pan_zoom"
    assert spleen.data.shape == crop.shape  # looking does not cost a full volume
    spleen.mode = "paint"
    assert spleen.data.shape == full_shape and spleen.metadata["medmask"]["offset"] == [0, 0, 0]
    off = np.array(meta["offset"])[meta["axes"]]
    np.testing.assert_allclose(spleen.data_to_world(voxel + off), world_before)
    assert np.asarray(spleen.data).sum() == crop.sum()
    assert not w.model["spleen"].dirty  # growing is not an edit
    far = np.array(full_shape) - 1
    spleen.brush_size = 1
    spleen.paint(far, 1, refresh=True)
    assert w.model["spleen"].dirty
    assert w.session.save() == ["spleen"]
    with MaskArchive(phantom_path) as archive:
        saved = archive.load_segmask("spleen")
    far_array = far[np.argsort(meta["axes"])]
    assert saved.data[tuple(far_array)] == 1 and saved.voxel_counts()[1] == int(crop.astype(bool).sum()) + 1


def test_save_to_readonly_location_reports_and_keeps_edits(make_napari_viewer, small_archive, errors, monkeypatch):
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive)
    layer = w.edit("liver")
    layer.paint(np.array([0, 0, 0]), 1, refresh=True)
    edited = np.asarray(layer.data).copy()
    original = small_archive.read_bytes()

    def deny(src, dst, *a, **k):
        raise PermissionError(13, "Permission denied", os.fspath(dst))

    monkeypatch.setattr(os, "replace", deny)  # root ignores chmod, so refuse the atomic rename
    assert w.save() == []
    monkeypatch.undo()
    assert len(errors) == 1 and "Save failed" in errors[0] and str(small_archive) in errors[0]
    assert "Permission denied" in w.status.text()
    assert w.model["liver"].dirty
    np.testing.assert_array_equal(layer.data, edited)
    assert small_archive.read_bytes() == original
    assert w.save() == ["liver"] and not w.model["liver"].dirty


def test_save_after_someone_else_changed_the_archive_keeps_the_edits(make_napari_viewer, small_archive, errors):
    from medmask import errors as medmask_errors

    if not hasattr(medmask_errors, "ConcurrentModificationError"):
        pytest.skip("medmask does not detect concurrent changes yet")
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive)
    layer = w.edit("liver")
    layer.paint(np.array([0, 0, 0]), 1, refresh=True)
    with MaskArchive(small_archive, "a") as other:  # another editor saves meanwhile
        other.rename("kidney_left", "kidney_l")
    theirs = small_archive.read_bytes()
    assert w.save() == []
    assert len(errors) == 1 and "changed on disk" in errors[0] and "still in the layers" in errors[0]
    assert w.model["liver"].dirty and small_archive.read_bytes() == theirs


def test_empty_entry_checked_gets_a_full_volume_to_paint(make_napari_viewer, small_archive):
    with MaskArchive(small_archive, "a") as archive:
        space = archive.space
        archive.add_segmask(SegmentationMask(np.zeros(tuple(space.shape), np.uint8), {"tumour": 1}, space=space),
                            "tumour")
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive)
    assert w.model["tumour"].empty and not w.model["tumour"].visible
    assert w.item_for("tumour").text(1) == "0"
    w.set_entry_visible("tumour", True)
    tumour = viewer.layers["tumour"]
    axes = tumour.metadata["medmask"]["axes"]
    assert tumour.data.shape == tuple(space.shape[a] for a in axes)
    tumour.brush_size = 1
    tumour.paint(np.array([3, 4, 5]), 1, refresh=True)
    assert w.save() == ["tumour"]
    with MaskArchive(small_archive) as archive:
        info = archive.entry_info("tumour")
    where = np.array([3, 4, 5])[np.argsort(axes)]
    assert all(a <= v < b for v, (a, b) in zip(where, info.bbox)) and info.mapping == {"tumour": 1}


def test_deleting_an_edited_layer_warns(make_napari_viewer, small_archive, monkeypatch):
    import napari.utils.notifications as notifications

    warnings_seen = []
    monkeypatch.setattr(notifications, "show_warning", lambda msg: warnings_seen.append(msg))
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive)
    layer = w.edit("kidney_left")
    layer.paint(np.array([0, 0, 0]), 1, refresh=True)
    assert w.model["kidney_left"].dirty
    viewer.layers.remove(layer)
    assert len(warnings_seen) == 1 and "kidney_left" in warnings_seen[0]
    assert not w.model["kidney_left"].dirty and not w.model["kidney_left"].loaded
    assert not w.save_btn.isEnabled()


def test_one_archive_handle_per_session(make_napari_viewer, phantom_path, monkeypatch):
    import medmask.storage.archive as archive_module

    viewer = make_napari_viewer()
    w = _dock(viewer)
    viewer.open(str(phantom_path), plugin="medmask")
    opened = []
    real_init = archive_module.MaskArchive.__init__

    def counting(self, *a, **k):
        opened.append(a)
        real_init(self, *a, **k)

    monkeypatch.setattr(archive_module.MaskArchive, "__init__", counting)
    for name in ("liver", "spleen", "ribs_all: rib_left_3", "heart"):
        w.edit(name)
    w.set_entry_visible("aorta", False)
    assert opened == []  # every entry layer came through the session's one handle


def _case_with_reference(tmp_path, case="oblique"):
    """A scan and an archive of its mask that records it (as `medmask convert --image` does)."""
    from medmask.convert import convert
    from medmask.convert.image_link import image_reference_for

    from napari_cases import write_case

    img, msk, *_ = write_case(tmp_path, case)
    seg = tmp_path / "segmentations"
    seg.mkdir()
    (seg / "marker.nii.gz").write_bytes(msk.read_bytes())
    archive = tmp_path / "organs.mska"
    convert(seg, archive)
    with MaskArchive(archive, "a") as a:
        a.image_reference = image_reference_for(img, archive, a.space)
    return img, archive


def test_dock_opens_the_recorded_scan_under_the_organs(make_napari_viewer, tmp_path, qtbot):
    img, archive = _case_with_reference(tmp_path)
    viewer = make_napari_viewer()
    w = _open(viewer, archive)
    qtbot.waitUntil(lambda: len(viewer.layers) == 2, timeout=20000)
    assert [l.name for l in viewer.layers] == ["oblique_ct", "organs.mska"]  # the scan is below
    assert "oblique_ct.nii.gz" in w.image_label.text() and "shown" in w.image_label.text()
    assert not w.image_btn.isVisible()


def test_missing_scan_says_so_and_the_picker_opens_another(make_napari_viewer, tmp_path, qtbot):
    img, archive = _case_with_reference(tmp_path)
    moved = tmp_path / "elsewhere_ct.nii.gz"
    img.rename(moved)
    viewer = make_napari_viewer()
    w = _open(viewer, archive)
    qtbot.wait(50)
    assert len(viewer.layers) == 1
    assert "Scan not found" in w.image_label.text() and "oblique_ct.nii.gz" in w.image_label.text()
    assert not w.image_btn.isHidden()
    assert w.open_image(w.session.path, str(moved))  # what the file picker does with the chosen file
    assert "elsewhere_ct" in viewer.layers and "shown" in w.image_label.text()


def test_mismatching_scan_is_not_opened(make_napari_viewer, tmp_path, qtbot):
    import nibabel as nib

    img, archive = _case_with_reference(tmp_path)
    other = nib.load(str(img))
    shifted = other.affine.copy()
    shifted[:3, 3] += 25.0
    nib.save(nib.Nifti1Image(np.asanyarray(other.dataobj), shifted), str(img))  # same name, another scan
    viewer = make_napari_viewer()
    w = _open(viewer, archive)
    qtbot.wait(50)
    assert len(viewer.layers) == 1
    assert "not the scan these organs were made on" in w.image_label.text()
    assert not w.image_btn.isHidden()


@pytest.mark.parametrize("order", [(0, 1, 2), (1, 0, 2), (2, 0, 1)], ids=["axial", "coronal", "sagittal"])
def test_whole_volume_in_view_with_the_dock_open(make_napari_viewer, phantom_path, qtbot, order):
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 850)
    w = _open(viewer, phantom_path)
    qtbot.wait(50)
    viewer.dims.order = order
    qtbot.wait(50)
    height, width = viewer.screenshot(canvas_only=True, flash=False).shape[:2]
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    extent = np.asarray(w.session.composite_layer.extent.world)  # (2, 3): min and max corner
    rows, cols = viewer.dims.displayed
    span_v = (extent[1, rows] - extent[0, rows]) * camera.zoom
    span_h = (extent[1, cols] - extent[0, cols]) * camera.zoom
    assert span_v <= height + 1 and span_h <= width + 1, (span_v, span_h, height, width)
    assert max(span_v / height, span_h / width) > 0.8  # and not lost in the middle
    centre = camera.center[-2:]
    assert extent[0, rows] <= centre[0] <= extent[1, rows] and extent[0, cols] <= centre[1] <= extent[1, cols]
    # napari's own 2D camera: the frame reads radiologically as it is (tests/napari/test_orientation.py);
    # the depth direction keeps the 3D view true for the odd axis order of the coronal view
    from napari_medmask.camera import mirrored

    assert tuple(map(str, camera.orientation2d)) == ("down", "right")
    assert not mirrored(viewer.dims.order, camera.orientation)


def test_dropping_an_archive_alone_shows_its_scan_under_the_organs(make_napari_viewer, tmp_path):
    """No dock open: the reader returns the recorded scan below the organs, in one exact frame."""
    img, archive = _case_with_reference(tmp_path)
    viewer = make_napari_viewer()
    viewer.open(str(archive), plugin="medmask")
    assert [l.name for l in viewer.layers] == ["oblique_ct", "organs.mska"]
    scan, organs = viewer.layers
    assert scan.__class__.__name__ == "Image" and organs.__class__.__name__ == "Labels"
    np.testing.assert_allclose(scan.scale, organs.scale)
    np.testing.assert_allclose(scan.translate, organs.translate)
    w = _dock(viewer)  # opened afterwards: finds the scan already there, opens no second copy
    assert [l.name for l in viewer.layers] == ["oblique_ct", "organs.mska"]
    assert "shown" in w.image_label.text()


def test_archive_without_its_scan_or_with_scans_off_opens_the_organs_only(make_napari_viewer, tmp_path, monkeypatch):
    from napari_medmask.image_link import OPEN_IMAGE_ENV

    img, archive = _case_with_reference(tmp_path)
    viewer = make_napari_viewer()
    monkeypatch.setenv(OPEN_IMAGE_ENV, "0")
    assert [l.name for l in viewer.open(str(archive), plugin="medmask")] == ["organs.mska"]
    monkeypatch.delenv(OPEN_IMAGE_ENV)
    img.unlink()  # missing scan: the organs still open, the dock says why
    viewer.layers.clear()
    assert [l.name for l in viewer.open(str(archive), plugin="medmask")] == ["organs.mska"]


def test_toggling_back_and_forth_draws_exactly_what_the_checks_say(make_napari_viewer, phantom_path):
    """Colormaps kept per state (a toggle back reuses one) never draw a stale state, past the cache too."""
    from napari_medmask.session import COLORMAP_CACHE

    viewer = make_napari_viewer()
    w = _open(viewer, phantom_path)
    s = w.session
    names = [n for n in s.composite.entries][: COLORMAP_CACHE + 3]
    w.set_entry_visible(names[0], False)
    off = s.composite_layer.colormap
    w.set_entry_visible(names[0], True)
    w.set_entry_visible(names[0], False)
    assert s.composite_layer.colormap is off  # the same state: napari gets the colormap it already has
    for name in names:  # more states than the cache holds
        w.set_entry_visible(name, False)
        w.set_entry_visible(name, True)
    w.set_entry_visible(names[1], False)
    w.edit(names[2])  # its own layer: the composite stops drawing it
    expected = s.composite.colormap(s.hidden_in_composite())
    values = np.arange(1, len(s.composite.combos))
    got = s.composite_layer.colormap.map(values)
    want = np.array([expected[int(v)] for v in values], dtype=float)
    assert np.allclose(got, want)
    assert {names[1], names[2]} <= s.hidden_in_composite() and names[0] not in s.hidden_in_composite()


def test_dock_warms_napari_up_while_idle_without_touching_the_viewer(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    w = _dock(viewer)
    qtbot.waitUntil(lambda: w.warm_up_done, timeout=20000)
    assert len(viewer.layers) == 0
    from napari_medmask.warmup import warm_up_steps

    for step in warm_up_steps():  # each step works (the dock swallows errors: a test must not)
        step()


@pytest.mark.parametrize("order", ["scan first", "archive first", "dock after"])
def test_scan_given_with_the_archive_that_brings_it_is_held_once(make_napari_viewer, tmp_path, qtbot, order):
    """``napari ct.nii.gz organs.mska``: the archive brings the same scan; one copy stays, under the organs."""
    img, archive = _case_with_reference(tmp_path)
    viewer = make_napari_viewer()
    w = _dock(viewer) if order != "dock after" else None
    paths = [str(archive), str(img)] if order == "archive first" else [str(img), str(archive)]
    for p in paths:
        viewer.open(p, plugin="medmask")
    if w is None:
        w = _dock(viewer)
    qtbot.waitUntil(lambda: len(viewer.layers) == 2, timeout=20000)
    qtbot.wait(50)
    assert [type(l).__name__ for l in viewer.layers] == ["Image", "Labels"]  # the scan under the organs
    assert "already open" in w.status.text()
    if order != "archive first":  # the kept copy is the user's: a second one of their own is theirs to keep
        viewer.open(str(img), plugin="medmask")
        qtbot.wait(50)
        assert len(viewer.layers) == 3
