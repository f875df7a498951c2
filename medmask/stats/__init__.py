"""Numbers from masks at dataset scale: volumes, intensities, agreement.

``medmask.compute_stats(...)`` (also ``medmask.stats.compute_stats``) and
``medmask.compare(...)`` (``medmask.stats.compare``) return plain records (a list of
dicts), or a pandas DataFrame with ``frame=True``; ``to_frame`` and ``write_rows``
turn records into a DataFrame or a CSV/JSON/Parquet file.
"""
from __future__ import annotations

from .api import compute_stats
from .compare import compare
from .output import to_frame, write_rows

__all__ = ["compute_stats", "compare", "to_frame", "write_rows"]
