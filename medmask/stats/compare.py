"""Agreement of two segmentations of the same case: Dice, volume change, surface distances.

Voxels are decoded only where needed: entries whose stored bytes are equal are equal
(Dice 1, distances 0) without decoding; the overlap count reads only where the two
entry boxes intersect; surface distances use the crops' surface voxels. The second file
may hold the first's voxels in another axis order (:func:`b_on_grid_of_a`).
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Union

import numpy as np

from ..errors import GeometryError, MedMaskError
from ..format.records import EntryInfo
from ..storage.bytesource import is_url
from .inputs import expand_inputs
from .source import MaskSource, ReorderedSource
from .surface import surface_distances, surface_points_mm
from .volumes import entry_labels, voxel_volume_ml

Source = Union[MaskSource, ReorderedSource]

COLUMNS = ["case", "entry", "label", "status", "voxels_a", "voxels_b", "overlap_voxels", "volume_a_ml",
           "volume_b_ml", "volume_diff_ml", "volume_diff_pct", "dice", "hd95_mm", "hd_mm", "assd_mm"]

# status values
BOTH = "ok"                   # non-empty in both: every figure
EMPTY_A, EMPTY_B = "empty_in_a", "empty_in_b"   # Dice 0 (well defined), no surface distances
EMPTY_BOTH = "empty_in_both"  # nothing to compare: Dice and distances None
ONLY_A, ONLY_B = "missing_in_b", "missing_in_a"  # the entry (or label) exists on one side only
CASE_ONLY_A, CASE_ONLY_B = "case_missing_in_b", "case_missing_in_a"


def b_on_grid_of_a(a: Source, b: Source) -> Source:
    """``b`` as compare reads it: itself on ``a``'s grid; the same voxels in another axis order (a reference
    made from a dicom2nifti NIfTI: rows reversed) read in ``a``'s order, with one info line; another grid refused."""
    from ..convert._geometry import max_corner_distance
    from ..core.grid_match import log_reorder, match

    order = match(b.space, a.space)
    if order is None:
        gap = max_corner_distance(a.space, b.space)
        raise GeometryError(f"{a.path} and {b.path} lie on different grids (shapes {tuple(a.space.shape)} "
                            f"and {tuple(b.space.shape)}, corners up to {gap:.3g} mm apart); compare needs "
                            f"both on one grid", str(b.path))
    if order.identity:
        return b
    log_reorder(f"{b.path} (compared with {a.path})", order, "read in the first file's order exactly, nothing resampled")
    return ReorderedSource(b, order)


def _equal_payloads(pa: bytes | None, pb: bytes | None) -> bool:
    """Equal stored bytes mean equal voxels; a reordered side has none to compare (None)."""
    return pa is not None and pb is not None and pa == pb


def _label_key(name: str | None, value: int) -> str:
    return name if name is not None else f"#{value}"


def _labels(info: EntryInfo | None) -> dict[str, tuple[str | None, int]]:
    return {} if info is None else {_label_key(n, v): (n, v) for n, v in entry_labels(info)}


def _box_overlap(a, b):
    box = tuple((max(x0, y0), min(x1, y1)) for (x0, x1), (y0, y1) in zip(a, b))
    return box if all(lo < hi for lo, hi in box) else None


def _sub(crop: np.ndarray, crop_box, box) -> np.ndarray:
    return crop[tuple(slice(lo - c0, hi - c0) for (lo, hi), (c0, _) in zip(box, crop_box))]


def _region(crop: np.ndarray, value: int) -> np.ndarray:
    return crop if crop.dtype == bool else crop == value


class _Side:
    """One archive's entry: index record, and its crop decoded at most once."""

    def __init__(self, source: Source, name: str):
        self.source, self.name = source, name
        self.info = source.info(name) if name in source.names else None
        self._crop: np.ndarray | None = None

    def crop(self) -> np.ndarray:
        if self._crop is None:
            self._crop = self.source.crop(self.name)
        return self._crop  # type: ignore[return-value]

    def count(self, value: int | None) -> int:
        return 0 if value is None or self.info is None else int((self.info.counts or {}).get(value, 0))


def _row(case, entry, label, status, na, nb, ml) -> dict[str, Any]:
    row = dict.fromkeys(COLUMNS)
    row.update(case=case, entry=entry, label=label, status=status, voxels_a=na, voxels_b=nb)
    if na is not None:
        row["volume_a_ml"] = na * ml
    if nb is not None:
        row["volume_b_ml"] = nb * ml
    if na is not None and nb is not None:
        row["volume_diff_ml"] = (nb - na) * ml
        row["volume_diff_pct"] = 100.0 * (nb - na) / na if na else None
    return row


def compare_sources(a: Source, b: Source, *, entries: Iterable[str] | None = None,
                    surface: bool = True, case: str | None = None) -> list[dict[str, Any]]:
    """Rows for one pair of files on one grid (``b`` in another axis order is read in ``a``'s, see
    :func:`b_on_grid_of_a`); entries present in either (or those named)."""
    b = b_on_grid_of_a(a, b)
    case = case if case is not None else a.case
    ml = voxel_volume_ml(a.space)
    spacing = [float(s) for s in a.space.spacing]
    names = list(dict.fromkeys([*a.names, *b.names])) if entries is None else list(entries)
    rows = []
    for name in names:
        sa, sb = _Side(a, name), _Side(b, name)
        if sa.info is None and sb.info is None:
            raise MedMaskError(f"neither {a.path} nor {b.path} has an entry named {name!r}")
        la, lb = _labels(sa.info), _labels(sb.info)
        same_bytes = (sa.info is not None and sb.info is not None and sa.info.dtype == sb.info.dtype
                      and sa.info.bbox == sb.info.bbox and sa.info.codec == sb.info.codec
                      and _equal_payloads(a.payload(name), b.payload(name)))
        for key in dict.fromkeys([*la, *lb]):
            va, vb = la.get(key, (None, None))[1], lb.get(key, (None, None))[1]
            label = (la.get(key) or lb.get(key))[0]  # type: ignore[index]
            if va is None or vb is None:
                status = ONLY_B if va is None else ONLY_A
                rows.append(_row(case, name, label, status, None if va is None else sa.count(va),
                                 None if vb is None else sb.count(vb), ml))
                continue
            na, nb = sa.count(va), sb.count(vb)
            if na == 0 or nb == 0:
                status = EMPTY_BOTH if na == nb == 0 else EMPTY_A if na == 0 else EMPTY_B
                row = _row(case, name, label, status, na, nb, ml)
                if status != EMPTY_BOTH:
                    row.update(overlap_voxels=0, dice=0.0)
                rows.append(row)
                continue
            row = _row(case, name, label, BOTH, na, nb, ml)
            if same_bytes and va == vb:
                row.update(overlap_voxels=na, dice=1.0)
                if surface:
                    row.update(hd95_mm=0.0, hd_mm=0.0, assd_mm=0.0)
                rows.append(row)
                continue
            box = _box_overlap(sa.info.bbox, sb.info.bbox)  # type: ignore[union-attr]
            inter = 0
            if box is not None:
                ra = _region(_sub(sa.crop(), sa.info.bbox, box), va)  # type: ignore[union-attr]
                rb = _region(_sub(sb.crop(), sb.info.bbox, box), vb)  # type: ignore[union-attr]
                inter = int(np.count_nonzero(ra & rb))
            row.update(overlap_voxels=inter, dice=2.0 * inter / (na + nb))
            if surface:
                pa = surface_points_mm(_region(sa.crop(), va), [s for s, _ in sa.info.bbox], spacing)  # type: ignore[union-attr]
                pb = surface_points_mm(_region(sb.crop(), vb), [s for s, _ in sb.info.bbox], spacing)  # type: ignore[union-attr]
                d = surface_distances(pa, pb)
                row.update(hd95_mm=d.hd95_mm, hd_mm=d.hd_mm, assd_mm=d.assd_mm)
            rows.append(row)
    return rows


def _is_folder(x) -> bool:
    text = os.fspath(x)
    return os.path.isdir(text) or (is_url(text) and text.endswith("/"))


def pair_cases(a, b, storage_options: dict | None = None) -> list[tuple[str, Any, Any]]:
    """(case, path_a | None, path_b | None): two files pair as they are; otherwise by case name.
    Either side may be a URL (file, folder URL ending in ``/`` or glob), read with ``storage_options``."""
    ca = expand_inputs(a, storage_options=storage_options)
    cb = expand_inputs(b, storage_options=storage_options)
    if len(ca) == 1 and len(cb) == 1 and not (_is_folder(a) or _is_folder(b)):
        return [(ca[0][0], ca[0][1], cb[0][1])]
    da, db = dict(ca), dict(cb)
    return [(c, da.get(c), db.get(c)) for c in dict.fromkeys([*da, *db])]


def compare(a, b, *, entries: Iterable[str] | None = None, surface: bool = True, frame: bool = False,
            storage_options: dict | None = None, workers: int = 1, dask: str | None = None, executor=None):
    """Agreement of ``a`` with ``b`` (two files, or two folders/globs of cases paired by name).

    One record per (case, entry, label) present in either; see ``COLUMNS`` and the
    status values above. ``volume_diff_*`` is b minus a (percent of a); ``dice`` is
    2|A∩B|/(|A|+|B|); ``hd95_mm`` the symmetric 95th-percentile surface distance,
    ``hd_mm`` the Hausdorff distance, ``assd_mm`` the average symmetric surface
    distance. ``surface=False`` skips the distances. ``frame=True`` returns a DataFrame.
    ``storage_options``: for URLs among ``a`` and ``b``. Pairs of cases run in ``workers``
    processes, on a dask scheduler at ``dask`` or on any ``executor``; rows come back in case order.
    """
    from functools import partial

    from .output import to_frame
    from .parallel import executor_for, map_chunks

    wanted = None if entries is None else list(dict.fromkeys([entries] if isinstance(entries, str) else entries))
    job = partial(_compare_pairs, wanted=wanted, surface=surface)
    pairs = pair_cases(a, b, storage_options)
    if executor is not None:
        parts = map_chunks(job, pairs, executor, max(workers, 2))
    else:
        with executor_for(workers, dask) as ex:
            parts = map_chunks(job, pairs, ex, workers)
    rows: list[dict[str, Any]] = [row for part in parts for row in part]
    if wanted is not None:
        found = {r["entry"] for r in rows}
        missing = [n for n in wanted if n not in found]
        if missing:
            raise MedMaskError(f"no compared archive has an entry named {', '.join(map(repr, missing))}")
    return to_frame(rows) if frame else rows


def _compare_pairs(pairs, *, wanted, surface) -> list[dict[str, Any]]:
    """Rows of a chunk of case pairs (module level: process pools and dask pickle it)."""
    rows: list[dict[str, Any]] = []
    for case, pa, pb in pairs:
        if pa is None or pb is None:
            row = dict.fromkeys(COLUMNS)
            row.update(case=case, status=CASE_ONLY_B if pa is None else CASE_ONLY_A)
            rows.append(row)
            continue
        with MaskSource(pa, case) as sa, MaskSource(pb, case) as sb:
            names = None if wanted is None else [n for n in wanted if n in set(sa.names) | set(sb.names)]
            rows.extend(compare_sources(sa, sb, entries=names, surface=surface, case=case))
    return rows
