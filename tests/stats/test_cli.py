"""``medmask stats`` / ``medmask compare`` as a user runs them."""
from __future__ import annotations

import csv
import io
import json

import pytest

from medmask.cli import main

from .helpers import synthetic_archive


@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "case01.mska"
    synthetic_archive(path)
    return path


def test_stats_csv_on_stdout(archive, capsys):
    assert main(["stats", str(archive), "--nonempty"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["entry"] for r in rows} == {"liver", "liver_segments", "tumor", "ribs", "blob"}
    tumor = next(r for r in rows if r["entry"] == "tumor")
    assert int(tumor["voxels"]) == 4 * 6 * 6
    assert float(tumor["volume_ml"]) == pytest.approx(144 * 2.5 * 0.8 * 0.7 / 1000)


def test_stats_json_and_parquet_files(archive, tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["stats", str(archive), "--centroid", "-o", str(out)]) == 0
    rows = json.loads(out.read_text())
    empty = next(r for r in rows if r["entry"] == "empty")
    assert empty["voxels"] == 0 and empty["centroid_lps_x"] is None
    pytest.importorskip("pyarrow")
    import pandas as pd

    pq = tmp_path / "s.parquet"
    assert main(["stats", str(archive), "-o", str(pq)]) == 0
    frame = pd.read_parquet(pq)
    assert len(frame) == len(rows) and frame["voxels"].sum() == sum(r["voxels"] for r in rows)
    assert "wrote" in capsys.readouterr().err


def test_stats_errors_are_one_line(tmp_path, capsys):
    assert main(["stats", str(tmp_path / "missing.mska")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.mska: no such file" in err
    assert main(["stats", str(tmp_path), "--format", "parquet"]) == 1  # empty folder
    assert "holds no .mska" in capsys.readouterr().err


def test_compare_csv(archive, capsys):
    assert main(["compare", str(archive), str(archive), "--entries", "blob", "tumor"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["entry"], r["status"], r["dice"], r["hd95_mm"]) for r in rows] == [
        ("blob", "ok", "1.0", "0.0"), ("tumor", "ok", "1.0", "0.0")]
