"""Where each case of a review queue stands, read from its archive's index alone (no voxels decoded)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..format.review import DONE
from ..stats.inputs import expand_inputs
from ..storage.archive import MaskArchive

DONE_MARK, STARTED_MARK, UNTOUCHED_MARK = "✓", "◐", " "


@dataclass
class CaseState:
    """One case: which items need a decision, the decisions, the voxel edits. An item is an
    entry, or one label (organ) of a multi-label entry, keyed ``entry/label``; the items to review
    are the non-empty ones and any empty one already decided. ``state`` is ``done`` (every item
    to review has a closing decision: accepted, fixed or rejected), ``started`` (some decision or
    edit) or ``untouched``."""

    case: str
    path: Path
    entries: list[str]
    review: dict[str, dict[str, str]] = field(default_factory=dict)  # MaskArchive.review (flat keys)
    edits: dict[str, tuple[int, int]] = field(default_factory=dict)  # per item key
    voxels: dict[str, int] = field(default_factory=dict)  # per item key
    edited: bool = False  # any history record at all
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # label item key -> (entry, label)

    @property
    def items(self) -> list[str]:
        """Review keys in entry order: an entry, or the labels of a multi-label entry in its place."""
        by_entry: dict[str, list[str]] = {}
        for key, (entry, _) in self.labels.items():
            by_entry.setdefault(entry, []).append(key)
        return [k for n in self.entries for k in by_entry.get(n, [n])]

    def entry_label(self, key: str) -> tuple[str, str | None]:
        return self.labels.get(key, (key, None))

    def decision(self, key: str) -> dict[str, str] | None:
        """The decision an item stands under: its own, or for a label its entry's."""
        d = self.review.get(key)
        if d is None and key in self.labels:
            d = self.review.get(self.labels[key][0])
        return d

    @property
    def to_review(self) -> list[str]:
        return [k for k in self.items if self.voxels.get(k) or k in self.review]

    @property
    def decided(self) -> int:
        return sum(1 for k in self.to_review if (self.decision(k) or {}).get("status") in DONE)

    @property
    def state(self) -> str:
        todo = self.to_review
        if todo and self.decided == len(todo):
            return "done"
        if not todo and self.edited:
            return "done"  # nothing left to look at, and someone did
        return "started" if (self.review or self.edited) else "untouched"

    @property
    def mark(self) -> str:
        return {"done": DONE_MARK, "started": STARTED_MARK}.get(self.state, UNTOUCHED_MARK)


def case_state(path: str | os.PathLike, case: str | None = None) -> CaseState:
    from ..format.review import review_key
    from ..stats.inputs import case_name

    with MaskArchive(path) as a:
        infos = {n: a.entry_info(n) for n in a.names}
        voxels: dict[str, int] = {}
        labels: dict[str, tuple[str, str]] = {}
        for n, info in infos.items():
            voxels[n] = info.voxel_count or 0
            if len(info.mapping) > 1:
                counts = info.counts or {}
                for label, value in sorted(info.mapping.items(), key=lambda kv: kv[1]):
                    key = review_key(n, label)
                    if key in infos:  # an entry of that very name keeps the key
                        continue
                    labels[key] = (n, label)
                    voxels[key] = int(counts.get(int(value), counts.get(str(value), 0)) or 0)
        edits = {**a.label_voxel_edits(), **a.voxel_edits()}
        return CaseState(case or case_name(path), Path(path), list(infos), a.review, edits,
                         voxels, bool(a.history), labels)


def queue_states(inputs: str | os.PathLike | Iterable[str | os.PathLike]) -> list[CaseState]:
    """The archives of a folder, glob or list (``.mska`` only), in name order, with their state."""
    from ..errors import MedMaskError

    cases = expand_inputs(inputs)
    remote = [str(p) for _, p in cases if not isinstance(p, Path)]
    if remote:  # decisions are written into the archives: local files only
        raise MedMaskError("a review queue holds local archives; copy remote ones first", remote[0])
    return [case_state(p, c) for c, p in cases if p.name.endswith(".mska")]


def first_open(states: list[CaseState]) -> int:
    """Index of the first case not fully reviewed (0 when all are done)."""
    return next((i for i, s in enumerate(states) if s.state != "done"), 0)
