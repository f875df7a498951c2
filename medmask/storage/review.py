"""Review decisions and edit history of a MaskArchive (the mixin MaskArchive inherits).

The data and its rules live in :mod:`medmask.format.review`; this module ties them to an open
handle: parsed when first used, changed with the handle's other pending edits, written and
rolled back with them (so concurrent editors follow the archive's conflict rules).
"""
from __future__ import annotations

import copy
from typing import Any

from ..core.segmask import SegmentationMask
from ..core.voxel_diff import voxel_change
from ..errors import ArchiveModeError, FormatError, MedMaskError
from ..format.review import ReviewLog, parse


class ReviewMixin:
    """``set_review`` / ``review`` / ``history`` for :class:`~medmask.storage.archive.MaskArchive`."""

    _review_raw: dict[str, Any]
    _log: ReviewLog | None

    def _load_review(self, raw: dict[str, Any]) -> None:
        """The 'review'/'history' index keys as read (parsed when first used)."""
        self._review_raw, self._log = raw, None

    def _review_log(self) -> ReviewLog:
        if self._log is None:
            self._log = parse(self._review_raw, list(self._entries), self.path)  # type: ignore[attr-defined]
        return self._log

    def _review_head(self) -> dict[str, Any]:
        """What the next write stores: the keys as read when nothing touched them."""
        return self._review_raw if self._log is None else self._log.to_head()

    @property
    def review(self) -> dict[str, dict[str, str]]:
        """``{entry: {"status", "reviewer", "time", "comment"}}``: the latest decision per entry
        (entries never reviewed, or cleared with ``"unreviewed"``, are absent). A copy."""
        self._check_open()  # type: ignore[attr-defined]
        return copy.deepcopy(self._review_log().decisions)

    @property
    def history(self) -> list[dict[str, Any]]:
        """Every recorded change, oldest first: ``action`` ``"voxels"`` (entry, time, user,
        voxels_added, voxels_removed, box), ``"rename"`` (from), ``"remove"``, ``"review"``
        (status, comment). When older records were folded to keep the file small, the first
        item is ``{"action": "summary", "count", "first", "last", "voxels"}``."""
        self._check_open()  # type: ignore[attr-defined]
        return self._review_log().history()

    def voxel_edits(self) -> dict[str, tuple[int, int]]:
        """Per entry: voxels added and removed by all recorded edits (entries never edited are absent)."""
        self._check_open()  # type: ignore[attr-defined]
        return self._review_log().voxel_totals()

    def set_review(self, entry: str, status: str, reviewer: str | None = None, comment: str = "") -> None:
        """Record a review decision on ``entry``: ``accepted``, ``needs_fix``, ``fixed``, ``rejected``,
        or ``unreviewed`` to clear it. ``reviewer`` defaults to the OS user. Written like any change
        (at once, or at the end of a ``with`` block); the previous decision stays in :attr:`history`."""
        self._check_writable()  # type: ignore[attr-defined]
        self._check_exists(entry)  # type: ignore[attr-defined]
        if self.format_version == 1:  # type: ignore[attr-defined]
            raise ArchiveModeError("format version 1 files cannot store review decisions; open with "
                                   "format_version=2 to upgrade the file", self.path)  # type: ignore[attr-defined]
        self._log = self._review_log().decide(entry, status, reviewer, comment, self.path)  # type: ignore[attr-defined]
        self._changed()  # type: ignore[attr-defined]

    # hooks MaskArchive calls before it changes an entry ----------------------------------------
    def _records_history(self) -> bool:
        """Whether edits are recorded: not in version-1 files (no place for them), and not over
        damaged review data, which is kept as it is rather than block the edit or be overwritten."""
        if self.format_version == 1:  # type: ignore[attr-defined]
            return False
        try:
            self._review_log()
        except FormatError:
            return False
        return True

    def _note_voxels(self, name: str, new: SegmentationMask) -> None:
        """``name`` (an existing entry) is about to hold ``new``: record what changes, if anything."""
        if not self._records_history():
            return
        try:
            old = self.load_segmask(name)  # type: ignore[attr-defined]
        except MedMaskError:  # a damaged entry being replaced: everything in the new one counts as added
            old = SegmentationMask.from_crop(None, None, {}, new.space, new.dtype)
        change = voxel_change(old, new)
        if change.box is not None:
            self._log = self._review_log().voxels_changed(name, change.added, change.removed, change.box,
                                                          change.relabelled)

    def _note_rename(self, old: str, new: str) -> None:
        if self._records_history() and old != new:
            self._log = self._review_log().renamed(old, new)

    def _note_remove(self, name: str) -> None:
        if self._records_history():
            self._log = self._review_log().removed(name)
