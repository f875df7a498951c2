"""Review decisions and edit history of an archive, as stored in its index (docs/format.md, "Review").

Two optional top-level keys of the index head (a 2.x reader that does not know them ignores
them, so files carrying them still open with medmask 0.3-0.5):

* ``review``: ``{entry: {"status", "reviewer", "time", "comment"}}``, the latest decision per
  entry (earlier ones are history records);
* ``review_labels``: ``{entry: {label: decision}}``, decisions on single labels (organs) of
  multi-label entries; a label's own decision wins over its entry's;
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
HEAD_KEYS = ("review", "history", "review_labels")
LABEL_SEP = "/"  # "total/liver": label liver of multi-label entry total, in flat views


def review_key(entry: str, label: str | None = None) -> str:
    """The flat key of a decision: ``entry``, or ``entry/label`` for one label of a multi-label entry."""
    return f"{entry}{LABEL_SEP}{label}" if label else entry


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
    labels: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)  # {entry: {label: decision}}

    @property
    def empty(self) -> bool:
        return not (self.decisions or self.records or self.earlier or self.labels)

    def flat(self) -> dict[str, dict[str, str]]:
        """Entry decisions, then label decisions keyed ``entry/label`` (an entry of that very
        name keeps its key: the label's decision is then only in :attr:`labels`)."""
        out = dict(self.decisions)
        for entry, per in self.labels.items():
            for label, d in per.items():
                out.setdefault(review_key(entry, label), d)
        return out

    def _with(self, **changes) -> "ReviewLog":
        fields = {"decisions": self.decisions, "records": self.records, "earlier": self.earlier,
                  "labels": self.labels, **changes}
        return ReviewLog(**fields)

    # changes ----------------------------------------------------------------------------
    def decide(self, entry: str, status: str, reviewer: str | None, comment: str,
               path: str | None = None, label: str | None = None) -> "ReviewLog":
        """A decision on ``entry``, or with ``label`` on that label of it (a multi-label entry)."""
        if status not in STATUSES and status != CLEAR:
            raise MedMaskError(f"review status must be one of {STATUSES + (CLEAR,)}, got {status!r}", path)
        if not isinstance(comment, str):
            raise MedMaskError(f"review comment must be text, got {type(comment).__name__}", path)
        if len(comment) > MAX_COMMENT:
            raise MedMaskError(f"review comment of {review_key(entry, label)!r} is {len(comment)} characters, more than "
                               f"{MAX_COMMENT}", path)
        if reviewer is not None and (not isinstance(reviewer, str) or not reviewer.strip()):
            raise MedMaskError(f"reviewer must be a non-empty name or None (the OS user), got {reviewer!r}", path)
        reviewer = reviewer or os_user()
        time = now()
        decisions, labels = dict(self.decisions), {k: dict(v) for k, v in self.labels.items()}
        where = labels.setdefault(entry, {}) if label else decisions
        key = label if label else entry
        if status == CLEAR:
            where.pop(key, None)
        else:
            where[key] = {"status": status, "reviewer": reviewer, "time": time, "comment": comment}
        labels = {k: v for k, v in labels.items() if v}
        record = {"action": "review", "entry": entry, "time": time, "user": reviewer, "status": status}
        if label:
            record["label"] = label
        if comment:
            record["comment"] = comment
        log = self._with(decisions=decisions, labels=labels)._append(record)
        for value in (log.decisions, log.labels):
            if _size(value) > KEY_BUDGET:
                raise LimitError(f"the review decisions would take {_size(value)} bytes in the index, more "
                                 f"than {KEY_BUDGET} (older medmask versions refuse bigger unknown keys): "
                                 f"shorten the comments", path)
        return log

    def voxels_changed(self, entry: str, added: int, removed: int, box, relabelled: int = 0,
                       per_label: dict[str, tuple[int, int]] | None = None) -> "ReviewLog":
        """``per_label`` (multi-label entries): ``{label: (added, removed)}`` of each label that changed."""
        record = {"action": "voxels", "entry": entry, "time": now(), "user": os_user(),
                  "voxels_added": int(added), "voxels_removed": int(removed),
                  "box": None if box is None else [list(map(int, p)) for p in box]}
        if relabelled:
            record["voxels_relabelled"] = int(relabelled)
        if per_label:
            record["labels"] = {k: [int(a), int(r)] for k, (a, r) in per_label.items()}
        return self._append(record)

    def labels_kept(self, entry: str, labels) -> "ReviewLog":
        """Label decisions of ``entry`` for labels it no longer has are dropped (the organ is gone)."""
        per = self.labels.get(entry)
        if not per or set(per) <= set(labels):
            return self
        kept = {k: v for k, v in per.items() if k in set(labels)}
        new = {k: v for k, v in self.labels.items() if k != entry}
        if kept:
            new[entry] = kept
        return self._with(labels=new)

    def renamed(self, old: str, new: str) -> "ReviewLog":
        """Decisions and earlier records follow the entry to its new name."""
        decisions = {(new if k == old else k): v for k, v in self.decisions.items()}
        labels = {(new if k == old else k): v for k, v in self.labels.items()}
        records = tuple({**r, "entry": new} if r.get("entry") == old else r for r in self.records)
        earlier = dict(self.earlier)
        for key in ("voxels", "label_voxels"):
            if old in earlier.get(key, {}):
                earlier[key] = {(new if k == old else k): v for k, v in earlier[key].items()}
        log = self._with(decisions=decisions, records=records, earlier=earlier, labels=labels)
        return log._append({"action": "rename", "entry": new, "from": old, "time": now(), "user": os_user()})

    def removed(self, entry: str) -> "ReviewLog":
        decisions = {k: v for k, v in self.decisions.items() if k != entry}
        labels = {k: v for k, v in self.labels.items() if k != entry}
        return self._with(decisions=decisions, labels=labels)._append(
            {"action": "remove", "entry": entry, "time": now(), "user": os_user()})

    def _append(self, record: dict[str, Any]) -> "ReviewLog":
        return self._with(records=self.records + (record,))._bounded()

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
        return self._with(records=tuple(records), earlier=earlier)

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

    def label_voxel_totals(self) -> dict[tuple[str, str], tuple[int, int]]:
        """Per (entry, label) of multi-label entries: voxels added and removed, as :meth:`voxel_totals`."""
        totals: dict[tuple[str, str], list[int]] = {
            (e, lab): list(v) for e, per in self.earlier.get("label_voxels", {}).items() for lab, v in per.items()}
        for r in self.records:
            if r["action"] == "voxels":
                for lab, (a, b) in (r.get("labels") or {}).items():
                    t = totals.setdefault((r["entry"], lab), [0, 0])
                    t[0] += a
                    t[1] += b
            elif r["action"] == "remove":
                totals = {k: v for k, v in totals.items() if k[0] != r["entry"]}
        return {k: (v[0], v[1]) for k, v in totals.items()}

    def to_head(self) -> dict[str, Any]:
        """The index head keys (absent when empty, never null)."""
        head: dict[str, Any] = {}
        if self.decisions:
            head["review"] = self.decisions
        if self.records or self.earlier:
            head["history"] = {"records": list(self.records), **({"earlier": self.earlier} if self.earlier else {})}
        if self.labels:
            head["review_labels"] = self.labels
        return head


def _fold(earlier: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
    out = {"count": earlier.get("count", 0) + len(records),
           "first": earlier.get("first", records[0]["time"]), "last": records[-1]["time"],
           "voxels": {k: list(v) for k, v in earlier.get("voxels", {}).items()}}
    per_label = {e: {lab: list(v) for lab, v in per.items()} for e, per in earlier.get("label_voxels", {}).items()}
    for r in records:
        if r["action"] == "voxels":
            t = out["voxels"].setdefault(r["entry"], [0, 0])
            t[0] += r["voxels_added"]
            t[1] += r["voxels_removed"]
            for lab, (a, b) in (r.get("labels") or {}).items():
                t = per_label.setdefault(r["entry"], {}).setdefault(lab, [0, 0])
                t[0] += a
                t[1] += b
        elif r["action"] == "remove":
            out["voxels"].pop(r["entry"], None)
            per_label.pop(r["entry"], None)
    if per_label:
        out["label_voxels"] = per_label
    return out


# reading what a file stores ------------------------------------------------------------------
def _text(v: Any) -> bool:
    return type(v) is str


def _decision(d: Any) -> bool:
    return type(d) is dict and d.get("status") in STATUSES and all(
        _text(d.get(k)) for k in ("reviewer", "time", "comment"))


def _pair(v: Any) -> bool:
    return type(v) is list and len(v) == 2 and all(type(x) is int and x >= 0 for x in v)


def parse(head: dict[str, Any], names: list[str], path: str | None = None) -> ReviewLog:
    """The ReviewLog of an index head; FormatError naming what is malformed. Decisions of
    entries the file does not hold (a writer that dropped them) are ignored."""
    raw_review, raw_history = head.get("review", {}), head.get("history", {})
    raw_labels = head.get("review_labels", {})
    if type(raw_review) is not dict:
        raise FormatError(f"index 'review' must be an object, got {raw_review!r:.80}", path)
    decisions = {}
    known = set(names)
    for entry, d in raw_review.items():
        if not _decision(d):
            raise FormatError(f"index 'review' of entry {entry!r}: malformed decision {d!r:.120}", path)
        if entry in known:
            decisions[entry] = {k: d[k] for k in ("status", "reviewer", "time", "comment")}
    if type(raw_labels) is not dict or not all(type(v) is dict for v in raw_labels.values()):
        raise FormatError(f"index 'review_labels' must map entries to {{label: decision}}, got {raw_labels!r:.80}",
                          path)
    labels: dict[str, dict[str, dict[str, str]]] = {}
    for entry, per in raw_labels.items():
        for label, d in per.items():
            if not _decision(d):
                raise FormatError(f"index 'review_labels' of {review_key(entry, label)!r}: malformed decision "
                                  f"{d!r:.120}", path)
            if entry in known:
                labels.setdefault(entry, {})[label] = {k: d[k] for k in ("status", "reviewer", "time", "comment")}
    if type(raw_history) is not dict or type(raw_history.get("records", [])) is not list:
        raise FormatError(f"index 'history' must be an object with a 'records' list, got {raw_history!r:.80}", path)
    records = raw_history.get("records", [])
    for r in records:
        ok = type(r) is dict and r.get("action") in ACTIONS and _text(r.get("entry")) and _text(r.get("time"))
        if ok and r["action"] == "voxels":
            ok = all(type(r.get(k)) is int and r[k] >= 0 for k in ("voxels_added", "voxels_removed")) and (
                type(r.get("labels", {})) is dict and all(_pair(v) for v in r.get("labels", {}).values()))
        if not ok:
            raise FormatError(f"index 'history': malformed record {r!r:.120}", path)
    earlier = raw_history.get("earlier", {})
    voxels = earlier.get("voxels", {}) if type(earlier) is dict else None
    per_label = earlier.get("label_voxels", {}) if type(earlier) is dict else None
    if type(voxels) is not dict or type(earlier.get("count", 0)) is not int or not all(
            type(v) is list and len(v) == 2 and all(type(x) is int for x in v) for v in voxels.values()) or \
            type(per_label) is not dict or not all(
                type(v) is dict and all(_pair(x) for x in v.values()) for v in per_label.values()):
        raise FormatError(f"index 'history': malformed 'earlier' summary {earlier!r:.120}", path)
    return ReviewLog(decisions, tuple(records), earlier, labels)
