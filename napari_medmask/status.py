"""Status bar: the cursor's true patient coordinate and every organ under it (no Qt).

napari's own status shows world coordinates, which in the display frame are patient millimetres
only for axis-aligned scans, and the value of the selected layer only. :class:`PatientStatus`
listens to the viewer's public ``status`` event and rewrites the coordinate part as
``LPS (x, y, z) mm`` (or RAS) followed by the names of the organs at the cursor (all archives,
overlapping entries included, hidden ones in parentheses).
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from .frame import display_to_patient, format_patient

__all__ = ["PatientStatus", "status_text"]


def status_text(position, frame, sessions: Iterable, convention: str = "LPS") -> str:
    """The text for a napari world ``position`` (its last three values)."""
    point = np.asarray(position, dtype=float)[-3:]
    text = format_patient(display_to_patient(point, frame, convention), convention)
    names: list[str] = []
    for session in sessions:
        names.extend(session.names_at(point))
    return text + (": " + ", ".join(names) if names else "")


class PatientStatus:
    """Keeps the viewer's status in patient terms while ``frame()`` returns a frame (else leaves it)."""

    def __init__(self, viewer, frame: Callable[[], object], sessions: Callable[[], Iterable], convention: str = "LPS"):
        self.viewer = viewer
        self.frame = frame
        self.sessions = sessions
        self.convention = convention
        self._writing = False
        viewer.events.status.connect(self._on_status)

    def disconnect(self) -> None:
        try:
            self.viewer.events.status.disconnect(self._on_status)
        except Exception:
            pass

    def text(self, position=None) -> str | None:
        frame = self.frame()
        if frame is None or self.viewer.dims.ndim < 3:
            return None
        position = self.viewer.cursor.position if position is None else position
        return status_text(position, frame, self.sessions(), self.convention)

    def _on_status(self, event=None) -> None:
        if self._writing:
            return
        status = self.viewer.status
        if not isinstance(status, dict) or "coordinates" not in status:
            return  # "Ready", a message: the cursor is not over a layer
        text = self.text()
        if text is None:
            return
        self._writing = True
        try:
            self.viewer.status = {**status, "coordinates": text}
        finally:
            self._writing = False
