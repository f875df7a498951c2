"""napari's one-time set-up for a session's first Labels layer, done while the user is idle (no Qt).

The first Labels layer of a napari session costs about 0.8 s that later layers do not: napari
imports pandas (the layer's ``features`` table) and skimage.color (its default label colours),
and builds pint's unit registry (the layer's ``units``); the plugin's own reading modules load
too, and nibabel, which reads the header of the scan an archive records (~0.3-1 s). All of
that is paid inside ``viewer.open`` when an archive is dropped. The
MedMask dock, open before the drop, pays it beforehand, a step per event-loop turn so the
window stays responsive: :func:`warm_up_steps` is what it runs. Only public API is used: the
throw-away Labels layer is never added to a viewer.
"""
from __future__ import annotations

from importlib import import_module
from typing import Callable, Iterator

__all__ = ["warm_up_steps"]


def _import(*names: str) -> Callable[[], None]:
    def step() -> None:
        for name in names:
            import_module(name)

    return step


def _label_colours() -> None:
    from napari.utils.colormaps import label_colormap

    label_colormap(49)  # what every Labels layer builds first (imports skimage.color)


def _labels_layer() -> None:
    import numpy as np
    from napari.layers import Labels

    # pint's registry, the features table, the colormap types: a layer like the composite, unattached
    Labels(np.zeros((1, 1, 1), np.uint8), features={"index": [0, 1], "name": ["background", "x"]},
           colormap={0: (0.0, 0.0, 0.0, 0.0), None: (0.0, 0.0, 0.0, 0.0), 1: (1.0, 0.0, 0.0, 1.0)},
           scale=(1.0, 1.0, 1.0), translate=(0.0, 0.0, 0.0))


def warm_up_steps() -> Iterator[Callable[[], None]]:
    """Steps of at most ~0.3 s each; together they take the first-layer cost out of an open."""
    yield _import("pandas")
    yield _label_colours
    yield _labels_layer
    yield _import("napari_medmask._reader", "napari_medmask.composite", "medmask.format",
                  "napari_medmask._dicom_reader")
    # an archive's scan: its header is checked on open, its voxels read (NIfTI through nibabel)
    yield _import("nibabel")
    yield _import("medmask.convert.image_io", "medmask.convert.image_link", "medmask.convert.nifti_read")
