"""``compute_stats``: the Python entry point behind ``medmask stats``."""
from __future__ import annotations

import os
from typing import Any, Iterable

import contextlib
import gc

from ..errors import MedMaskError
from .inputs import expand_inputs
from .intensity import add_intensities, resolve_image
from .output import to_frame
from .source import MaskSource
from .volumes import source_rows


def compute_stats(inputs: str | os.PathLike | Iterable[str | os.PathLike], *, entries: Iterable[str] | None = None,
                  centroid: bool = False, intensity: bool = False, image: Any = None,
                  frame: bool = False, storage_options: dict | None = None):
    """One record per (case, entry, label) of every archive in ``inputs``.

    ``inputs``: ``.mska``/``.msk`` files, folders (searched recursively) or glob patterns, local
    or URLs (``s3://bucket/cases/*.mska``; read with ``storage_options``).
    Columns: case, entry, label, value, voxels, volume_ml, the index bbox (``bbox_start_*``,
    ``bbox_stop_*``, array axes 0..2), its length in mm along each axis (``extent_mm_*``)
    and the LPS box it covers (``bbox_lps_min_*``/``max_*``); with ``centroid=True`` the
    LPS centroid (``centroid_lps_*``, decodes crops). With ``image=`` (a path, a
    ``'.../{case}/ct.nii.gz'`` template, a {case: path} mapping or a callable(case, path))
    or ``intensity=True`` (the scan each archive records) also image, mean, std, median,
    p5, p95 inside each label. Returns a list of dicts, or a pandas DataFrame with
    ``frame=True``.
    """
    cases = expand_inputs(inputs, storage_options=storage_options)
    wanted = None if entries is None else list(dict.fromkeys([entries] if isinstance(entries, str) else entries))
    with_images = intensity or image is not None
    rows: list[dict[str, Any]] = []
    seen_entries: set[str] = set()
    with no_gc_pauses():
        for case, path in cases:
            rows.extend(_case_rows(case, path, wanted, seen_entries, centroid, with_images, image, len(cases)))
    if wanted is not None:
        missing = [n for n in wanted if n not in seen_entries]
        if missing:
            raise MedMaskError(f"no archive has an entry named {', '.join(map(repr, missing))}",
                               str(cases[0][1]) if len(cases) == 1 else None)
    return to_frame(rows) if frame else rows


def _case_rows(case, path, wanted, seen_entries, centroid, with_images, image, n_cases) -> list[dict[str, Any]]:
    with MaskSource(path, case) as source:
        present = set(source.names)
        names = source.names if wanted is None else [n for n in wanted if n in present]
        seen_entries.update(names)
        rows = source_rows(source, entries=names, centroid=centroid)
        if with_images:
            add_intensities(rows, source, resolve_image(image, source, n_cases))
    return rows


@contextlib.contextmanager
def no_gc_pauses():
    """Index JSON and rows are many small containers and hold no cycles: the cyclic collector
    would rescan them over and over (15 % of an index-only run). Restores the caller's setting."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
