"""Sample data, manifest validation, screenshots and the demo script."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_npe2_validate_with_imports():
    npe2 = Path(sys.executable).with_name("npe2")
    cmd = [str(npe2)] if npe2.exists() else [sys.executable, "-m", "npe2"]
    # npe2 requires the manifest name to equal the distribution name: the plugin is "medmask"
    res = subprocess.run([*cmd, "validate", "--imports", "medmask"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "valid" in res.stdout


def test_manifest_contributions():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("medmask")
    assert [w.display_name for w in manifest.contributions.widgets] == ["MedMask archive", "MedMask compare"]
    patterns = manifest.contributions.readers[0].filename_patterns
    assert set(patterns) == {"*.mska", "*.msk"}
    assert manifest.contributions.writers[0].filename_extensions == [".msk"]
    assert manifest.contributions.sample_data[0].key == "phantom"


def test_open_sample_builds_phantom_and_docks_widget(make_napari_viewer, tmp_path, monkeypatch, wait_loaded):
    import napari_medmask._sample as sample
    from napari_medmask._qt.archive_widget import ArchiveWidget

    target = tmp_path / "sample" / "phantom.mska"
    target.parent.mkdir()
    monkeypatch.setattr(sample, "phantom_path", lambda: str(target))
    viewer = make_napari_viewer()
    viewer.open_sample("medmask", "phantom")
    assert target.exists()
    assert [l.name for l in viewer.layers] == ["phantom (overview)"]
    wait_loaded(viewer)
    names = {l.name for l in viewer.layers}
    assert {"liver", "spleen", "kidney_left", "kidney_right", "lung_left", "lung_right", "heart", "aorta"} <= names
    assert {f"rib_right_{k}" for k in range(1, 7)} <= names
    (widget,) = ArchiveWidget.instances_for(viewer)
    assert {"ribs_left", "ribs_all"} <= set(widget.model.entries)
    layer = viewer.layers["liver"]
    assert layer.scale[0] < 0 and layer.metadata["medmask"]["space"]["origin"] != [0, 0, 0]


def test_screenshot_canvas_not_blank(make_napari_viewer, small_archive, qtbot, open_loaded):
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1000, 700)
    open_loaded(viewer, small_archive)
    qtbot.wait(50)
    liver = viewer.layers["liver"]
    viewer.dims.set_point(0, liver.translate[0] + liver.scale[0] * liver.data.shape[0] // 2)
    viewer.reset_view()
    qtbot.wait(50)
    img = viewer.screenshot(canvas_only=True, flash=False)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    rgb = img[..., :3].astype(int)
    lit = (rgb.sum(axis=-1) > 60).mean()
    assert lit > 0.02, f"canvas looks blank ({lit:.3%} lit pixels)"
    # the liver's colour is on screen (napari blends the 0.8-opacity label with black)
    from medmask.core.colors import color_for

    target = np.array(color_for("liver")[:3]) * 255 * 0.8
    close = (np.abs(rgb - target) < 30).all(axis=-1).mean()
    assert close > 0.005, f"liver colour not found ({close:.3%})"
    full = viewer.screenshot(canvas_only=False, flash=False)
    assert full.shape[0] > img.shape[0]


def test_demo_script_writes_archive_and_screenshot(tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs a display (run the suite under xvfb-run)")
    png = tmp_path / "demo.png"
    env = {**os.environ, "QT_API": os.environ.get("QT_API", "pyqt6")}
    res = subprocess.run([sys.executable, "-m", "napari_medmask.demo", "--out", str(tmp_path), "--screenshot",
                          str(png), "--skip-convert"], capture_output=True, text=True, timeout=180, env=env,
                         cwd=str(REPO))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-4000:]
    assert (tmp_path / "phantom.mska").exists() and png.exists()
    from qtpy.QtGui import QImage

    image = QImage(str(png))
    assert (image.width(), image.height()) == (1400, 850)


def test_convert_examples_hook_is_optional(tmp_path, monkeypatch):
    from napari_medmask import demo

    monkeypatch.setitem(sys.modules, "medmask.convert", None)  # as if the module did not exist
    assert demo.convert_examples(str(tmp_path / "x.mska"), str(tmp_path)) == []
