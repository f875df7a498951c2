"""Rows out: CSV, JSON, Parquet (pyarrow), pandas; written atomically."""
from __future__ import annotations

import csv
import io
import json
import math
import operator
import os
from typing import Any, Sequence

from ..errors import MedMaskError

FORMATS = ("csv", "json", "parquet")


def columns_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Columns in first-seen order (rows of one run share them; a mixed run gets their union)."""
    if not rows:
        return []
    seen = dict.fromkeys(rows[0])
    keys = seen.keys()
    for row in rows:
        if row.keys() != keys:  # set comparison in C: rows of one run rarely differ
            for k in row:
                seen.setdefault(k, None)
            keys = seen.keys()
    return list(seen)


def format_for(path: str | None, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise MedMaskError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    if path:
        lower = path.lower()
        if lower.endswith(".json"):
            return "json"
        if lower.endswith((".parquet", ".pq")):
            return "parquet"
    return "csv"


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def to_csv_text(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV with a header (``columns`` when no row says them); None is an empty cell, floats exact (repr)."""
    buf = io.StringIO()
    cols = columns_of(rows) or list(columns or [])
    writer = csv.writer(buf, lineterminator="\n")  # the csv module writes None as '' and floats by repr()
    writer.writerow(cols)
    if not rows:
        return buf.getvalue() if cols else ""
    pick = operator.itemgetter(*cols)
    try:
        writer.writerows(map(pick, rows) if len(cols) > 1 else ((pick(r),) for r in rows))
    except KeyError:  # rows of mixed columns: missing ones are empty cells
        buf.seek(0)
        buf.truncate()
        writer.writerow(cols)
        writer.writerows([r.get(c) for c in cols] for r in rows)
    return buf.getvalue()


def to_json_text(rows: Sequence[dict[str, Any]]) -> str:
    """A JSON array, one record per line; NaN/inf (never produced, but possible in foreign rows) as null."""
    dumps = json.JSONEncoder(allow_nan=False, ensure_ascii=False).encode
    try:
        lines = [dumps(r) for r in rows]
    except ValueError:
        lines = [dumps({k: _json_value(v) for k, v in r.items()}) for r in rows]
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def to_parquet_bytes(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise MedMaskError("Parquet output needs pyarrow: pip install pyarrow (or write .csv / .json)") from None
    cols = columns_of(rows) or list(columns or [])
    table = (pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in rows]) if rows
             else pa.table({c: pa.array([], pa.null()) for c in cols}))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def write_rows(rows: Sequence[dict[str, Any]], path: str | os.PathLike | None, fmt: str | None = None,
               stdout=None, columns: Sequence[str] | None = None) -> str:
    """Write rows to ``path`` (atomically) or to ``stdout`` when path is None or '-'; returns the format.

    ``columns``: the header of a table without rows (a filter that kept nothing)."""
    from ..storage.atomic import atomic_write

    target = None if path in (None, "-") else os.fspath(path)  # type: ignore[arg-type]
    kind = format_for(target, fmt)
    if kind == "parquet":
        if target is None:
            raise MedMaskError("Parquet is binary: give an output file with -o")
        data = to_parquet_bytes(rows, columns)
    else:
        text = to_csv_text(rows, columns) if kind == "csv" else to_json_text(rows)
        if target is None:
            (stdout or __import__("sys").stdout).write(text)
            return kind
        data = text.encode("utf-8")
    with atomic_write(target) as f:
        f.write(data)
    return kind


def to_frame(rows: Sequence[dict[str, Any]]):
    """A pandas DataFrame of the rows (columns in row order, missing values as NaN/None)."""
    try:
        import pandas as pd
    except ImportError:
        raise MedMaskError("a DataFrame needs pandas: pip install pandas (or use the plain records)") from None
    return pd.DataFrame.from_records(list(rows), columns=columns_of(rows))
