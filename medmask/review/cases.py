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
    """One case: which entries need a decision (the non-empty ones, and any empty one already
    decided), the decisions, the voxel edits. ``state`` is ``done`` (every entry to review has
    a closing decision: accepted, fixed or rejected), ``started`` (some decision or edit) or
    ``untouched``."""

    case: str
    path: Path
    entries: list[str]
    review: dict[str, dict[str, str]] = field(default_factory=dict)
    edits: dict[str, tuple[int, int]] = field(default_factory=dict)
    voxels: dict[str, int] = field(default_factory=dict)
    edited: bool = False  # any history record at all

    @property
    def to_review(self) -> list[str]:
        return [n for n in self.entries if self.voxels.get(n) or n in self.review]

    @property
    def decided(self) -> int:
        return sum(1 for n in self.to_review if self.review.get(n, {}).get("status") in DONE)

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
    from ..stats.inputs import case_name

    with MaskArchive(path) as a:
        infos = {n: a.entry_info(n) for n in a.names}
        return CaseState(case or case_name(path), Path(path), list(infos), a.review, a.voxel_edits(),
                         {n: i.voxel_count or 0 for n, i in infos.items()}, bool(a.history))


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
