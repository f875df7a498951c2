"""File > Open Sample > MedMask: a real CT with its organs, and the synthetic phantom.

Sample commands return layer data only, like the reader. The real case (TotalSegmentator's aorta
CT and its 18 masks, bundled with medmask, Apache-2.0) is copied once to a per-user folder so
its archive can be edited and saved like any other; the phantom is generated there.
"""
from __future__ import annotations

import os
import shutil
import tempfile


def _user_folder() -> str:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    folder = os.path.join(tempfile.gettempdir(), f"napari-medmask-{uid}")
    os.makedirs(folder, exist_ok=True)
    return folder


def phantom_path() -> str:
    """Where the sample archive lives (regenerated when missing; deterministic content)."""
    from medmask.sample import PHANTOM_VERSION

    return os.path.join(_user_folder(), f"phantom-v{PHANTOM_VERSION}.mska")


def ensure_phantom(path: str | None = None) -> str:
    from medmask.sample import make_phantom

    path = path or phantom_path()
    if not os.path.exists(path):
        make_phantom(path)  # one atomic archive write (storage/atomic.py): never a half-built file
    return path


def aorta_paths(folder: str | None = None) -> tuple[str, str]:
    """(CT, archive) of the bundled real case, copied side by side to an editable folder once."""
    from medmask.sample import aorta_case
    from medmask.storage.atomic import atomic_write

    ct, archive = aorta_case()
    folder = folder or os.path.join(_user_folder(), "totalseg_aorta")
    os.makedirs(folder, exist_ok=True)
    out = []
    for src in (ct, archive):
        dst = os.path.join(folder, os.path.basename(src))
        if not os.path.exists(dst) or os.path.getsize(dst) != os.path.getsize(src):
            with open(src, "rb") as fin, atomic_write(dst) as fout:  # never a half-copied sample
                shutil.copyfileobj(fin, fout)
        out.append(dst)
    return out[0], out[1]


def make_aorta_sample():
    """The real CT (soft-tissue window) under its organs (one composite layer)."""
    from ._reader import read_archive_path, read_image_path

    ct, archive = aorta_paths()
    layers = read_archive_path(archive)  # the archive records ct.nrrd beside it: it comes along
    if not any(kind == "image" for _, _, kind in layers):  # NAPARI_MEDMASK_OPEN_IMAGE=0
        layers = read_image_path(ct) + layers
    return layers


def make_sample_data():
    from ._reader import read_archive_path

    return read_archive_path(ensure_phantom())
