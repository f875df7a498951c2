"""Qt-free state of the "MedMask review" dock: the queue of cases, where each stands, the next one read ahead.

The queue is a list of archives (``medmask.review.queue_states``). While one case is reviewed the
next one (scan and composite organ layer, as the reader makes them) is read in a background
thread, so moving on costs only adding the layers. Decisions are written through the archive
dock's handle of the current case (one handle per file, so its save and our decisions never
conflict with each other), and the case's state is re-read from the file after every change.
"""
from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from medmask.review import CaseState, case_state
from medmask.review.cases import first_open

__all__ = ["ReviewQueue", "STATUS_KEYS", "STATUS_MARKS"]

# key -> status, in the dock's order
STATUS_KEYS = {"a": "accepted", "f": "needs_fix", "r": "rejected"}
STATUS_MARKS = {"accepted": "✓ accepted", "fixed": "✓ fixed", "needs_fix": "✎ needs fix",
                "rejected": "✗ rejected"}

Reader = Callable[[str], list]


def _read_case(path: str) -> list:
    from ._reader import read_archive_path

    return read_archive_path(path)


class ReviewQueue:
    """The cases, the current one, and the read-ahead of the next.

    ``reader(path)`` returns the layer data of a case (default: the plugin's reader, scan included).
    """

    def __init__(self, paths: list[str], *, reviewer: str | None = None, reader: Reader = _read_case,
                 states: list[CaseState] | None = None):
        self.states = states if states is not None else [case_state(p) for p in paths]
        self.paths = [os.path.abspath(str(s.path)) for s in self.states]
        self.reviewer = reviewer
        self.index = first_open(self.states) if self.states else -1
        self._reader = reader
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="medmask-review-read")
        self._ahead: dict[int, Future] = {}

    def __len__(self) -> int:
        return len(self.states)

    @property
    def current(self) -> CaseState | None:
        return self.states[self.index] if 0 <= self.index < len(self.states) else None

    @property
    def path(self) -> str | None:
        return self.paths[self.index] if self.current is not None else None

    # reading ahead ----------------------------------------------------------------------------
    def read_ahead(self, index: int) -> None:
        """Start reading case ``index`` in the background (once)."""
        if 0 <= index < len(self.paths) and index not in self._ahead:
            self._ahead[index] = self._pool.submit(self._reader, self.paths[index])

    def layers(self, index: int) -> list:
        """The layer data of case ``index``: what was read ahead, or read now. Raises what the read raised."""
        self.read_ahead(index)
        future = self._ahead.pop(index)
        return future.result()

    def forget(self, index: int) -> None:
        """Drop a read-ahead (its file may change: a case left is re-read when it comes back)."""
        future = self._ahead.pop(index, None)
        if future is not None:
            future.cancel()

    def keep_only(self, index: int) -> None:
        """Drop every read-ahead but that of case ``index``."""
        for i in [i for i in self._ahead if i != index]:
            self.forget(i)

    def neighbour(self, step: int) -> int | None:
        i = self.index + step
        return i if 0 <= i < len(self.states) else None

    def next_open(self) -> int | None:
        """The next case after the current one that is not done (wrapping), else None."""
        n = len(self.states)
        for k in range(1, n + 1):
            i = (self.index + k) % n
            if self.states[i].state != "done":
                return i
        return None

    # state --------------------------------------------------------------------------------------
    def refresh(self, index: int | None = None) -> CaseState:
        """Re-read a case's state from its file (after a decision or a save)."""
        i = self.index if index is None else index
        self.states[i] = case_state(self.paths[i], self.states[i].case)
        return self.states[i]

    def decide(self, archive, entry: str, status: str, comment: str = "") -> None:
        """Store a decision through ``archive`` (the open handle of the current case), then refresh."""
        archive.set_review(entry, status, reviewer=self.reviewer, comment=comment)
        self.refresh()

    def mark_fixed(self, archive, saved: list[str]) -> list[str]:
        """Entries just saved that were marked ``needs_fix`` (or undecided) become ``fixed``."""
        review = archive.review
        fixed = [n for n in saved if review.get(n, {}).get("status") in (None, "needs_fix")]
        if fixed:
            with archive:
                for n in fixed:
                    archive.set_review(n, "fixed", reviewer=self.reviewer, comment=review.get(n, {}).get("comment", ""))
            self.refresh()
        return fixed

    def progress(self) -> str:
        done = sum(s.state == "done" for s in self.states)
        started = sum(s.state == "started" for s in self.states)
        return f"{done} of {len(self.states)} cases done, {started} in progress"

    def label(self, index: int) -> str:
        s = self.states[index]
        todo = len(s.to_review)
        return f"{s.mark} {s.case}  ({s.decided}/{todo})"

    def close(self) -> None:
        for i in list(self._ahead):
            self.forget(i)
        self._pool.shutdown(wait=False, cancel_futures=True)
