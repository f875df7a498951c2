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
