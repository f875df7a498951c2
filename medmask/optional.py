"""Optional dependencies: NIfTI (nibabel), Slicer .seg.nrrd (pynrrd), progress bars (tqdm).

``pip install medmask`` reads and writes .msk/.mska with numpy, zstandard and
spacetransformer-core only. Conversions import their library on first use, and a
missing one is a :class:`~medmask.errors.MissingDependencyError` naming the extra to
install, e.g. ``pip install 'medmask[nifti]'``.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Dict, Tuple

# module -> (pip extra that installs it, what needs it)
EXTRAS: Dict[str, Tuple[str, str]] = {
    "nibabel": ("nifti", "reading and writing NIfTI (.nii/.nii.gz)"),
    "nrrd": ("slicer", "reading and writing 3D Slicer .seg.nrrd"),
    "tqdm": ("progress", "progress bars"),
}


def require(module: str) -> ModuleType:
    """``import module``, or a one-line MissingDependencyError saying which extra installs it."""
    from .errors import MissingDependencyError

    try:
        return importlib.import_module(module)
    except ImportError:
        extra, purpose = EXTRAS.get(module, (None, "this feature"))
        hint = f"pip install 'medmask[{extra}]'" if extra else f"pip install {module}"
        raise MissingDependencyError(f"{purpose} needs the Python package {module!r}, which is not installed; "
                                     f"install it with: {hint}") from None


def available(module: str) -> bool:
    try:
        importlib.import_module(module)
        return True
    except ImportError:
        return False


class LazyModule:
    """A module imported on first attribute access, so importing medmask never needs it."""

    def __init__(self, name: str):
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = require(self._name)
        return getattr(self._module, attr)


def progress_bar(iterable, enabled: bool, desc: str, total: int | None = None, unit: str = "file"):
    """``iterable`` wrapped in a tqdm bar when asked for and tqdm is installed (a bar is cosmetic)."""
    if not enabled or not available("tqdm"):
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=False)
