"""Reviewing a dataset of archives: the queue's state per case and the report (``medmask review``).

The decisions and edit history themselves live in each archive (``MaskArchive.set_review``,
``.review``, ``.history``); this package reads them across many archives. No napari here: the
interactive review is ``napari_medmask.review_app``.
"""
from .cases import CaseState, case_state, queue_states
from .report import report_rows, summary_line

__all__ = ["CaseState", "case_state", "queue_states", "report_rows", "summary_line"]
