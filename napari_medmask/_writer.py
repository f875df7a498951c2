"""napari writer: one Labels layer -> ``.msk`` (File > Save Selected Layer)."""
from __future__ import annotations

import os
from typing import Any

from ._layers import layer_to_mask


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write a Labels layer as a single-mask ``.msk`` file, geometry from its metadata.

    Without medmask metadata the geometry comes from scale/translate (axis i of
    the layer along LPS axis 2-i, negative scale = flipped axis). Errors (e.g. a
    read-only folder) are raised with the path; napari reports them and the
    layer is untouched.
    """
    from medmask import save_mask

    path = os.fspath(path)
    if not path.lower().endswith(".msk"):
        path += ".msk"
    mask = layer_to_mask(data, meta)
    save_mask(mask, path)
    return [path]
