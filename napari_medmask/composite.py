"""One label volume that draws every entry of an archive, overlaps included (no napari, no Qt).

Each voxel holds the id of the *set* of entry labels covering it: 0 for none, then one id per
distinct combination met in the volume (``aorta`` alone, ``aorta + aorta_true_lumen``, ...). The
volume is built once, in one pass over the entries' stored crops, and costs one full uint8 volume
(uint16 past 255 combinations). Showing or hiding entries never touches it: the colormap says
which colour each combination gets, namely that of its topmost *shown* item, where smaller items
lie on top of larger ones (a rib over the body outline, a lumen over the aorta). So a toggle is a
colormap change, whatever the number of entries, and an overlapped organ is never hidden by the
order the entries happen to be stored in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from medmask.core.colors import color_for

__all__ = ["Item", "Composite", "build_composite", "TRANSPARENT", "COVERED_FRACTION"]

TRANSPARENT = (0.0, 0.0, 0.0, 0.0)
# an entry is not drawn on open when this much of it is already drawn by smaller entries shown
# (an aggregate such as ribs_all, a duplicate such as organ_aorta_T264, the aorta under its lumens)
COVERED_FRACTION = 0.9


@dataclass(frozen=True)
class Item:
    """One label of one entry."""

    entry: str
    label: str  # "" for the only label of a single-label entry
    value: int
    color: tuple[float, float, float, float]
    voxels: int

    @property
    def title(self) -> str:
        return f"{self.entry}: {self.label}" if self.label else self.entry


@dataclass
class Composite:
    data: np.ndarray  # combination id per voxel, medmask array order
    items: list[Item]
    combos: list[tuple[int, ...]]  # id -> item indices, topmost first (combos[0] == ())
    # voxels per combination id; ids whose voxels all moved on to a larger combination keep a 0 count
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def entries(self) -> list[str]:
        return list(dict.fromkeys(i.entry for i in self.items))

    def names_at(self, value: int) -> list[str]:
        """Titles of every item at a voxel of this value, topmost first."""
        if not 0 < int(value) < len(self.combos):
            return []
        return [self.items[k].title for k in self.combos[int(value)]]

    @property
    def titles(self) -> list[str]:
        """Each item's title: the entry name, or ``entry: label`` for a label of a multi-label entry."""
        return [i.title for i in self.items]

    def colormap(self, hidden: Iterable[str] = ()) -> dict[Any, tuple]:
        """{id: rgba} drawing every combination in its topmost shown item's colour.

        ``hidden``: item titles (an entry name hides a single-label entry, ``entry: label`` one
        label of a multi-label entry).
        """
        hidden = set(hidden)
        shown = [it.title not in hidden for it in self.items]
        cmap: dict[Any, tuple] = {0: TRANSPARENT, None: TRANSPARENT}
        for cid in range(1, len(self.combos)):
            cmap[cid] = next((self.items[k].color for k in self.combos[cid] if shown[k]), TRANSPARENT)
        return cmap

    def features(self):
        import pandas as pd

        names = ["background"] + [" + ".join(self.names_at(v)) for v in range(1, len(self.combos))]
        return pd.DataFrame({"index": np.arange(len(self.combos)), "name": names})

    def initially_shown(self) -> list[str]:
        """Item titles drawn on open: every item except those mostly drawn by smaller shown ones.

        Items (organs: single-label entries and each label of a multi-label one) are taken
        smallest first; one whose voxels are at least ``COVERED_FRACTION`` covered by items
        already taken is left unchecked (still listed and one click away).
        """
        titles = self.titles
        shown: set[int] = set()
        for k in sorted(range(len(self.items)), key=lambda k: (self.items[k].voxels, titles[k])):
            total = covered = 0
            for cid, combo in enumerate(self.combos):
                if k not in combo:
                    continue
                n = int(self.counts[cid]) if cid < len(self.counts) else 0
                total += n
                if any(j in shown for j in combo if j != k):
                    covered += n
            if total and covered < COVERED_FRACTION * total:
                shown.add(k)
        return [titles[k] for k in range(len(self.items)) if k in shown]

    def to_meta(self) -> dict:
        """Plain description for ``layer.metadata`` (the dock rebuilds colormaps from it)."""
        return {"items": [[i.entry, i.label, i.value, list(i.color), i.voxels] for i in self.items],
                "combos": [list(c) for c in self.combos], "counts": [int(n) for n in self.counts]}

    @classmethod
    def from_meta(cls, data: np.ndarray, meta: Mapping[str, Any]) -> "Composite":
        items = [Item(str(e), str(lb), int(v), tuple(float(c) for c in col), int(n))  # type: ignore[arg-type]
                 for e, lb, v, col, n in meta.get("items", [])]
        combos = [tuple(int(k) for k in c) for c in meta.get("combos", [[]])]
        counts = np.asarray(meta.get("counts") or np.zeros(len(combos)), dtype=np.int64)
        return cls(data, items, combos, counts)


def build_composite(archive, names: Iterable[str] | None = None) -> Composite:
    """The composite volume of ``names`` (default: every non-empty entry) of an open MaskArchive."""
    infos = [archive.entry_info(n) for n in (names if names is not None else archive.all_names())]
    infos = [i for i in infos if i.bbox is not None and i.mapping]
    items: list[Item] = []
    for info in infos:
        for label, value in sorted(info.mapping.items(), key=lambda kv: kv[1]):
            voxels = int((info.counts or {}).get(int(value), (info.counts or {}).get(str(value), 0)) or 0)
            color = tuple(float(c) for c in ((info.colors or {}).get(label) or color_for(label)))
            if len(color) == 3:
                color = (*color, 1.0)
            items.append(Item(info.name, "" if len(info.mapping) == 1 else label, int(value),
                              color, voxels))  # type: ignore[arg-type]
    # smaller items on top; ties by archive order
    rank = {k: r for r, k in enumerate(sorted(range(len(items)), key=lambda k: (items[k].voxels, k)))}
    shape = tuple(int(v) for v in archive.space.shape)
    data = np.zeros(shape, dtype=np.uint8 if len(items) < 255 else np.uint16)
    combos: list[tuple[int, ...]] = [()]
    moved: dict[int, int] = {0: int(np.prod(shape))}
    index: dict[tuple[int, ...], int] = {(): 0}
    k = 0
    for info in infos:
        mask = archive.load_segmask(info.name)
        if mask.bbox is None:
            k += len(info.mapping)
            continue
        crop = np.asarray(mask.crop_data)
        region = data[tuple(slice(a, b) for a, b in mask.bbox)]
        single = len(info.mapping) == 1
        for _ in info.mapping:
            item = items[k]
            hit = crop != 0 if single else crop == item.value
            old = region[hit]
            hist = np.bincount(old) if old.size else np.zeros(1, np.intp)
            present = np.flatnonzero(hist)
            lut = np.arange(len(hist), dtype=np.int64)
            for u in present:
                key = tuple(sorted(combos[int(u)] + (k,), key=rank.__getitem__))
                cid = index.get(key)
                if cid is None:
                    cid = index[key] = len(combos)
                    combos.append(key)
                lut[int(u)] = cid
                n = int(hist[u])  # voxels that move from combination u to cid (no pass over the volume)
                moved[int(u)] = moved.get(int(u), 0) - n
                moved[cid] = moved.get(cid, 0) + n
            if len(combos) - 1 > np.iinfo(data.dtype).max:
                data = data.astype(np.uint16 if len(combos) <= 65536 else np.uint32)
                region = data[tuple(slice(a, b) for a, b in mask.bbox)]
            region[hit] = lut[old]
            k += 1
    counts = np.zeros(len(combos), np.int64)
    for cid, n in moved.items():
        counts[cid] += n
    return Composite(data, items, combos, counts)
