"""napari-medmask: read, browse, edit and save MedMask (.msk / .mska) files in napari."""
from __future__ import annotations

__all__ = ["get_reader", "write_labels", "make_sample_data"]


def __getattr__(name):  # keep `import napari_medmask` light: napari loads commands lazily anyway
    if name == "get_reader":
        from ._reader import get_reader
        return get_reader
    if name == "write_labels":
        from ._writer import write_labels
        return write_labels
    if name == "make_sample_data":
        from ._sample import make_sample_data
        return make_sample_data
    raise AttributeError(name)
