"""The scan an archive was segmented on: found, missing or not matching (no Qt).

An archive may record its scan (``MaskArchive.image_reference``: a path relative to the archive
and a geometry fingerprint). :func:`image_link` resolves it and says what the dock can do:
open it (``"ok"``), or tell the user why not (``"missing"``, ``"mismatch"``) and offer a picker.
A scan the user picks is checked against the masks' grid: another grid still overlays (within
half a voxel), so it opens, with a note.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = ["ImageLink", "image_link", "grid_difference", "OPEN_IMAGE_ENV", "open_image_by_default"]

OPEN_IMAGE_ENV = "NAPARI_MEDMASK_OPEN_IMAGE"  # "0": never open an archive's scan by itself


def open_image_by_default() -> bool:
    """Whether opening an archive also opens the scan it records (the default)."""
    return os.environ.get(OPEN_IMAGE_ENV, "1") != "0"


@dataclass(frozen=True)
class ImageLink:
    state: str  # "none" (nothing recorded), "ok", "missing", "mismatch", "error"
    path: Path | None  # the scan to open (resolved), if any
    recorded: str | None = None  # the path as the archive records it
    note: str = ""  # why not, or what to know

    def with_choice(self, path: str | os.PathLike, space) -> "ImageLink":
        """The user picked ``path``: check it can be read and compare its grid with the masks'."""
        path = Path(path).resolve()
        try:
            scan = read_header(path)
        except Exception as exc:
            return ImageLink("error", None, self.recorded, f"{path.name} cannot be read: {exc}")
        from medmask.core.grid_match import match

        order = match(scan, space)
        if order is not None:  # the masks' voxels, maybe in another axis order: shown exactly, no note needed
            note = "" if order.identity else f"{path.name} holds the masks' voxels in another axis order " \
                                             f"({order.describe()}): shown exactly"
        else:
            diff = grid_difference(scan, space)
            note = (f"{path.name} is on another grid than the masks ({diff}): overlaid in patient space, "
                    f"within half a voxel" if diff else "")
        return ImageLink("ok", path, self.recorded, note)

    def failed(self, why: str) -> "ImageLink":
        return replace(self, state="error", note=f"{self.path.name if self.path else 'the scan'} {why}")

    def describe(self, shown: bool) -> str:
        """Rich text for the dock."""
        name = html.escape(self.path.name if self.path else (self.recorded or ""))
        if self.state == "ok":
            text = f"Scan: <b>{name}</b>" + (" (shown under the organs)" if shown else " (not open)")
            return text + (f"<br><i>{html.escape(self.note)}</i>" if self.note else "")
        if self.state == "none":
            return "No scan recorded in this archive: choose one to see the organs on it."
        colour = "#e0a040"
        return f"<span style='color:{colour}'>{html.escape(self.note)}</span>"


def read_header(path):
    from medmask.convert.image_io import read_image_header

    return read_image_header(path)


def grid_difference(a, b) -> str:
    """'' when two Spaces are the same grid (to 1e-3 mm / 1e-4 in directions), else what differs."""
    import numpy as np

    parts = []
    if tuple(int(v) for v in a.shape) != tuple(int(v) for v in b.shape):
        parts.append(f"shape {tuple(a.shape)} vs {tuple(b.shape)}")
    if not np.allclose(a.spacing, b.spacing, atol=1e-3):
        parts.append(f"spacing {tuple(round(float(v), 3) for v in a.spacing)} vs "
                     f"{tuple(round(float(v), 3) for v in b.spacing)}")
    if not np.allclose(a.origin, b.origin, atol=1e-3):
        parts.append("origin")
    if not all(np.allclose(getattr(a, k), getattr(b, k), atol=1e-4)
               for k in ("x_orientation", "y_orientation", "z_orientation")):
        parts.append("directions")
    return ", ".join(parts)


def image_link(archive, archive_path: str | os.PathLike) -> ImageLink:
    """What the archive records about its scan, checked against the disk (header only)."""
    ref = archive.image_reference
    if ref is None:  # before importing the image readers (nibabel, pynrrd: ~0.3 s)
        return ImageLink("none", None)
    from medmask.convert.image_link import check_image

    check = check_image(ref, archive_path)
    if check.ok:
        return ImageLink("ok", Path(check.path), ref.path)
    kind, _, detail = check.problem.partition(": ")
    if kind == "missing":
        note = (f"Scan not found: the archive records {ref.path}, which would be {check.path}. "
                f"Choose the scan to see the organs on it.")
        return ImageLink("missing", None, ref.path, note)
    if kind == "mismatch":
        note = (f"{Path(check.path).name} is not the scan these organs were made on "
                f"({detail.split(': ', 1)[-1]}). Choose the right scan.")
        return ImageLink("mismatch", None, ref.path, note)
    return ImageLink("error", None, ref.path, f"The recorded scan {Path(check.path).name} cannot be read: {detail}")
