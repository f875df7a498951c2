"""Two archives' versions of one entry, side by side, and where they disagree (no Qt).

The compare dock shows, for the chosen entry, A's labels, B's labels and a third
layer holding only the voxels they disagree on: 1 = in A only, 2 = in B only,
3 = labelled in both but with different labels. All three layers cover the union of
the two entries' boxes (grown by a few voxels), never the full volume.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medmask.errors import MedMaskError
from medmask.stats.compare import Source, b_on_grid_of_a, compare_sources
from medmask.stats.source import MaskSource, ReorderedSource

from ._layers import META_KEY, PAD, colormap_for, crop_translate, features_for, geometry_meta, padded_box
from .model import natural_key

ONLY_A, ONLY_B, DIFFERENT = 1, 2, 3
DISAGREEMENT_NAMES = {ONLY_A: "only in A", ONLY_B: "only in B", DIFFERENT: "different label"}
# contrasting, colour-blind-safe: vermillion, sky blue, yellow
DISAGREEMENT_COLORS = {ONLY_A: (0.84, 0.37, 0.0, 1.0), ONLY_B: (0.34, 0.71, 0.91, 1.0), DIFFERENT: (0.94, 0.89, 0.26, 1.0)}


@dataclass(frozen=True)
class EntrySummary:
    """What the dock says about one entry (a row of ``medmask.compare``)."""

    entry: str
    status: str
    dice: float | None
    voxels_a: int | None
    voxels_b: int | None
    volume_diff_pct: float | None
    hd95_mm: float | None

    def text(self) -> str:
        parts = [self.status.replace("_", " ")]
        if self.dice is not None:
            parts.append(f"Dice {self.dice:.3f}")
        if self.voxels_a is not None and self.voxels_b is not None:
            pct = f" ({self.volume_diff_pct:+.1f} %)" if self.volume_diff_pct is not None else ""
            parts.append(f"voxels A {self.voxels_a:,} / B {self.voxels_b:,}{pct}")
        if self.hd95_mm is not None:
            parts.append(f"HD95 {self.hd95_mm:.2f} mm")
        return " · ".join(parts)


def _summary(rows: list[dict[str, Any]], entry: str) -> EntrySummary:
    """One line per entry: a multi-label entry is summed over its labels (Dice of the union)."""
    mine = [r for r in rows if r["entry"] == entry]
    if len(mine) == 1:
        r = mine[0]
        return EntrySummary(entry, r["status"], r["dice"], r["voxels_a"], r["voxels_b"], r["volume_diff_pct"],
                            r["hd95_mm"])
    na = sum(r["voxels_a"] or 0 for r in mine)
    nb = sum(r["voxels_b"] or 0 for r in mine)
    inter = sum(r["overlap_voxels"] or 0 for r in mine)
    statuses = {r["status"] for r in mine}
    status = statuses.pop() if len(statuses) == 1 else "mixed"
    return EntrySummary(entry, status, 2 * inter / (na + nb) if na + nb else None, na, nb,
                        100.0 * (nb - na) / na if na else None, None)


class CompareModel:
    """Two archives on one grid; ``layers(entry)`` gives napari LayerData for A, B and their disagreement."""

    def __init__(self) -> None:
        self.a: MaskSource | None = None
        self.b: Source | None = None
        self.summaries: dict[str, EntrySummary] = {}

    # loading -------------------------------------------------------------------------------
    def open(self, path_a: str | os.PathLike, path_b: str | os.PathLike) -> list[str]:
        """Open both archives (one grid; B's voxels in another axis order are read in A's order, as
        ``medmask compare`` does); returns the entries present in either."""
        a, b = MaskSource(path_a), MaskSource(path_b)
        try:
            b = b_on_grid_of_a(a, b)
            rows = compare_sources(a, b, surface=False)
        except BaseException:
            a.close()
            b.close()
            raise
        self.close()
        self.a, self.b = a, b
        names = sorted({r["entry"] for r in rows}, key=natural_key)
        self.summaries = {n: _summary(rows, n) for n in names}
        return self.entries()

    def entries(self) -> list[str]:
        """Entries that disagree first (lowest Dice), then agreeing ones, then ones empty in both."""
        def key(name: str):
            s = self.summaries[name]
            if s.status == "empty_in_both":
                return (3, 0.0, natural_key(name))
            if s.dice is None:  # missing on one side
                return (0, -1.0, natural_key(name))
            return (1 if s.dice < 1 else 2, s.dice, natural_key(name))
        return sorted(self.summaries, key=key)

    def summary(self, entry: str) -> EntrySummary:
        """The entry's figures, with HD95 computed on first request (decodes two crops)."""
        s = self.summaries[entry]
        if s.hd95_mm is None and s.status == "ok" and self.a is not None:
            rows = compare_sources(self.a, self.b, entries=[entry], surface=True)  # type: ignore[arg-type]
            if len(rows) == 1:
                s = self.summaries[entry] = _summary(rows, entry)
        return s

    # layers ------------------------------------------------------------------------------
    def _crop_in(self, source: Source, entry: str, box) -> tuple[np.ndarray, dict, dict]:
        shape = tuple(b - a for a, b in box)
        if entry not in source.names:
            return np.zeros(shape, np.uint8), {}, {}
        info = source.info(entry)
        crop = source.crop(entry)
        dtype = np.uint8 if info.dtype == "bool" else np.dtype(info.dtype)
        out = np.zeros(shape, dtype)
        if crop is not None:
            out[tuple(slice(a - o, b - o) for (a, b), (o, _) in zip(info.bbox, box))] = crop  # type: ignore[union-attr]
        return out, info.mapping, info.colors

    def box(self, entry: str):
        if self.a is None or self.b is None:
            raise MedMaskError("open two archives first")
        boxes = [s.info(entry).bbox for s in (self.a, self.b) if entry in s.names]
        boxes = [b for b in boxes if b is not None]
        if not boxes:
            return ((0, 1), (0, 1), (0, 1))
        union = tuple((min(b[i][0] for b in boxes), max(b[i][1] for b in boxes)) for i in range(3))
        return padded_box(union, self.a.space.shape, PAD)

    def layers(self, entry: str) -> list[tuple]:
        """LayerData tuples: "A: entry", "B: entry", "A≠B: entry" (names say which file is which)."""
        box = self.box(entry)
        data_a, map_a, col_a = self._crop_in(self.a, entry, box)  # type: ignore[arg-type]
        data_b, map_b, col_b = self._crop_in(self.b, entry, box)  # type: ignore[arg-type]
        diff = np.zeros(data_a.shape, np.uint8)
        in_a, in_b = data_a != 0, data_b != 0
        diff[in_a & ~in_b] = ONLY_A
        diff[in_b & ~in_a] = ONLY_B
        # labels are compared by name: value v in A is the same organ as B's value of that name
        same = np.zeros(data_a.shape, bool)
        for name, va in map_a.items():
            if name in map_b:
                same |= (data_a == va) & (data_b == map_b[name])
        diff[in_a & in_b & ~same] = DIFFERENT
        geometry, placed = geometry_meta(self.a.space)  # type: ignore[union-attr]
        offset = [a for a, _ in box]
        common = {"scale": list(placed.scale), "translate": crop_translate(placed, offset)}
        data_a, data_b, diff = (placed.layer_array(x) for x in (data_a, data_b, diff))

        def meta(side: str, path) -> dict:
            return {META_KEY: {"kind": "compare", "compare": side, **geometry, "archive": os.path.abspath(path),
                               "entry": entry, "offset": offset}}

        summary = self.summary(entry)
        return [
            (data_a, {**common, "name": f"A: {entry}", "colormap": colormap_for(map_a, col_a),
                      "features": features_for(map_a), "opacity": 0.5, "metadata": meta("A", self.a.path)},  # type: ignore[union-attr]
             "labels"),
            (data_b, {**common, "name": f"B: {entry}", "colormap": colormap_for(map_b, col_b),
                      "features": features_for(map_b), "opacity": 0.5, "metadata": meta("B", self.b.path)},  # type: ignore[union-attr]
             "labels"),
            (diff, {**common, "name": f"A≠B: {entry}", "colormap": {0: (0, 0, 0, 0), None: (1, 1, 1, 1),
                                                                    **DISAGREEMENT_COLORS},
                    "features": features_for({v: k for k, v in DISAGREEMENT_NAMES.items()}), "opacity": 1.0,
                    "metadata": {**meta("A≠B", self.a.path), "summary": summary.text()}}, "labels"),  # type: ignore[union-attr]
        ]

    def close(self) -> None:
        for s in (self.a, self.b):
            if s is not None:
                s.close()
        self.a = self.b = None

    @property
    def note(self) -> str:
        """'' when B is stored in A's axis order, else what the dock says about reading it in A's."""
        if not isinstance(self.b, ReorderedSource):
            return ""
        return (f"B holds A's voxels in another axis order ({self.b.order.describe()}): read in A's order exactly, "
                f"nothing resampled")

    @property
    def paths(self) -> tuple[Path | None, Path | None]:
        return (self.a.path if self.a else None, self.b.path if self.b else None)
