"""`medmask convert --image`, automatic TotalSegmentator scans, `batch` and `info`, as a user runs them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medmask import MaskArchive
from medmask.convert import convert
from medmask.convert.image_io import read_image_header
from medmask.convert.image_link import ImageNotRecordedWarning
from medmask.errors import ConversionError, GeometryError

REPO = Path(__file__).resolve().parents[2]
AFFINE = np.array([[-0.8, 0.1, 0.0, 90.5], [0.1, 0.8, 0.0, -30.25], [0.0, 0.0, 2.5, 410.0], [0, 0, 0, 1.0]])


def run(*args, cwd, ok=True):
    proc = subprocess.run([sys.executable, "-m", "medmask", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def make_case(root: Path, name: str = "s0001", *, shift_ct: float = 0.0) -> Path:
    """TotalSegmentator layout: <case>/ct.nii.gz + <case>/segmentations/*.nii.gz on one grid."""
    seg = root / name / "segmentations"
    seg.mkdir(parents=True)
    shape = (24, 20, 12)
    ct = np.full(shape, -1000, np.int16)
    ct[5:15, 5:15, 2:10] = 300
    aff = AFFINE.copy()
    aff[:3, 3] += shift_ct
    nib.save(nib.Nifti1Image(ct, aff), str(root / name / "ct.nii.gz"))
    liver = np.zeros(shape, np.uint8)
    liver[5:15, 5:15, 2:10] = 1
    nib.save(nib.Nifti1Image(liver, AFFINE), str(seg / "liver.nii.gz"))
    nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8), AFFINE), str(seg / "spleen.nii.gz"))
    return root / name


@pytest.mark.slow
def test_convert_records_the_given_scan_relative_to_the_archive(tmp_path):
    case = make_case(tmp_path)
    (case / "ct.nii.gz").rename(case / "image.nii.gz")
    out = tmp_path / "archives" / "s0001.mska"
    proc = run("convert", case / "segmentations", out, "--image", case / "image.nii.gz", cwd=tmp_path)
    assert "scan: ../s0001/image.nii.gz" in proc.stdout
    with MaskArchive(out) as a:
        ref = a.image_reference
        assert ref.path == "../s0001/image.nii.gz"
        assert ref.resolve(out) == case / "image.nii.gz"
        assert ref.matches(read_image_header(case / "image.nii.gz")) and ref.matches(a.space)
    info = run("info", out, cwd=tmp_path).stdout
    assert "scan              ../s0001/image.nii.gz  (found, grid matches)" in info
    data = json.loads(run("info", "--json", out, cwd=tmp_path).stdout)
    assert data["image"]["path"] == "../s0001/image.nii.gz" and data["image"]["ok"] is True
    assert data["image"]["fingerprint"]["shape"] == [12, 20, 24]


@pytest.mark.slow
def test_totalseg_layout_is_recorded_automatically_and_can_be_declined(tmp_path):
    case = make_case(tmp_path)
    run("convert", "s0001/segmentations", "s0001/organs.mska", cwd=tmp_path)
    with MaskArchive(case / "organs.mska") as a:
        assert a.image_reference.path == "ct.nii.gz"
    run("convert", "s0001/segmentations", "s0001/plain.mska", "--no-image", cwd=tmp_path)
    with MaskArchive(case / "plain.mska") as a:
        assert a.image_reference is None


@pytest.mark.slow
def test_a_scan_on_another_grid_is_refused_unless_forced(tmp_path):
    case = make_case(tmp_path, shift_ct=4.0)
    proc = run("convert", case / "segmentations", tmp_path / "o.mska", "--image", case / "ct.nii.gz",
               cwd=tmp_path, ok=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    err = proc.stderr.strip().splitlines()[-1]
    assert "not on the masks' grid" in err and "origin" in err and "--force-image" in err
    assert not (tmp_path / "o.mska").exists()
    proc = run("convert", case / "segmentations", tmp_path / "o.mska", "--image", case / "ct.nii.gz",
               "--force-image", cwd=tmp_path)
    assert "recorded anyway" in proc.stderr
    with MaskArchive(tmp_path / "o.mska") as a:
        assert a.image_reference is not None and not a.image_reference.matches(a.space)
    info = run("info", tmp_path / "o.mska", cwd=tmp_path).stdout
    assert "found, grid matches" in info  # the file is the one recorded, forced or not
    # automatic detection does not fail the conversion: it leaves the scan out and says why
    with pytest.warns(ImageNotRecordedWarning, match="not on the masks' grid"):
        convert(case / "segmentations", tmp_path / "auto.mska")
    with MaskArchive(tmp_path / "auto.mska") as a:
        assert a.image_reference is None and "liver" in a


@pytest.mark.slow
def test_image_option_errors(tmp_path):
    case = make_case(tmp_path)
    proc = run("convert", case / "segmentations", tmp_path / "o.mska", "--image", tmp_path / "nope.nii.gz",
               cwd=tmp_path, ok=False)
    assert proc.returncode == 1 and "image not found" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("convert", case / "segmentations", tmp_path / "o.seg.nrrd", "--image", case / "ct.nii.gz",
               cwd=tmp_path, ok=False)
    assert "only a .mska archive records its scan" in proc.stderr
    proc = run("convert", case / "segmentations", tmp_path / "o.mska", "--image", case / "ct.nii.gz",
               "--no-image", cwd=tmp_path, ok=False)
    assert proc.returncode == 2
    with pytest.raises(GeometryError):
        convert(case / "segmentations", tmp_path / "o.mska", image=make_case(tmp_path, "s9", shift_ct=9) / "ct.nii.gz")
    with pytest.raises(ConversionError, match="segmentation"):
        nib.save(nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), AFFINE), str(tmp_path / "x.nii.gz"))
        (tmp_path / "x.seg.nrrd").write_bytes(b"NRRD0004\n")
        convert(case / "segmentations", tmp_path / "o.mska", image=tmp_path / "x.seg.nrrd")


def test_extract_keeps_the_scan_from_its_new_place(tmp_path):
    case = make_case(tmp_path)
    run("convert", "s0001/segmentations", "s0001/organs.mska", cwd=tmp_path)
    run("extract", "s0001/organs.mska", "liver", "-o", "picked/liver.mska", cwd=tmp_path)
    with MaskArchive(tmp_path / "picked" / "liver.mska") as a:
        assert a.image_reference.path == "../s0001/ct.nii.gz"
        assert a.image_reference.resolve(tmp_path / "picked" / "liver.mska") == case / "ct.nii.gz"
    run("extract", "s0001/organs.mska", "liver", "-o", "picked/liver.seg.nrrd", cwd=tmp_path)  # no scan there


def test_python_api_records_the_scan_from_other_sources(tmp_path):
    case = make_case(tmp_path)
    convert(case / "segmentations", tmp_path / "a.mska", image=False)
    convert(tmp_path / "a.mska", tmp_path / "a.seg.nrrd")
    convert(tmp_path / "a.seg.nrrd", tmp_path / "b.mska", image=case / "ct.nii.gz")
    with MaskArchive(tmp_path / "b.mska") as b:
        assert b.image_reference.path == "s0001/ct.nii.gz"


def test_batch_records_each_case_scan_and_reports_those_it_could_not(tmp_path):
    make_case(tmp_path / "data", "s0001")
    make_case(tmp_path / "data", "s0002", shift_ct=3.0)
    proc = run("batch", "data", "out", cwd=tmp_path)
    assert "scans: 1 of 2 converted cases record their scan" in proc.stdout
    assert "s0002:" in proc.stdout and "not recorded" in proc.stdout
    with MaskArchive(tmp_path / "out" / "s0001.mska") as a:
        assert a.image_reference.path == "../data/s0001/ct.nii.gz"
        assert a.image_reference.resolve(tmp_path / "out" / "s0001.mska") == tmp_path / "data" / "s0001" / "ct.nii.gz"
    with MaskArchive(tmp_path / "out" / "s0002.mska") as a:
        assert a.image_reference is None
    data = json.loads(run("batch", "data", "out2", "--json", cwd=tmp_path).stdout)
    by_case = {r["case"]: r for r in data["results"]}
    assert by_case["s0001"]["image"] == "../data/s0001/ct.nii.gz" and by_case["s0002"]["note"]


@pytest.mark.slow
def test_a_scan_of_the_same_voxels_with_rows_reversed_is_recorded_with_one_info_line(tmp_path):
    """dicom2nifti/dcm2niix store a series' rows reversed: the masks' voxels, not another grid."""
    case = make_case(tmp_path)
    img = nib.load(str(case / "ct.nii.gz"))
    # the same scan, its j axis (medmask's rows) stored backwards: nibabel's own reorientation
    flip = np.array([[0, 1], [1, -1], [2, 1]])
    nib.save(img.as_reoriented(flip), str(case / "ct_las.nii.gz"))
    proc = run("convert", case / "segmentations", tmp_path / "o.mska", "--image", case / "ct_las.nii.gz", cwd=tmp_path)
    info = [line for line in proc.stderr.splitlines() if "another axis order" in line]
    assert len(info) == 1 and "rows reversed" in info[0] and "warning" not in proc.stderr
    with MaskArchive(tmp_path / "o.mska") as a:
        assert a.image_reference.resolve(tmp_path / "o.mska") == case / "ct_las.nii.gz"
    assert "found, grid matches" in run("info", tmp_path / "o.mska", cwd=tmp_path).stdout
    proc = run("convert", case / "segmentations", tmp_path / "q.mska", "--image", case / "ct_las.nii.gz", "--quiet",
               cwd=tmp_path)
    assert proc.stderr == ""
    # a scan that really differs is still refused, saying how
    las = img.as_reoriented(flip)
    shifted = las.affine.copy()
    shifted[:3, 3] += 0.4  # half a voxel
    nib.save(nib.Nifti1Image(np.asanyarray(las.dataobj), shifted), str(case / "ct_moved.nii.gz"))
    proc = run("convert", case / "segmentations", tmp_path / "r.mska", "--image", case / "ct_moved.nii.gz",
               cwd=tmp_path, ok=False)
    assert "not on the masks' grid" in proc.stderr and "--force-image" in proc.stderr
