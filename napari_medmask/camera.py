"""The 3D view is never the patient's mirror image, whatever the user does to the axes (no Qt).

napari draws the three axes at the end of ``dims.order`` as (depth, vertical, horizontal),
right-handed with its default camera orientation ``("towards", "down", "right")``. The display
frame is right-handed in world-axis order (``frame.TARGETS``: inferior, posterior, left), so with
napari's defaults every view is anatomically true, with or without the dock. Two things the user
can do make napari draw a mirror: the Transpose button (an odd permutation of the displayed axes)
and flipping the vertical or horizontal camera axis (e.g. for a neurological axial view). A 2D
view is a projection along the depth axis, so flipping the depth direction with them turns the
mirror back into a true view, seen from the other side, and changes nothing on a 2D screen.
:class:`TrueView` does that. Changing the depth direction alone is the user's own choice (a
mirror on purpose) and is kept until they change it again.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["mirrored", "TrueView"]

_DEFAULT = ("towards", "down", "right")
_FLIP_DEPTH = {"towards": "away", "away": "towards"}


def _parity(order: Sequence[int]) -> int:
    """0 for an even permutation (in relative order) of the last three axes, 1 for an odd one."""
    perm = list(np.argsort(np.asarray(order)[-3:]))
    swaps = 0
    for i in range(len(perm)):
        while perm[i] != i:
            j = perm[i]
            perm[i], perm[j] = perm[j], perm[i]
            swaps += 1
    return swaps % 2


def mirrored(order: Sequence[int], orientation: Sequence[str]) -> bool:
    """Whether napari draws world axes ``order[-3:]`` with camera ``orientation`` as a mirror image."""
    flips = sum(str(o) != d for o, d in zip(orientation, _DEFAULT))
    return (_parity(order) + flips) % 2 == 1


class TrueView:
    """Flips the camera's depth direction when a Transpose or a 2D axis flip would mirror the view."""

    def __init__(self, viewer):
        self.viewer = viewer
        self.camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
        self.mirror_wanted = False  # what the user chose with the depth direction alone
        self._seen = self._orientation()
        self._setting = False
        viewer.dims.events.order.connect(self.restore)
        self.camera.events.orientation.connect(self._on_orientation)
        self.restore()

    def disconnect(self) -> None:
        for emitter, slot in ((self.viewer.dims.events.order, self.restore),
                              (self.camera.events.orientation, self._on_orientation)):
            try:
                emitter.disconnect(slot)
            except Exception:
                pass

    def _orientation(self) -> tuple[str, str, str]:
        return tuple(str(v) for v in self.camera.orientation)  # type: ignore[return-value]

    def mirrored(self) -> bool:
        return mirrored(self.viewer.dims.order, self._orientation())

    def restore(self, event=None) -> None:
        """Set the depth direction so the view is true (or the mirror the user asked for)."""
        if self.mirrored() != self.mirror_wanted:
            depth, vertical, horizontal = self._orientation()
            self._setting = True
            try:
                self.camera.orientation = (_FLIP_DEPTH[depth], vertical, horizontal)
            finally:
                self._setting = False
        self._seen = self._orientation()

    def _on_orientation(self, event=None) -> None:
        if self._setting:
            return
        now = self._orientation()
        if now[1:] == self._seen[1:] and now[0] != self._seen[0]:
            self.mirror_wanted = self.mirrored()  # the depth direction alone: the user's choice
            self._seen = now
            return
        self.restore()
