"""stats/compare over many cases: -j / --dask give the serial rows; one bad case does not stop the run."""
from __future__ import annotations

import csv
import io
import shutil

import numpy as np
import pytest

import medmask
from medmask.cli import main
from medmask.stats.api import CaseSkippedWarning
from medmask.stats.parallel import chunks
from tests.conftest import oblique_space

from .helpers import synthetic_archive
from .test_intensity import write_ct


@pytest.fixture
def dataset(tmp_path):
    """Five archives (different seeds), each with its scan at scans/<case>/ct.nii."""
    root = tmp_path / "archives"
    root.mkdir()
    for i in range(5):
        synthetic_archive(root / f"c{i}.mska", seed=i)
        (tmp_path / "scans" / f"c{i}").mkdir(parents=True)
        write_ct(tmp_path / "scans" / f"c{i}" / "ct.nii", oblique_space(), scaled=False, seed=i)
    return root


def _template(dataset):
    return str(dataset.parent / "scans" / "{case}" / "ct.nii")


def test_chunks_cover_every_item_in_order():
    items = list(range(23))
    for workers in (1, 2, 3, 8, 40):
        parts = chunks(items, workers)
        assert [x for p in parts for x in p] == items and all(parts)
    assert chunks([], 4) == []


def test_workers_give_the_serial_rows(dataset):
    serial = medmask.compute_stats(dataset, image=_template(dataset), centroid=True)
    parallel = medmask.compute_stats(dataset, image=_template(dataset), centroid=True, workers=2)
    assert parallel == serial and {r["case"] for r in serial} == {f"c{i}" for i in range(5)}
    assert all(r["mean"] is not None for r in serial if r["voxels"])


def test_dask_executor_gives_the_serial_rows(dataset):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        rows = medmask.compute_stats(dataset, dask=cluster.scheduler_address)
        pairs = medmask.compare(dataset, dataset, dask=cluster.scheduler_address, surface=False)
    assert rows == medmask.compute_stats(dataset)
    assert pairs == medmask.compare(dataset, dataset, surface=False)


def test_compare_workers_give_the_serial_rows(dataset, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(dataset, other)
    synthetic_archive(other / "c2.mska", seed=99)  # one case really differs
    serial = medmask.compare(dataset, other)
    assert medmask.compare(dataset, other, workers=2) == serial
    assert any(r["dice"] is not None and r["dice"] < 1 for r in serial if r["case"] == "c2")


def test_a_missing_scan_skips_only_its_intensities(dataset, tmp_path):
    shutil.rmtree(dataset.parent / "scans" / "c3")
    with pytest.raises(medmask.MedMaskError, match="image not found"):
        medmask.compute_stats(dataset, image=_template(dataset))  # the API raises by default
    with pytest.warns(CaseSkippedWarning, match=r"c3\.mska: no intensities: .*c3/ct\.nii: image not found"):
        rows = medmask.compute_stats(dataset, image=_template(dataset), on_error="skip", workers=2)
    by_case = {}
    for r in rows:
        by_case.setdefault(r["case"], []).append(r)
    assert sorted(by_case) == [f"c{i}" for i in range(5)]
    assert all(r["mean"] is None and "image not found" in r["image_error"] for r in by_case["c3"])
    full = [r for c in ("c0", "c1", "c2", "c4") for r in by_case[c] if r["voxels"]]
    assert full and all(r["mean"] is not None and r["image_error"] is None for r in full)
    assert len({frozenset(r) for r in rows}) == 1  # every row has the same columns


def test_cli_finishes_the_run_lists_skipped_cases_and_exits_1(dataset, tmp_path, capsys):
    shutil.rmtree(dataset.parent / "scans" / "c1")
    (dataset / "c4.mska").write_bytes(b"not an archive at all" * 10)
    out = tmp_path / "hu.csv"
    assert main(["stats", str(dataset), "--image", _template(dataset), "-j", "2", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "c1.mska: no intensities" in err and "c4.mska: left out" in err
    assert "2 case(s) not fully measured (1 left out, 1 without intensities)" in err
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert {r["case"] for r in rows} == {"c0", "c1", "c2", "c3"}
    assert {r["mean"] for r in rows if r["case"] == "c1"} == {""}
    assert any(r["mean"] for r in rows if r["case"] == "c2")
    assert main(["stats", str(dataset), "--image", _template(dataset), "--fail-fast", "-o", str(out)]) == 1
    assert "error:" in capsys.readouterr().err


def test_one_scan_for_many_cases_is_refused_before_any_work(dataset, capsys):
    assert main(["stats", str(dataset), "--image", str(dataset.parent / "scans" / "c0" / "ct.nii")]) == 1
    assert "one image for 5 cases" in capsys.readouterr().err


def test_centroid_columns_follow_the_flag_only(tmp_path):
    path = tmp_path / "ml.mska"
    synthetic_archive(path)  # holds multi-label entries, whose per-label boxes decode the crop
    rows = medmask.compute_stats(path)
    assert any(r["entry"] == "liver_segments" and r["voxels"] for r in rows)
    assert not any(k.startswith("centroid") for r in rows for k in r)
    with_c = medmask.compute_stats(path, centroid=True)
    assert all("centroid_lps_x" in r for r in with_c)
    assert np.isfinite([r["centroid_lps_x"] for r in with_c if r["voxels"]]).all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_filter_that_keeps_no_row_writes_the_header(tmp_path, fmt):
    path = tmp_path / "c.mska"
    synthetic_archive(path)
    out = tmp_path / f"none.{fmt}"
    assert main(["stats", str(path), "--entries", "empty", "--nonempty", "--centroid", "-o", str(out)]) == 0
    if fmt == "csv":
        assert out.read_text().strip().split(",")[-1] == "centroid_lps_z"
    else:
        pd = pytest.importorskip("pandas")
        frame = pd.read_parquet(out)
        assert len(frame) == 0 and "centroid_lps_x" in frame.columns
