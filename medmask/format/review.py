"""Review decisions and edit history of an archive, as stored in its index (docs/format.md, "Review").

Two optional top-level keys of the index head (a 2.x reader that does not know them ignores
them, so files carrying them still open with medmask 0.3-0.5):

* ``review``: ``{entry: {"status", "reviewer", "time", "comment"}}``, the latest decision per
  entry (earlier ones are history records);
* ``history``: ``{"records": [...], "earlier": {...}}``, one record per change (an entry's
  voxels replaced, a rename, a removal, a review decision), oldest first. Old records are
  folded into ``earlier`` (their count, time span and per-entry voxel totals) so the key stays
  small enough for older readers, which refuse an unknown key of more than 64 KiB.

Pure data: no file I/O. :class:`ReviewLog` is immutable; every change returns a new one, so a
failed commit can drop it with the rest of the handle's pending state.
"""
from __future__ import annotations

import getpass
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import FormatError, LimitError, MedMaskError

STATUSES = ("accepted", "needs_fix", "fixed", "rejected")
CLEAR = "unreviewed"
DONE = ("accepted", "fixed", "rejected")  # decisions that close an entry ("needs_fix" is still open)
ACTIONS = ("voxels", "rename", "remove", "review")
MAX_COMMENT = 1000          # characters of one comment
MAX_RECORDS = 300           # history records kept one by one
KEY_BUDGET = 56 << 10       # json.dumps size of one key; medmask <= 0.5 refuses unknown keys over 64 KiB
HEAD_KEYS = ("review", "history")


def now() -> str:
    """UTC time to the second, ISO 8601 (``2026-12-07T02:10:00Z``): sortable as text."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers without USER/passwd entry)
        return "unknown"


def _size(value: Any) -> int:
    return len(json.dumps(value))  # what an older reader measures (default separators)


@dataclass(frozen=True)
class ReviewLog:
    """The decisions and history of one archive."""

    decisions: dict[str, dict[str, str]] = field(default_factory=dict)
    records: tuple[dict[str, Any], ...] = ()
    earlier: dict[str, Any] = field(default_factory=dict)  # {"count", "first", "last", "voxels": {entry: [a, r]}}

    @property
    def empty(self) -> bool:
        return not (self.decisions or self.records or self.earlier)

    # changes ----------------------------------------------------------------------------
    def decide(self, entry: str, status: str, reviewer: str | None, comment: str,
               path: str | None = None) -> "ReviewLog":
        if status not in STATUSES and status != CLEAR:
            raise MedMaskError(f"review status must be one of {STATUSES + (CLEAR,)}, got {status!r}", path)
        if not isinstance(comment, str):
            raise MedMaskError(f"review comment must be text, got {type(comment).__name__}", path)
        if len(comment) > MAX_COMMENT:
            raise MedMaskError(f"review comment of {entry!r} is {len(comment)} characters, more than "
                               f"{MAX_COMMENT}", path)
        if reviewer is not None and (not isinstance(reviewer, str) or not reviewer.strip()):
            raise MedMaskError(f"reviewer must be a non-empty name or None (the OS user), got {reviewer!r}", path)
        reviewer = reviewer or os_user()
        time = now()
        decisions = dict(self.decisions)
        if status == CLEAR:
            decisions.pop(entry, None)
        else:
            decisions[entry] = {"status": status, "reviewer": reviewer, "time": time, "comment": comment}
        record = {"action": "review", "entry": entry, "time": time, "user": reviewer, "status": status}
        if comment:
            record["comment"] = comment
        log = ReviewLog(decisions, self.records, self.earlier)._append(record)
        if _size(log.decisions) > KEY_BUDGET:
            raise LimitError(f"the review decisions would take {_size(log.decisions)} bytes in the index, more "
                             f"than {KEY_BUDGET} (older medmask versions refuse bigger unknown keys): shorten "
                             f"the comments", path)
        return log

    def voxels_changed(self, entry: str, added: int, removed: int, box, relabelled: int = 0) -> "ReviewLog":
        record = {"action": "voxels", "entry": entry, "time": now(), "user": os_user(),
                  "voxels_added": int(added), "voxels_removed": int(removed),
                  "box": None if box is None else [list(map(int, p)) for p in box]}
        if relabelled:
            record["voxels_relabelled"] = int(relabelled)
        return self._append(record)

    def renamed(self, old: str, new: str) -> "ReviewLog":
        """Decisions and earlier records follow the entry to its new name."""
        decisions = {(new if k == old else k): v for k, v in self.decisions.items()}
        records = tuple({**r, "entry": new} if r.get("entry") == old else r for r in self.records)
        earlier = dict(self.earlier)
        if old in earlier.get("voxels", {}):
            earlier["voxels"] = {(new if k == old else k): v for k, v in earlier["voxels"].items()}
        log = ReviewLog(decisions, records, earlier)
        return log._append({"action": "rename", "entry": new, "from": old, "time": now(), "user": os_user()})

    def removed(self, entry: str) -> "ReviewLog":
        decisions = {k: v for k, v in self.decisions.items() if k != entry}
        return ReviewLog(decisions, self.records, self.earlier)._append(
            {"action": "remove", "entry": entry, "time": now(), "user": os_user()})

    def _append(self, record: dict[str, Any]) -> "ReviewLog":
        return ReviewLog(self.decisions, self.records + (record,), self.earlier)._bounded()

    def _bounded(self) -> "ReviewLog":
        """Fold the oldest records into ``earlier`` until the history fits its budget."""
        records, earlier = list(self.records), dict(self.earlier)
        fold = max(0, len(records) - MAX_RECORDS)
        while True:
            if fold:
                earlier = _fold(earlier, records[:fold])
                records = records[fold:]
            size = _size({"records": records, "earlier": earlier})
            if size <= KEY_BUDGET or not records:
                break
            fold = max(1, math.ceil(len(records) * (size - KEY_BUDGET) / size) + 1)
        return ReviewLog(self.decisions, tuple(records), earlier)

    # reading ------------------------------------------------------------------------------
    def history(self) -> list[dict[str, Any]]:
        """The records, oldest first; when older ones were folded, a first ``summary`` record says how many."""
        out = [dict(r) for r in self.records]
        if self.earlier:
            out.insert(0, {"action": "summary", **json.loads(json.dumps(self.earlier))})
        return out

    def voxel_totals(self) -> dict[str, tuple[int, int]]:
        """Per entry: voxels added and removed by every recorded edit since it was created (or
        last re-created after a removal), folded records included."""
        totals: dict[str, list[int]] = {k: list(v) for k, v in self.earlier.get("voxels", {}).items()}
        for r in self.records:
            if r["action"] == "voxels":
                t = totals.setdefault(r["entry"], [0, 0])
                t[0] += r["voxels_added"]
                t[1] += r["voxels_removed"]
            elif r["action"] == "remove":
                totals.pop(r["entry"], None)
        return {k: (a, b) for k, a, b in ((k, *v) for k, v in totals.items())}

    def to_head(self) -> dict[str, Any]:
        """The index head keys (absent when empty, never null)."""
        head: dict[str, Any] = {}
        if self.decisions:
            head["review"] = self.decisions
        if self.records or self.earlier:
            head["history"] = {"records": list(self.records), **({"earlier": self.earlier} if self.earlier else {})}
        return head


def _fold(earlier: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    out = {"count": earlier.get("count", 0) + len(records),
           "first": earlier.get("first", records[0]["time"]), "last": records[-1]["time"],
           "voxels": {k: list(v) for k, v in earlier.get("voxels", {}).items()}}
    for r in records:
        if r["action"] == "voxels":
            t = out["voxels"].setdefault(r["entry"], [0, 0])
            t[0] += r["voxels_added"]
            t[1] += r["voxels_removed"]
        elif r["action"] == "remove":
            out["voxels"].pop(r["entry"], None)
    return out


# reading what a file stores ------------------------------------------------------------------
def _text(v: Any) -> bool:
    return type(v) is str


def parse(head: dict[str, Any], names: list[str], path: str | None = None) -> ReviewLog:
    """The ReviewLog of an index head; FormatError naming what is malformed. Decisions of
    entries the file does not hold (a writer that dropped them) are ignored."""
    raw_review, raw_history = head.get("review", {}), head.get("history", {})
    if type(raw_review) is not dict:
        raise FormatError(f"index 'review' must be an object, got {raw_review!r:.80}", path)
    decisions = {}
    known = set(names)
    for entry, d in raw_review.items():
        if type(d) is not dict or d.get("status") not in STATUSES or not all(
                _text(d.get(k)) for k in ("reviewer", "time", "comment")):
            raise FormatError(f"index 'review' of entry {entry!r}: malformed decision {d!r:.120}", path)
        if entry in known:
            decisions[entry] = {k: d[k] for k in ("status", "reviewer", "time", "comment")}
    if type(raw_history) is not dict or type(raw_history.get("records", [])) is not list:
        raise FormatError(f"index 'history' must be an object with a 'records' list, got {raw_history!r:.80}", path)
    records = raw_history.get("records", [])
    for r in records:
        ok = type(r) is dict and r.get("action") in ACTIONS and _text(r.get("entry")) and _text(r.get("time"))
        if ok and r["action"] == "voxels":
            ok = all(type(r.get(k)) is int and r[k] >= 0 for k in ("voxels_added", "voxels_removed"))
        if not ok:
            raise FormatError(f"index 'history': malformed record {r!r:.120}", path)
    earlier = raw_history.get("earlier", {})
    voxels = earlier.get("voxels", {}) if type(earlier) is dict else None
    if type(voxels) is not dict or type(earlier.get("count", 0)) is not int or not all(
            type(v) is list and len(v) == 2 and all(type(x) is int for x in v) for v in voxels.values()):
        raise FormatError(f"index 'history': malformed 'earlier' summary {earlier!r:.120}", path)
    return ReviewLog(decisions, tuple(records), earlier)
