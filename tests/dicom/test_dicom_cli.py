"""``medmask convert`` / ``extract`` with DICOM-SEG, run as a user runs them (subprocess)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highdicom")

import pydicom  # noqa: E402
from dicom_helpers import make_series, skip_without_real_series  # noqa: E402
from test_dicom_seg import grid, masks  # noqa: E402

from medmask import MaskArchive, load_mask, save_mask  # noqa: E402
from medmask.convert.dicom_series import read_dicom_series, read_dicom_series_header  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def run(*args, ok=True):
    proc = subprocess.run([sys.executable, "-m", "medmask", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def one_line_error(proc, *fragments):
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("medmask"), proc.stderr
    for frag in fragments:
        assert frag in last, last


@pytest.fixture
def case(tmp_path):
    folder = tmp_path / "ct"
    make_series(folder, grid())
    series = read_dicom_series_header(folder)
    archive = tmp_path / "organs.mska"
    with MaskArchive(archive, "w", space=series.space) as a:
        for name, mask in masks(series.space):
            a.add_segmask(mask, name)
    return folder, series, archive


def test_archive_to_seg_and_back_is_exact(tmp_path, case):
    folder, series, archive = case
    seg = tmp_path / "organs.seg.dcm"
    proc = run("convert", archive, seg, "--series", folder, "--algorithm", "TotalSegmentator:2.4",
               "--series-description", "organs by TS")
    assert "wrote" in proc.stdout and "empty segment" in proc.stderr and "'nothing'" in proc.stderr
    ds = pydicom.dcmread(seg)
    assert ds.SeriesDescription == "organs by TS"
    assert ds.SegmentSequence[0].SegmentAlgorithmType == "AUTOMATIC"
    back = tmp_path / "back.mska"
    run("convert", seg, back)
    with MaskArchive(archive) as a, MaskArchive(back) as b:
        assert a.all_names() == b.all_names()
        assert a.space == b.space
        for name in a.all_names():
            ma, mb = a.load_segmask(name), b.load_segmask(name)
            assert ma.mapping == mb.mapping and ma.metadata == mb.metadata and ma.colors == mb.colors
            assert ma.dtype == mb.dtype and np.array_equal(ma.data, mb.data)
    # read onto the series: the archive records that series as its scan
    run("convert", seg, tmp_path / "on_ct.mska", "--series", folder)
    with MaskArchive(tmp_path / "on_ct.mska") as b:
        assert b.image_reference is not None and b.image_reference.path == "ct"
        assert b.space == series.space


def test_msk_and_extract_to_seg(tmp_path, case):
    folder, series, archive = case
    liver = dict(masks(series.space))["lobes"]
    save_mask(liver, tmp_path / "lobes.msk")
    run("convert", tmp_path / "lobes.msk", tmp_path / "lobes.seg.dcm", "--series", series.files[0], "--manual",
        "--seg-type", "labelmap")
    assert pydicom.dcmread(tmp_path / "lobes.seg.dcm").SegmentationType == "LABELMAP"
    run("convert", tmp_path / "lobes.seg.dcm", tmp_path / "lobes_back.msk")
    back = load_mask(tmp_path / "lobes_back.msk")
    assert back.mapping == liver.mapping and np.array_equal(back.data, liver.data)
    run("extract", archive, "tumor", "liver", "-o", tmp_path / "two.seg.dcm", "--series", folder)
    ds = pydicom.dcmread(tmp_path / "two.seg.dcm")
    assert [s.SegmentLabel for s in ds.SegmentSequence] == ["tumor", "liver"]


def test_cli_errors_are_one_line(tmp_path, case):
    folder, series, archive = case
    one_line_error(run("convert", archive, tmp_path / "x.seg.dcm", ok=False), "--series")
    other = tmp_path / "other"
    make_series(other, type(grid())(shape=(8, 14, 12), spacing=(2.0, 0.8, 0.7)))
    one_line_error(run("convert", archive, tmp_path / "x.seg.dcm", "--series", other, ok=False),
                   "not on the grid of the series", "spacing")
    one_line_error(run("convert", archive, tmp_path / "x.seg.dcm", "--series", folder, "--seg-type", "labelmap",
                       ok=False), "LABELMAP cannot hold overlapping")
    one_line_error(run("convert", archive, tmp_path / "x.nii.gz", "--manual", ok=False), "only apply to a DICOM-SEG")
    assert not (tmp_path / "x.seg.dcm").exists()


def test_real_ct_masks_from_nifti(tmp_path):
    folder = skip_without_real_series()
    from medmask import SegmentationMask
    from medmask.convert.nifti import save_nifti_mask

    hu, space = read_dicom_series(folder)
    nii = tmp_path / "masks"
    nii.mkdir()
    body = (hu > -500).astype(np.uint8)
    bone = (hu > 300).astype(np.uint8)
    save_nifti_mask(SegmentationMask(body, {"body": 1}, space=space), nii / "body.nii.gz")
    save_nifti_mask(SegmentationMask(bone, {"bone": 1}, space=space), nii / "bone.nii.gz")
    run("convert", nii, tmp_path / "ct.mska")
    run("convert", tmp_path / "ct.mska", tmp_path / "ct.seg.dcm", "--series", folder, "--algorithm", "threshold")
    run("convert", tmp_path / "ct.seg.dcm", tmp_path / "back.mska")
    with MaskArchive(tmp_path / "back.mska") as b:
        assert np.array_equal(b["body"].data, body) and np.array_equal(b["bone"].data, bone)
