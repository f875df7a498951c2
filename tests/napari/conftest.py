"""Shared fixtures of the napari plugin tests (settings isolated, phantom built once)."""
from __future__ import annotations

import os
import shutil
import tempfile

_TMP = tempfile.mkdtemp(prefix="napari-medmask-tests-")
os.environ.setdefault("NAPARI_CONFIG", os.path.join(_TMP, "settings.yaml"))
_RUNTIME = os.path.join(_TMP, "runtime")
os.makedirs(_RUNTIME, mode=0o700, exist_ok=True)
os.environ.setdefault("XDG_RUNTIME_DIR", _RUNTIME)
os.environ.setdefault("QT_API", "pyqt6")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def phantom_master(tmp_path_factory):
    from medmask.sample import make_phantom

    path = tmp_path_factory.mktemp("phantom") / "phantom.mska"
    make_phantom(path)
    return path


@pytest.fixture
def phantom_path(phantom_master, tmp_path):
    """A private copy of the phantom archive (tests may edit it)."""
    dst = tmp_path / "phantom.mska"
    shutil.copyfile(phantom_master, dst)
    return dst


@pytest.fixture
def errors(monkeypatch):
    """Records napari error notifications instead of showing them."""
    import napari.utils.notifications as notifications

    seen: list[str] = []
    monkeypatch.setattr(notifications, "show_error", lambda msg: seen.append(str(msg)))
    return seen


@pytest.fixture
def small_archive(tmp_path):
    """Three entries of the phantom at a small size: quick to open."""
    from medmask import MaskArchive
    from medmask.sample import make_phantom

    masks = make_phantom(shape=(24, 32, 32))
    path = tmp_path / "small.mska"
    with MaskArchive(path, "w", space=masks["liver"].space) as archive:
        for name in ("liver", "kidney_left", "kidney_right", "ribs_left", "rib_left_1", "rib_left_2"):
            archive.add_segmask(masks[name], name)
    return path


@pytest.fixture
def edit_layer():
    """``edit_layer(viewer, archive, entry)``: open an archive with the dock, give ``entry`` its own layer."""

    def run(viewer, path, entry):
        _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
        viewer.open(str(path), plugin="medmask")
        widget.edit(entry)
        return viewer.layers[entry]

    return run
