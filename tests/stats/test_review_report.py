"""``medmask review --report`` on a generated dataset: one row per case x entry, and the summary line."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.cli import main
from tests.conftest import organ_masks


@pytest.fixture
def dataset(tmp_path):
    """Four cases: done, in progress (a fix), untouched, and one with a renamed + removed organ."""
    masks = organ_masks()
    space = masks["liver"].space
    root = tmp_path / "dataset"
    root.mkdir()
    paths = {}
    for case in ("s01", "s02", "s03", "s04"):
        paths[case] = root / f"{case}.mska"
        with MaskArchive(paths[case], "w", space=space) as a:
            a.add_segmasks(masks)
    with MaskArchive(paths["s01"], "a") as a:  # done: every non-empty entry decided
        for n in ("liver", "liver_segments", "ribs"):
            a.set_review(n, "accepted", reviewer="ann")
        a.set_review("tumor", "rejected", reviewer="ann", comment="a cyst, not a tumour")
    with MaskArchive(paths["s02"], "a") as a:  # in progress: a fixed liver, the rest open
        liver = a["liver"].data.copy()
        liver[2:4] = 0            # 2 slabs of 17 x 20 removed
        liver[14, 5:7, 5:8] = 1   # 6 added
        a.replace("liver", SegmentationMask(liver, {"liver": 1}, space=space))
        a.set_review("liver", "fixed", reviewer="bob")
        a.set_review("tumor", "needs_fix", reviewer="bob")
    with MaskArchive(paths["s04"], "a") as a:
        a.set_review("liver", "accepted", reviewer="ann")
        a.rename("liver", "hepar")
        a.remove("tumor")
    return root


def test_report_rows_and_summary(dataset, tmp_path, capsys):
    out = tmp_path / "review.csv"
    assert main(["review", str(dataset), "--report", str(out)]) == 0
    summary = capsys.readouterr().out.strip()
    assert summary == ("4 cases: 1 done, 2 in progress, 1 untouched; "
                       "organs: 4 accepted, 1 fixed, 1 rejected, 1 need a fix")
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 5 + 5 + 5 + 4  # case x entry
    assert list(rows[0]) == ["case", "entry", "status", "reviewer", "time", "comment", "voxels",
                             "voxels_added", "voxels_removed", "path"]
    by = {(r["case"], r["entry"]): r for r in rows}
    assert by["s01", "tumor"]["status"] == "rejected" and by["s01", "tumor"]["comment"] == "a cyst, not a tumour"
    assert by["s02", "liver"]["status"] == "fixed" and by["s02", "liver"]["reviewer"] == "bob"
    assert (by["s02", "liver"]["voxels_added"], by["s02", "liver"]["voxels_removed"]) == ("6", str(2 * 17 * 20))
    assert int(by["s02", "liver"]["voxels"]) == 10 * 17 * 20 - 2 * 17 * 20 + 6
    assert by["s03", "liver"]["status"] == "unreviewed" and by["s03", "liver"]["reviewer"] == ""
    assert by["s04", "hepar"]["status"] == "accepted" and ("s04", "tumor") not in by
    assert by["s01", "empty"]["status"] == "unreviewed"  # empty entries need no decision: s01 is done


def test_report_json_and_parquet_agree(dataset, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    assert main(["review", str(dataset / "*.mska"), "--report", str(tmp_path / "r.json")]) == 0
    assert main(["review", str(dataset / "s01.mska"), str(dataset / "s02.mska"),
                 "--report", str(tmp_path / "r.parquet")]) == 0
    rows = json.loads((tmp_path / "r.json").read_text())
    table = pq.read_table(tmp_path / "r.parquet").to_pylist()
    assert table == [r for r in rows if r["case"] in ("s01", "s02")]
    assert "2 cases: 1 done, 1 in progress, 0 untouched" in capsys.readouterr().out


def test_report_to_stdout_keeps_the_summary_off_the_csv(dataset, capsys):
    assert main(["review", str(dataset), "--report", "-"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("case,entry,status") and "cases:" in err


def test_no_archives_is_one_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["review", str(tmp_path / "empty"), "--report", "-"]) == 1
    assert "folder holds no .mska or .msk files" in capsys.readouterr().err


def test_interactive_mode_launches_napari_in_its_own_process(dataset, monkeypatch, capsys):
    import subprocess
    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    assert main(["review", str(dataset), "--reviewer", "dr.x"]) == 0
    (cmd,) = calls
    assert cmd[1:3] == ["-m", "napari_medmask.review_app"] and cmd[-2:] == ["--reviewer", "dr.x"]
    assert cmd[3:-2] == [str(dataset)]  # the queue is named from the inputs as given


def test_stats_review_joins_status_to_volumes(dataset, tmp_path):
    from medmask import compute_stats

    out = tmp_path / "livers.json"
    assert main(["stats", str(dataset), "--entries", "liver", "--review", "accepted", "fixed", "-o", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert [(r["case"], r["review_status"], r["reviewer"]) for r in rows] == [("s01", "accepted", "ann"),
                                                                          ("s02", "fixed", "bob")]
    assert rows[1]["voxels"] == 10 * 17 * 20 - 2 * 17 * 20 + 6
    every = compute_stats(dataset, entries=["tumor"], review=True)
    assert [(r["case"], r["review_status"]) for r in every] == [("s01", "rejected"), ("s02", "needs_fix"),
                                                                ("s03", "unreviewed")]


def test_report_with_the_original_says_how_much_reviewers_changed(dataset, tmp_path, capsys):
    masks = organ_masks()
    original = tmp_path / "original"
    original.mkdir()
    for case in ("s01", "s02", "s03", "s04"):
        with MaskArchive(original / f"{case}.mska", "w", space=masks["liver"].space) as a:
            a.add_segmasks(masks)
    out = tmp_path / "r.json"
    assert main(["review", str(dataset), "--report", str(out), "--original", str(original)]) == 0
    by = {(r["case"], r["entry"]): r for r in json.loads(out.read_text())}
    liver = by["s02", "liver"]
    kept = 8 * 17 * 20  # of the 10 x 17 x 20 original, 2 slabs removed, 6 voxels added
    assert liver["dice_vs_original"] == pytest.approx(2 * kept / (10 * 17 * 20 + kept + 6))
    assert liver["volume_diff_ml_vs_original"] < 0
    assert by["s01", "liver"]["dice_vs_original"] == 1.0 and by["s01", "ribs"]["dice_vs_original"] == 1.0
    assert by["s04", "hepar"]["dice_vs_original"] is None  # renamed: the original has no 'hepar'
    assert main(["review", str(dataset), str(dataset), "--report", "-", "--original", str(original)]) == 2
