"""Rows out: CSV/JSON/Parquet writers and the DataFrame."""
from __future__ import annotations

import csv
import io
import json
import math

import pytest

from medmask.errors import MedMaskError
from medmask.stats.output import columns_of, format_for, to_csv_text, to_frame, to_json_text, write_rows

ROWS = [{"case": "a", "entry": "liver", "voxels": 3, "volume_ml": 0.1 + 0.2, "mean": None},
        {"case": "b", "entry": "liver", "voxels": 0, "volume_ml": 0.0, "mean": float("nan"), "extra": "x"}]


def test_csv_keeps_floats_exact_and_none_empty():
    rows = list(csv.reader(io.StringIO(to_csv_text(ROWS))))
    assert rows[0] == ["case", "entry", "voxels", "volume_ml", "mean", "extra"]
    assert rows[1] == ["a", "liver", "3", repr(0.1 + 0.2), "", ""]
    assert float(rows[1][3]) == 0.1 + 0.2
    assert rows[2][-1] == "x"


def test_json_nan_becomes_null():
    back = json.loads(to_json_text(ROWS))
    assert back[0]["volume_ml"] == 0.1 + 0.2 and back[1]["mean"] is None
    assert json.loads(to_json_text([])) == []


def test_formats_and_files(tmp_path):
    assert format_for("x.JSON", None) == "json" and format_for("x.pq", None) == "parquet"
    assert format_for(None, None) == "csv"
    with pytest.raises(MedMaskError, match="unknown output format"):
        format_for("x", "xlsx")
    with pytest.raises(MedMaskError, match="Parquet is binary"):
        write_rows(ROWS, None, "parquet")
    write_rows(ROWS[:1], tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().startswith("case,entry")
    assert columns_of(ROWS) == ["case", "entry", "voxels", "volume_ml", "mean", "extra"]
    frame = to_frame(ROWS)
    assert list(frame.columns) == columns_of(ROWS) and math.isnan(frame["mean"][1])
