"""Progressive loading: one overview layer at once, entry layers in the background."""
from __future__ import annotations

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.core.colors import color_for
from napari_medmask._qt.archive_widget import ArchiveWidget
from napari_medmask.session import is_overview


def _widget(viewer):
    (w,) = ArchiveWidget.instances_for(viewer)
    return w


def test_overview_first_then_entry_layers_then_overview_removed(make_napari_viewer, phantom_path, qtbot):
    viewer = make_napari_viewer()
    layers = viewer.open(str(phantom_path), plugin="medmask")
    assert [l.name for l in layers] == ["phantom (overview)"]
    overview = layers[0]
    w = _widget(viewer)
    assert w.loading and is_overview(overview) and overview.editable is False
    with MaskArchive(phantom_path) as archive:
        space = tuple(archive.space.shape)
        liver = archive.load_segmask("liver")
        names = archive.all_names()
    # one full-volume label map (uint8: under 256 labels), one value per entry, names on hover, stored colours
    assert overview.data.shape == space and overview.data.dtype == np.uint8
    ids = overview.metadata["medmask"]["entries"]
    assert "ribs_all" not in ids and "ribs_left" not in ids  # aggregates: not drawn on open
    assert len({v for vs in ids.values() for v in vs}) == len(ids) == 20
    (liver_id,) = ids["liver"]
    sl = tuple(slice(a, b) for a, b in liver.bbox)
    assert (overview.data[sl][liver.crop_data.astype(bool)] == liver_id).mean() > 0.9  # later entries may overlap
    feats = overview.features
    assert feats.loc[feats["index"] == liver_id, "name"].item() == "liver"
    np.testing.assert_allclose(overview.colormap.map(np.array([liver_id]))[0], color_for("liver"), atol=1e-6)
    # checkboxes say what is drawn, even before the entry layers exist
    assert w.model["liver"].visible and not w.model["liver"].loaded and not w.model["ribs_all"].visible
    # the overview is no entry: no edit mark, nothing to save
    overview.data[0, 0, 0] = 3
    overview.events.data(value=overview.data)
    assert w.model.dirty_names() == [] and w.save() == []
    qtbot.waitUntil(lambda: not w.loading, timeout=60000)
    assert "phantom (overview)" not in viewer.layers
    assert all(not is_overview(l) for l in viewer.layers)
    assert [l.name for l in viewer.layers] == list(ids)
    layer = viewer.layers["liver"]
    assert layer.data.shape != space  # cropped, as before
    np.testing.assert_allclose(layer.scale, overview.scale)
    assert w.model["liver"].loaded and w.model["liver"].visible
    with MaskArchive(phantom_path) as archive:
        assert archive.all_names() == names  # the overview never became an entry
    assert "loading" not in w.status.text()


def test_toggle_before_background_completion(make_napari_viewer, phantom_path, qtbot):
    viewer = make_napari_viewer()
    (overview,) = viewer.open(str(phantom_path), plugin="medmask")
    w = _widget(viewer)
    assert w.loading and "aorta" not in viewer.layers
    # unchecking an entry that has no layer yet hides it in the overview, makes no layer
    (aorta_id,) = overview.metadata["medmask"]["entries"]["aorta"]
    w.set_entry_visible("aorta", False)
    assert "aorta" not in viewer.layers and not w.model["aorta"].visible
    assert overview.colormap.map(np.array([aorta_id]))[0][3] == 0
    # checking it again creates its layer at once
    w.set_entry_visible("aorta", True)
    assert "aorta" in viewer.layers and viewer.layers["aorta"].visible and w.model["aorta"].loaded
    # a group toggle while loading: the heart... and the kidneys
    w.set_group_visible("kidney_left/_right", False)
    (kl_id,) = overview.metadata["medmask"]["entries"]["kidney_left"]
    assert overview.colormap.map(np.array([kl_id]))[0][3] == 0
    assert w.loading
    qtbot.waitUntil(lambda: not w.loading, timeout=60000)
    names = [l.name for l in viewer.layers]
    assert names.count("aorta") == 1
    assert "kidney_left" not in names and not w.model["kidney_left"].visible  # made when checked
    w.set_group_visible("kidney_left/_right", True)
    assert viewer.layers["kidney_left"].visible and viewer.layers["kidney_right"].visible


def test_removing_overview_cancels_and_closing_during_load_is_safe(make_napari_viewer, phantom_path,
                                                                   small_archive, qtbot):
    viewer = make_napari_viewer()
    (overview,) = viewer.open(str(phantom_path), plugin="medmask")
    w = _widget(viewer)
    qtbot.waitUntil(lambda: w.session.loaded_count >= 2, timeout=60000)
    made = [l.name for l in viewer.layers if not is_overview(l)]
    # an entry layer removed mid-way, then the overview itself: loading stops, nothing crashes
    viewer.layers.remove(made[0])
    viewer.layers.remove(overview)
    assert not w.loading
    qtbot.wait(300)
    assert [l.name for l in viewer.layers] == made[1:]
    assert not w.model["heart"].visible  # was drawn by the overview only
    assert w.model[made[1]].visible
    w.set_entry_visible("heart", True)
    assert viewer.layers["heart"].visible
    # another archive opened while one loads, then the viewer closed mid-way
    viewer2 = make_napari_viewer()
    viewer2.open(str(phantom_path), plugin="medmask")
    viewer2.open(str(small_archive), plugin="medmask")
    w2 = _widget(viewer2)
    assert len(w2.sessions) == 2 and w2.loading
    qtbot.waitUntil(lambda: sum(s.loaded_count for s in w2.sessions.values()) >= 2, timeout=60000)
    viewer2.close()
    qtbot.wait(400)  # the chain stopped with the widget: no error from a closed viewer


def test_progressive_off_adds_entry_layers_during_read(make_napari_viewer, small_archive, monkeypatch):
    monkeypatch.setenv("NAPARI_MEDMASK_PROGRESSIVE", "0")
    viewer = make_napari_viewer()
    layers = viewer.open(str(small_archive), plugin="medmask")
    assert [l.name for l in layers] == ["liver", "kidney_left", "kidney_right", "rib_left_1", "rib_left_2"]
    assert not _widget(viewer).loading


@pytest.mark.parametrize("multi", [True])
def test_overview_of_multi_label_entry_gets_consecutive_values(tmp_path, multi):
    from medmask import SegmentationMask
    from medmask.sample import phantom_space
    from napari_medmask._reader import overview_layer

    space = phantom_space((10, 12, 14))
    a = np.zeros((10, 12, 14), np.uint8)
    a[1:3, 1:3, 1:3] = 1
    a[5:7, 5:7, 5:7] = 2
    b = np.zeros_like(a)
    b[2:4, 2:4, 2:4] = 1
    path = tmp_path / "m.mska"
    with MaskArchive(path, "w", space=space) as archive:
        archive.add_segmask(SegmentationMask(a, {"x": 1, "y": 2}, space=space), "pair")
        archive.add_segmask(SegmentationMask(b, {"z": 1}, space=space), "zed")
    data, kwargs, kind = overview_layer(str(path))
    assert kind == "labels" and data.dtype == np.uint8
    assert kwargs["metadata"]["medmask"]["entries"] == {"pair": [1, 2], "zed": [3]}
    assert data[1, 1, 1] == 1 and data[5, 5, 5] == 2 and data[3, 3, 3] == 3
    assert data[2, 2, 2] == 3  # overlap: the later entry wins
    assert list(kwargs["features"]["name"]) == ["background", "pair: x", "pair: y", "zed"]
    assert kwargs["name"] == "m (overview)"


def test_opening_the_same_archive_twice(make_napari_viewer, small_archive, qtbot):
    viewer = make_napari_viewer()
    viewer.open(str(small_archive), plugin="medmask")
    viewer.open(str(small_archive), plugin="medmask")  # while the first load still runs
    w = _widget(viewer)
    qtbot.waitUntil(lambda: not w.loading, timeout=60000)
    names = [l.name for l in viewer.layers]
    assert names == ["liver", "kidney_left", "kidney_right", "rib_left_1", "rib_left_2"]
    viewer.open(str(small_archive), plugin="medmask")  # once everything is loaded
    qtbot.waitUntil(lambda: not w.loading, timeout=60000)
    assert [l.name for l in viewer.layers] == names


def test_overview_widens_to_uint16_beyond_255_labels(tmp_path, monkeypatch):
    from medmask.sample import phantom_space
    from napari_medmask._reader import MAX_INITIAL_ENV, overview_layer

    monkeypatch.setenv(MAX_INITIAL_ENV, "1000")  # draw all 300 on open

    space = phantom_space((8, 8, 8))
    path = tmp_path / "many.mska"
    with MaskArchive(path, "w", space=space) as archive:
        for i in range(300):
            a = np.zeros((8, 8, 8), np.uint8)
            a.flat[i % a.size] = 1
            archive.add_segmask(SegmentationMask(a, {f"s{i}": 1}, space=space), f"s{i}")
    data, kwargs, _ = overview_layer(str(path))
    assert data.dtype == np.uint16 and kwargs["metadata"]["medmask"]["dtype"] == "uint16"
    assert int(data.max()) > 255
