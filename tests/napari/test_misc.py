"""Sample data, manifest validation, screenshots and the demo script."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medmask import MaskArchive

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
    assert [w.display_name for w in manifest.contributions.widgets] == ["MedMask archive", "MedMask compare",
                                                                        "MedMask review"]
    patterns = manifest.contributions.readers[0].filename_patterns
    assert set(patterns) == {"*.mska", "*.msk", "*.nii", "*.nii.gz", "*.nrrd", "*.nhdr"}
    assert manifest.contributions.writers[0].filename_extensions == [".msk"]
    assert [s.key for s in manifest.contributions.sample_data] == ["aorta_ct", "phantom"]


def test_open_sample_builds_phantom(make_napari_viewer, tmp_path, monkeypatch):
    import napari_medmask._sample as sample

    target = tmp_path / "sample" / "phantom.mska"
    target.parent.mkdir()
    monkeypatch.setattr(sample, "phantom_path", lambda: str(target))
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    viewer.open_sample("medmask", "phantom")
    assert target.exists()
    assert [l.name for l in viewer.layers] == ["phantom.mska"]
    shown = set(widget.model.visible_names())
    assert {"liver", "spleen", "kidney_left", "kidney_right", "lung_left", "lung_right", "heart", "aorta"} <= shown
    assert {f"rib_right_{k}" for k in range(1, 7)} <= shown
    # the aggregates' ribs are rows too, hidden on open (the single-rib entries draw them)
    assert {"ribs_left: rib_left_1", "ribs_all: rib_left_1"} <= set(widget.model.entries)
    assert not any(n.startswith("ribs_all:") for n in shown)


def test_screenshot_canvas_shows_the_organs(make_napari_viewer, small_archive, qtbot):
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 850)
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    (layer,) = viewer.open(str(small_archive), plugin="medmask")
    qtbot.wait(50)
    with MaskArchive(small_archive) as archive:
        bbox = archive.entry_info("liver").bbox
    centre = [(a + b) // 2 for a, b in bbox]
    axes = layer.metadata["medmask"]["axes"]
    world = layer.data_to_world(np.array(centre)[axes])
    viewer.dims.set_point(0, world[0])
    viewer.reset_view()
    qtbot.wait(50)
    img = viewer.screenshot(canvas_only=True, flash=False)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 300
    rgb = img[..., :3].astype(int)
    from medmask.core.colors import color_for

    target = np.array(color_for("liver")[:3]) * 255 * layer.opacity
    close = (np.abs(rgb - target) < 30).all(axis=-1).mean()
    assert close > 0.005, f"liver colour not found ({close:.3%})"


@pytest.mark.slow
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


def test_opening_scan_and_archive_together(make_napari_viewer, tmp_path):
    """What `napari ct.nii.gz organs.mska --plugin medmask` does: both through the plugin, aligned."""
    from medmask.convert import convert

    from napari_cases import write_case

    img, msk, marker, _ = write_case(tmp_path, "oblique")
    seg = tmp_path / "segmentations"
    seg.mkdir()
    (seg / "marker.nii.gz").write_bytes(msk.read_bytes())
    archive = convert(seg, tmp_path / "organs.mska")
    viewer = make_napari_viewer()
    layers = viewer.open([str(img), str(archive)], plugin="medmask")
    assert [l.__class__.__name__ for l in layers] == ["Image", "Labels"]
    scan, organs = layers
    idx = np.array(marker[::-1])
    np.testing.assert_allclose(scan.data_to_world(idx[scan.metadata["medmask"]["axes"]]),
                               organs.data_to_world(idx[organs.metadata["medmask"]["axes"]]), atol=1e-9)


def test_open_sample_real_ct_with_its_organs(make_napari_viewer, tmp_path, monkeypatch, qtbot):
    import napari_medmask._sample as sample

    monkeypatch.setattr(sample, "_user_folder", lambda: str(tmp_path))
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    viewer.open_sample("medmask", "aorta_ct")
    assert [l.__class__.__name__ for l in viewer.layers] == ["Image", "Labels"]  # the CT under its organs
    ct, organs = viewer.layers
    assert ct.metadata["medmask"]["modality"] == "ct" and tuple(ct.contrast_limits) == (-160.0, 240.0)
    assert len({r.entry_name for r in widget.model}) == 18 and widget.session.path == str(tmp_path / "totalseg_aorta" / "organs.mska")
    qtbot.wait(100)
    assert len(viewer.layers) == 2  # the dock found the recorded CT already open: not opened twice
    assert "ct.nrrd" in widget.image_label.text() and "shown" in widget.image_label.text()
    # the copy is editable: an edit saves back
    layer = widget.edit("vertebrae_T12")
    layer.paint(np.array([0, 0, 0]), 1, refresh=True)
    assert widget.save() == ["vertebrae_T12"]
