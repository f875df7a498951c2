"""Reader: .msk and .mska open as Labels layers at the right physical place."""
from __future__ import annotations

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from medmask.core.colors import color_for
from medmask.core.geometry import index_to_world_affine, space_to_dict
from medmask.sample import phantom_space


def test_get_reader_claims_only_medmask_files():
    from napari_medmask._reader import get_reader

    assert get_reader("a/organs.mska") is not None
    assert get_reader("a/liver.MSK") is not None
    assert get_reader("a/ct.nii.gz") is None
    assert get_reader(["a.mska", "b.mska"]) is None


def test_read_archive_layers_geometry_names_colours(make_napari_viewer, phantom_path, open_loaded):
    viewer = make_napari_viewer()
    layers = open_loaded(viewer, phantom_path)
    names = [l.name for l in layers]
    # single organs and ribs drawn at once; aggregate entries (ribs_left, ribs_all) wait to be checked
    assert "liver" in names and "rib_right_6" in names and "ribs_all" not in names
    assert all(l.__class__.__name__ == "Labels" for l in layers)
    with MaskArchive(phantom_path) as archive:
        space = archive.space
        bbox = archive.entry_info("liver").bbox
        liver = archive.load_segmask("liver")
    layer = viewer.layers["liver"]
    meta = layer.metadata["medmask"]
    assert meta["space"] == space_to_dict(space) and meta["entry"] == "liver"
    assert meta["archive"] == str(phantom_path.resolve())
    # cropped: far smaller than the volume, and the crop sits at the right place
    assert np.prod(layer.data.shape) < np.prod(space.shape) / 4
    np.testing.assert_allclose(layer.scale, [-2.5, 1.25, 1.75])  # axis 0 flipped
    offset = np.array(meta["offset"])
    assert (offset <= [a for a, _ in bbox]).all()
    aff = index_to_world_affine(space)
    corner_world = (aff @ np.r_[offset, 1.0])[:3]
    # napari world axis i is LPS axis (2, 1, 0)[i] for this axis-aligned space
    np.testing.assert_allclose(layer.translate, corner_world[[2, 1, 0]])
    # a voxel of the liver in napari world coordinates maps back to the liver
    z, y, x = (np.array(b[0]) + 2 for b in bbox)
    idx = np.argwhere(liver.crop_data)[0] + [a for a, _ in bbox]
    world = (aff @ np.r_[idx, 1.0])[:3][[2, 1, 0]]
    viewer.dims.set_point(0, world[0])  # 2D view: get_value reads the current slice
    assert layer.get_value(world, world=True) == 1
    assert (z, y, x) is not None
    # hover name from features, colour from the TotalSegmentator table
    feats = layer.features
    assert list(feats.columns[:2]) == ["index", "name"]
    assert feats.loc[feats["index"] == 1, "name"].item() == "liver"
    status = layer.get_status(world, world=True)
    assert "liver" in str(status)
    np.testing.assert_allclose(layer.colormap.map(np.array([1]))[0], color_for("liver"), atol=1e-6)


def test_read_single_mask_file(make_napari_viewer, tmp_path):
    space = phantom_space((24, 20, 16))
    arr = np.zeros((24, 20, 16), np.uint8)
    arr[3:9, 4:10, 5:8] = 1
    arr[12:15, 2:4, 2:4] = 2
    mask = SegmentationMask(arr, {"tumour": 1, "liver": 2}, space=space, colors={"tumour": (1, 0, 0, 1)})
    path = tmp_path / "case.msk"
    save_mask(mask, path)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="medmask")
    assert layer.name == "case" and layer.data.shape == (24, 20, 16)
    np.testing.assert_array_equal(layer.data, arr)
    np.testing.assert_allclose(layer.scale, [-space.spacing[0], space.spacing[1], space.spacing[2]])
    np.testing.assert_allclose(layer.translate, [space.origin[2], space.origin[1], space.origin[0]])
    assert set(layer.features["name"]) == {"background", "tumour", "liver"}
    np.testing.assert_allclose(layer.colormap.map(np.array([1]))[0], (1, 0, 0, 1))
    np.testing.assert_allclose(layer.colormap.map(np.array([2]))[0], color_for("liver"), atol=1e-6)
    assert load_mask(path).same_content(mask)


def test_open_without_plugin_name_autodetects(make_napari_viewer, small_archive, open_loaded):
    viewer = make_napari_viewer()
    layers = open_loaded(viewer, small_archive, plugin=None)
    assert [l.name for l in layers] == ["liver", "kidney_left", "kidney_right", "rib_left_1", "rib_left_2"]


def test_bad_files_notify_and_keep_napari_working(make_napari_viewer, phantom_master, small_archive, tmp_path,
                                                 errors):
    viewer = make_napari_viewer()
    garbage = tmp_path / "garbage.mska"
    garbage.write_bytes(b"this is not an archive" * 10)
    truncated = tmp_path / "truncated.mska"
    truncated.write_bytes(phantom_master.read_bytes()[:-200])
    empty = tmp_path / "empty.msk"
    empty.write_bytes(b"")
    wrong_kind = tmp_path / "archive_named.msk"
    wrong_kind.write_bytes(small_archive.read_bytes())
    for n, path in enumerate((garbage, truncated, empty, wrong_kind), start=1):
        layers = viewer.open(str(path), plugin="medmask")
        assert layers == [] and len(viewer.layers) == 0, path
        assert len(errors) == n, errors
        assert path.name in errors[-1] and "MedMask could not open" in errors[-1]
    # napari still works: a good file opens afterwards
    assert viewer.open(str(small_archive), plugin="medmask")


def test_dropping_a_bad_file_gives_one_real_notification(make_napari_viewer, tmp_path, small_archive, wait_loaded):
    """The GUI drop path (_qt_open) with napari's real notification manager: no reader dialog."""
    from napari.utils.notifications import NotificationSeverity, notification_manager

    viewer = make_napari_viewer()
    bad = tmp_path / "broken.mska"
    bad.write_bytes(small_archive.read_bytes()[:100])
    before = len(notification_manager.records)
    viewer.window._qt_viewer._qt_open([str(bad)], stack=False)  # what a drop on the canvas calls
    new = notification_manager.records[before:]
    errors = [n for n in new if n.severity == NotificationSeverity.ERROR]
    assert len(errors) == 1 and "broken.mska" in errors[0].message
    assert len(viewer.layers) == 0
    viewer.window._qt_viewer._qt_open([str(small_archive)], stack=False)
    assert "small (overview)" in viewer.layers
    wait_loaded(viewer)
    assert "liver" in viewer.layers and "small (overview)" not in viewer.layers
