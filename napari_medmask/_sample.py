"""File > Open Sample > MedMask: the synthetic phantom archive."""
from __future__ import annotations

import os
import tempfile


def phantom_path() -> str:
    """Where the sample archive lives (regenerated when missing; deterministic content)."""
    folder = os.path.join(tempfile.gettempdir(), f"napari-medmask-{os.getuid() if hasattr(os, 'getuid') else 'user'}")
    os.makedirs(folder, exist_ok=True)
    from medmask.sample import PHANTOM_VERSION

    return os.path.join(folder, f"phantom-v{PHANTOM_VERSION}.mska")


def ensure_phantom(path: str | None = None) -> str:
    from medmask.sample import make_phantom

    path = path or phantom_path()
    if not os.path.exists(path):
        make_phantom(path)  # one atomic archive write (storage/atomic.py): never a half-built file
    return path


def make_sample_data():
    from ._reader import read_archive_path

    return read_archive_path(ensure_phantom())
