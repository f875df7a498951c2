"""What a careful user trips over (issue 19 part 5) and the 3D toggle's cost (part 4), through the dock."""
from __future__ import annotations

import numpy as np
import pytest
from qtpy.QtCore import Qt

from medmask import MaskArchive


def _open(viewer, path):
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    viewer.open(str(path), plugin="medmask")
    return widget


def test_toggle_in_3d_recolours_without_sending_the_volume_again(make_napari_viewer, small_archive, qtbot):
    """A toggle changes the colour texture only: the layer's data is not re-sent (set_data), and
    the rendered 3D view does change (the organ disappears, then comes back)."""
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(900, 700)
    w = _open(viewer, small_archive)
    layer = w.session.composite_layer
    viewer.dims.ndisplay = 3
    qtbot.wait(50)
    sent = []
    layer.events.set_data.connect(lambda e: sent.append(e))
    before = viewer.screenshot(canvas_only=True, flash=False)
    w.set_entry_visible("liver", False)
    hidden = viewer.screenshot(canvas_only=True, flash=False)
    w.set_entry_visible("liver", True)
    again = viewer.screenshot(canvas_only=True, flash=False)
    assert sent == []
    assert np.abs(before.astype(int) - hidden.astype(int)).sum() > 0  # the liver went away
    np.testing.assert_array_equal(before, again)


def _mr_like(shape=(40, 96, 96)):
    """A T1-like volume: noisy air around a body of muscle, liver and a fat rim, a few hot voxels."""
    rng = np.random.default_rng(19)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    r = np.sqrt(((y - 48) / 40.0) ** 2 + ((x - 48) / 44.0) ** 2)
    vol = rng.normal(15, 8, shape).clip(0)                       # air: noise
    vol[:, r[0] < 1.0] = rng.normal(850, 40, (shape[0], int((r[0] < 1.0).sum())))   # subcutaneous fat
    vol[:, r[0] < 0.85] = rng.normal(300, 25, (shape[0], int((r[0] < 0.85).sum())))  # muscle
    vol[:, 30:60, 25:55] = rng.normal(480, 25, (shape[0], 30, 30))                    # liver
    vol.flat[rng.choice(vol.size, vol.size // 400, replace=False)] = 3000             # flow artefacts
    return vol.astype(np.int16)


def test_mr_window_spreads_the_body_tissues_over_the_grey_scale(tmp_path):
    """Air is black, muscle dark grey, liver mid grey, fat bright; hot voxels do not set the window."""
    import nibabel as nib

    from napari_medmask._reader import read_image_path

    path = tmp_path / "t1.nii.gz"
    nib.save(nib.Nifti1Image(np.transpose(_mr_like(), (2, 1, 0)), np.diag([1.5, 1.5, 3.0, 1.0])), str(path))
    (data, kwargs, kind), = read_image_path(str(path))
    assert kind == "image" and kwargs["metadata"]["medmask"]["modality"] == "mr"
    lo, hi = kwargs["contrast_limits"]
    grey = lambda v: (v - lo) / (hi - lo)  # noqa: E731
    assert grey(40) <= 0.0                        # air (noise included) black
    assert 0.0 <= grey(300) < 0.25                # muscle dark
    assert 0.25 < grey(480) < 0.6                 # liver mid grey, apart from muscle
    assert grey(850) > 0.85 and hi < 1500         # fat bright; the 3000 artefacts are clipped


@pytest.fixture
def answers(monkeypatch):
    """``answers.append("save" | "discard" | "cancel")`` is what the next Save/Discard/Cancel dialog gets."""
    import napari_medmask._qt.archive_widget as archive_widget

    class Answers(list):
        asked: list[str]

    queue = Answers()
    queue.asked = []

    def ask(parent, text):
        queue.asked.append(text)
        return queue.pop(0)

    monkeypatch.setattr(archive_widget, "ask_unsaved", ask)
    return queue


def _edited(viewer, path, entry="liver"):
    w = _open(viewer, path)
    layer = w.edit(entry)
    layer.paint(np.array([0, 0, 0]), 1, refresh=True)
    assert w.model[entry].dirty
    return w, layer


def _voxels(path, entry):
    with MaskArchive(path) as archive:
        return sum(archive.load_segmask(entry).voxel_counts().values())


def test_closing_an_edited_layer_asks_and_save_writes_its_edits(make_napari_viewer, small_archive, answers, qtbot):
    viewer = make_napari_viewer()
    w, layer = _edited(viewer, small_archive)
    answers.append("save")
    viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: not answers, timeout=5000)
    assert "liver" in answers.asked[0] and "Save them" in answers.asked[0]
    assert _voxels(small_archive, "liver") == int((np.asarray(layer.data) > 0).sum())
    assert not w.model["liver"].dirty and "liver" not in viewer.layers


def test_closing_an_edited_layer_cancelled_brings_it_back_with_its_edits(make_napari_viewer, small_archive, answers,
                                                                         qtbot):
    viewer = make_napari_viewer()
    w, layer = _edited(viewer, small_archive)
    edited = np.asarray(layer.data).copy()
    before = small_archive.read_bytes()
    answers.append("cancel")
    viewer.layers.remove(layer)
    qtbot.waitUntil(lambda: "liver" in viewer.layers, timeout=5000)
    assert viewer.layers["liver"].unique_id == layer.unique_id  # the same layer (w.edit returns a proxy)
    assert w.model["liver"].dirty
    assert w.save_btn.isEnabled()
    np.testing.assert_array_equal(layer.data, edited)
    assert small_archive.read_bytes() == before
    assert w.save() == ["liver"]  # still an edit layer of the archive


def _close_event_passes(w) -> bool:
    """What napari's window does with a close request: the dock's filter lets it through or stops it.

    (A real close that goes through deletes napari's window under the test fixture's feet.)"""
    from qtpy.QtGui import QCloseEvent

    event = QCloseEvent()
    stopped = w._close_guard.eventFilter(w.window(), event)
    assert stopped != event.isAccepted()
    return not stopped


@pytest.mark.parametrize("answer", ["save", "discard", "cancel"])
def test_closing_napari_with_unsaved_edits_asks_first(make_napari_viewer, small_archive, answers, answer):
    viewer = make_napari_viewer(show=True)
    w, layer = _edited(viewer, small_archive)
    before = small_archive.read_bytes()
    answers.append(answer)
    assert _close_event_passes(w) == (answer != "cancel")
    assert "liver" in answers.asked[0] and "small.mska" in answers.asked[0]
    if answer == "save":
        assert _voxels(small_archive, "liver") == int((np.asarray(layer.data) > 0).sum())
        assert not w.model["liver"].dirty
    else:
        assert small_archive.read_bytes() == before


def test_cancel_keeps_napari_open(make_napari_viewer, small_archive, answers):
    viewer = make_napari_viewer(show=True)
    w, _ = _edited(viewer, small_archive)
    answers.append("cancel")
    w.window().close()  # what the title bar's close button and File > Close Window do
    assert answers.asked and w.window().isVisible() and w.model["liver"].dirty


def test_closing_napari_without_edits_or_from_a_script_never_asks(make_napari_viewer, small_archive, answers):
    viewer = make_napari_viewer(show=True)
    w = _open(viewer, small_archive)
    assert _close_event_passes(w)  # nothing edited
    w.edit("kidney_left").paint(np.array([0, 0, 0]), 1, refresh=True)
    assert w.model["kidney_left"].dirty
    viewer.close()  # a script's Viewer.close(): napari tears the window down, nobody to ask
    assert answers.asked == []


def test_composite_does_not_look_paintable_and_edit_is_discoverable(make_napari_viewer, small_archive, qtbot):
    viewer = make_napari_viewer()
    w = _open(viewer, small_archive)
    comp = w.session.composite_layer
    viewer.layers.selection.active = comp
    assert not comp.editable and comp.mode == "pan_zoom"
    assert "display only" in viewer.help and "double-click" in viewer.help and "<2>" not in viewer.help
    assert "double-click" in w.item_for("liver").toolTip(0)
    assert "double-click an entry to paint it" in w.status.text()
    w.tree.itemDoubleClicked.emit(w.item_for("liver"), 0)  # what a double-click on the row does
    assert "liver" in viewer.layers and viewer.layers["liver"].editable
    assert "double-click" not in w.status.text()


def test_window_wider_than_the_screen_is_fitted_so_the_dock_shows_whole(make_napari_viewer, small_archive, qtbot):
    """``napari ct.nii.gz organs.mska --plugin medmask -w ...`` on a 1400x900 screen cut the dock off."""
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1900, 1000)  # larger than the Xvfb screen the tests run on
    w = _open(viewer, small_archive)
    window = w.window()
    avail = window.screen().availableGeometry()
    qtbot.waitUntil(lambda: window.frameGeometry().width() <= avail.width(), timeout=5000)
    frame = window.frameGeometry()
    assert avail.contains(frame), (frame, avail)
    right = w.mapToGlobal(w.rect().topRight()).x()
    assert right <= avail.right() and w.width() >= w.minimumWidth()
    assert w.width() <= max(w.minimumWidth(), avail.width() // 4) + 40  # the canvas keeps most of the room
