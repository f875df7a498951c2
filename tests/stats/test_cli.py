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


def test_stats_with_image_cli(archive, tmp_path, capsys):
    from tests.conftest import oblique_space

    from .test_intensity import nibabel_values, write_ct

    ct = write_ct(tmp_path / "ct.nii.gz", oblique_space(), scaled=True)
    assert main(["stats", str(archive), "--image", str(ct), "--entries", "tumor", "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["mean"] == pytest.approx(nibabel_values(ct)[5:9, 8:14, 10:16].mean())


def test_compare_plot_png(archive, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from medmask import MaskArchive, SegmentationMask
    import numpy as np

    other = tmp_path / "other.mska"
    import shutil

    shutil.copy(archive, other)
    with MaskArchive(other, "a") as a:
        blob = a["blob"].data.copy()
        blob[:10] = False
        a["blob"] = SegmentationMask(blob, {"blob": 1}, space=a.space)
    png = tmp_path / "cmp.png"
    assert main(["compare", str(archive), str(other), "--plot", str(png), "-o", str(tmp_path / "c.csv")]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    from matplotlib.image import imread

    pixels = imread(str(png))
    assert pixels.shape[0] > 300 and pixels.shape[1] == 1200
    rows = list(csv.DictReader(io.StringIO((tmp_path / "c.csv").read_text())))
    assert float(next(r for r in rows if r["entry"] == "blob")["dice"]) < 1
    # nothing comparable: one clear error, no file
    empty = tmp_path / "e.png"
    assert main(["compare", str(archive), str(archive), "--entries", "empty", "--plot", str(empty)]) == 1
    assert "nothing to plot" in capsys.readouterr().err and not empty.exists()
