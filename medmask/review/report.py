"""``medmask review --report``: one row per case x entry, and the one-line summary."""
from __future__ import annotations

from collections import Counter
from typing import Any

from .cases import CaseState


def report_rows(states: list[CaseState]) -> list[dict[str, Any]]:
    """case, entry, status (``unreviewed`` when none), reviewer, time, comment, voxels now, voxels
    added / removed by all recorded edits since the archive was made, the archive's path."""
    rows = []
    for s in states:
        for entry in s.entries:
            d = s.review.get(entry, {})
            added, removed = s.edits.get(entry, (0, 0))
            rows.append({"case": s.case, "entry": entry, "status": d.get("status", "unreviewed"),
                         "reviewer": d.get("reviewer"), "time": d.get("time"), "comment": d.get("comment"),
                         "voxels": s.voxels.get(entry, 0), "voxels_added": added, "voxels_removed": removed,
                         "path": str(s.path)})
    return rows


def join_comparison(rows: list[dict[str, Any]], compared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``dice_vs_original`` and ``volume_diff_ml_vs_original`` (reviewed minus original) from
    ``medmask.compare(original, reviewed)`` rows: how much reviewers changed each organ. A multi-label
    entry gets the mean Dice of its labels and the sum of their volume changes; an entry the original
    lacks gets None."""
    by_entry: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in compared:
        if r.get("entry") is not None:
            by_entry.setdefault((r["case"], r["entry"]), []).append(r)
    for row in rows:
        labels = by_entry.get((row["case"], row["entry"]), [])
        dice = [r["dice"] for r in labels if r["dice"] is not None]
        diffs = [r["volume_diff_ml"] for r in labels if r["volume_diff_ml"] is not None]
        row["dice_vs_original"] = sum(dice) / len(dice) if dice else None
        row["volume_diff_ml_vs_original"] = sum(diffs) if diffs else None
    return rows


def summary_line(states: list[CaseState]) -> str:
    """``12 cases: 5 done, 3 in progress, 4 untouched; organs: 340 accepted, 12 fixed, 3 rejected, 2 need a fix``."""
    cases = Counter(s.state for s in states)
    organs = Counter(d["status"] for s in states for d in s.review.values())
    return (f"{len(states)} cases: {cases['done']} done, {cases['started']} in progress, "
            f"{cases['untouched']} untouched; organs: {organs['accepted']} accepted, {organs['fixed']} fixed, "
            f"{organs['rejected']} rejected, {organs['needs_fix']} need a fix")
