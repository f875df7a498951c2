"""``compute_stats``: the Python entry point behind ``medmask stats``."""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import gc
import os
import warnings
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Iterable, Union

from ..errors import MedMaskError
from .inputs import expand_inputs
from .intensity import IMAGE_COLUMNS, add_intensities, resolve_image
from .output import to_frame
from .parallel import executor_for, map_chunks
from .source import MaskSource
from .volumes import source_rows


@dataclass(frozen=True)
class CaseProblem:
    """A case a run could not (fully) measure: ``stage`` "archive" (no rows) or "image" (rows
    without intensities), and why."""
    case: str
    path: str
    stage: str
    reason: str
    error: MedMaskError | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        what = "left out" if self.stage == "archive" else "no intensities"
        return f"{self.path}: {what}: {self.reason}"


class CaseSkippedWarning(UserWarning):
    """``on_error="skip"``: one case was left out (or measured without intensities)."""


OnError = Union[str, Callable[[CaseProblem], None]]


def compute_stats(inputs: str | os.PathLike | Iterable[str | os.PathLike], *, entries: Iterable[str] | None = None,
                  centroid: bool = False, intensity: bool = False, image: Any = None,
                  frame: bool = False, storage_options: dict | None = None, workers: int = 1,
                  dask: str | None = None, executor: cf.Executor | None = None, on_error: OnError = "raise",
                  review: Iterable[str] | bool = False):
    """One record per (case, entry, label) of every archive in ``inputs``.

    ``inputs``: ``.mska``/``.msk`` files, folders (searched recursively) or glob patterns, local
    or URLs (``s3://bucket/cases/*.mska``; read with ``storage_options``).
    Columns: case, entry, label, value, voxels, volume_ml, the index bbox (``bbox_start_*``,
    ``bbox_stop_*``, array axes 0..2), its length in mm along each axis (``extent_mm_*``)
    and the LPS box it covers (``bbox_lps_min_*``/``max_*``); with ``centroid=True`` the
    LPS centroid (``centroid_lps_*``, decodes crops). With ``image=`` (a path, a
    ``'.../{case}/ct.nii.gz'`` template, a {case: path} mapping or a callable(case, path))
    or ``intensity=True`` (the scan each archive records) also image, image_error, mean,
    std, median, p5, p95 inside each label. ``review=True`` adds each entry's review decision
    (``review_status``: ``unreviewed`` when none, ``reviewer``); ``review=["accepted", ...]`` also
    keeps only rows of entries with one of those statuses. The columns depend on these flags only.

    Cases run in ``workers`` processes, on a dask scheduler at ``dask``, or on any
    ``executor``; rows come back in input order. ``on_error``: ``"raise"`` stops at the
    first bad case; ``"skip"`` finishes every other case and warns (CaseSkippedWarning)
    for each one left out (an unreadable archive: no rows) or measured without
    intensities (its scan missing or on another grid: rows with ``image_error``); or a
    callable given each :class:`CaseProblem`. Returns a list of dicts, or a pandas
    DataFrame with ``frame=True``.
    """
    if on_error not in ("raise", "skip") and not callable(on_error):
        raise ValueError(f"on_error must be 'raise', 'skip' or a callable, not {on_error!r}")
    cases = expand_inputs(inputs, storage_options=storage_options)
    if isinstance(image, (str, os.PathLike)) and "{case}" not in os.fspath(image) and len(cases) > 1:
        resolve_image(image, None, len(cases))  # one scan for many cases: the whole run is wrong, say so now
    wanted = None if entries is None else list(dict.fromkeys([entries] if isinstance(entries, str) else entries))
    job = partial(_cases_rows, wanted=wanted, centroid=centroid, with_images=intensity or image is not None,
                  image=image, n_cases=len(cases), raise_errors=on_error == "raise",
                  review=None if review is False else (True if review is True else list(review)))
    rows: list[dict[str, Any]] = []
    seen_entries: set[str] = set()
    problems: list[CaseProblem] = []
    with no_gc_pauses():
        if executor is not None:
            parts = map_chunks(job, cases, executor, max(workers, 2))
        else:
            with executor_for(workers, dask) as ex:
                parts = map_chunks(job, cases, ex, workers)
        for part_rows, part_seen, part_problems in parts:
            rows.extend(part_rows)
            seen_entries.update(part_seen)
            problems.extend(part_problems)
    if problems and len(problems) == len(cases) and all(p.stage == "archive" for p in problems):
        raise problems[0].error  # nothing could be read at all: that is the run's error, not a skipped case
    for problem in problems:
        if on_error == "skip":
            warnings.warn(str(problem), CaseSkippedWarning, stacklevel=2)
        else:
            on_error(problem)  # type: ignore[operator]
    if wanted is not None:
        missing = [n for n in wanted if n not in seen_entries]
        if missing and not (problems and not rows):
            raise MedMaskError(f"no archive has an entry named {', '.join(map(repr, missing))}",
                               str(cases[0][1]) if len(cases) == 1 else None)
    return to_frame(rows) if frame else rows


def stats_columns(centroid: bool = False, images: bool = False, review: bool = False) -> list[str]:
    """The columns of a stats run with these flags (every row has exactly these)."""
    from .volumes import BASE_COLUMNS, CENTROID_COLUMNS

    return [*BASE_COLUMNS, *(CENTROID_COLUMNS if centroid else []), *(REVIEW_COLUMNS if review else []),
            *(IMAGE_COLUMNS if images else [])]


REVIEW_COLUMNS = ["review_status", "reviewer"]


def _cases_rows(cases, *, wanted, centroid, with_images, image, n_cases, raise_errors, review=None):
    """Rows of a chunk of cases (module level: process pools and dask pickle it)."""
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    problems: list[CaseProblem] = []
    for case, path in cases:
        try:
            with MaskSource(path, case) as source:
                present = set(source.names)
                names = source.names if wanted is None else [n for n in wanted if n in present]
                case_rows = source_rows(source, entries=names, centroid=centroid)
                if review is not None:
                    case_rows = _join_review(case_rows, source.review(), review)
                if with_images:
                    try:
                        add_intensities(case_rows, source, resolve_image(image, source, n_cases))
                    except MedMaskError as exc:
                        if raise_errors:
                            raise
                        reason = _reason(exc, path)
                        problems.append(CaseProblem(case, str(path), "image", reason))
                        for row in case_rows:
                            row.update(dict.fromkeys(IMAGE_COLUMNS), image_error=reason)
        except MedMaskError as exc:
            if raise_errors:
                raise
            problems.append(CaseProblem(case, str(path), "archive", _reason(exc, path), exc))
            continue
        seen.update(names)
        rows.extend(case_rows)
    return rows, seen, problems


def _join_review(rows: list[dict[str, Any]], decisions: dict, statuses: Iterable[str] | bool) -> list[dict[str, Any]]:
    """Each row gains its entry's review status and reviewer; rows of other statuses are left out
    when ``statuses`` names some."""
    keep = None if statuses is True else set(statuses)
    out = []
    for r in rows:
        d = decisions.get(r["entry"]) or {}
        r["review_status"] = d.get("status", "unreviewed")
        r["reviewer"] = d.get("reviewer")
        if not keep or r["review_status"] in keep:
            out.append(r)
    return out


def _reason(exc: MedMaskError, archive) -> str:
    """The error in one line, without the archive's path (the problem names it) but with any other."""
    text = exc.problem if exc.path in (None, str(archive)) else str(exc)
    return " ".join(text.split())


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
