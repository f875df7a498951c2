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


def _wait_loaded(qtbot, viewer, timeout: int = 60000) -> None:
    from napari_medmask._qt.archive_widget import ArchiveWidget

    qtbot.waitUntil(lambda: not any(w.loading for w in ArchiveWidget.instances_for(viewer)), timeout=timeout)


@pytest.fixture
def wait_loaded(qtbot):
    """``wait_loaded(viewer)``: wait until every MedMask dock of the viewer made its background entry layers."""
    return lambda viewer, timeout=60000: _wait_loaded(qtbot, viewer, timeout)


@pytest.fixture
def open_loaded(qtbot):
    """``open_loaded(viewer, path)``: open an archive and wait for its entry layers (returns them)."""

    def run(viewer, path, **kw):
        viewer.open(str(path), plugin=kw.pop("plugin", "medmask"), **kw)
        _wait_loaded(qtbot, viewer)
        return list(viewer.layers)

    return run
