"""Issue 11.5: one overwrite rule, extract with .msk and globs, suggestions, full disk, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from medmask.core.geometry import axial_space

from interop_helpers import REPO, write_case, write_multilabel
from test_cli import assert_one_line_error, run


@pytest.fixture
def archive(tmp_path):
    space = axial_space((6, 7, 8), spacing=(2.0, 0.8, 0.7))
    path = tmp_path / "s.mska"
    with MaskArchive(path, mode="w", space=space) as a:
        for i, name in enumerate(["liver", "spleen", "rib_left_1", "rib_left_2", "rib_right_1"]):
            arr = np.zeros((6, 7, 8), bool)
            arr[1 + i % 4, 1:5, 2:6] = True
            a.add_segmask(SegmentationMask(arr, {name: 1}, space=space), name)
    return path


@pytest.mark.parametrize("cmd", ["convert", "extract"])
def test_overwrite_rule_is_shared(tmp_path, archive, cmd):
    out = tmp_path / "o.seg.nrrd"
    out.write_bytes(b"precious")
    args = [archive, out] if cmd == "convert" else [archive, "liver", "-o", out]
    proc = run(cmd, *args, ok=False)
    assert_one_line_error(proc, "o.seg.nrrd", "exists; pass --overwrite", code=1)
    assert out.read_bytes() == b"precious"
    proc = run(cmd, *args, "--no-overwrite", ok=False)
    assert_one_line_error(proc, "exists; pass --overwrite", code=1)
    run(cmd, *args, "--overwrite")
    assert out.read_bytes() != b"precious"


def test_extract_globs_and_suggestions(tmp_path, archive):
    run("extract", archive, "rib_left_*", "liver", "-o", tmp_path / "r.mska")
    with MaskArchive(tmp_path / "r.mska") as a:
        assert list(a.all_names()) == ["rib_left_1", "rib_left_2", "liver"]
    proc = run("extract", archive, "livre", "-o", tmp_path / "x.mska", ok=False)
    assert_one_line_error(proc, "no entry named 'livre'", "did you mean 'liver'", code=1)
    proc = run("extract", archive, "kidney_*", "-o", tmp_path / "x.mska", ok=False)
    assert_one_line_error(proc, "no entry matches 'kidney_*'", code=1)
    assert not (tmp_path / "x.mska").exists()


def test_extract_from_a_msk(tmp_path):
    space = axial_space((4, 5, 6))
    arr = np.zeros((4, 5, 6), np.uint8)
    arr[1, 1:3, 1:3] = 1
    arr[2, 2:4, 2:5] = 4
    arr[3, 0:2, 0:2] = 7
    save_mask(SegmentationMask(arr, {"liver": 1, "spleen": 4, "tumour": 7}, space=space,
                               colors={"spleen": (0.1, 0.2, 0.3)}), tmp_path / "m.msk")
    run("extract", tmp_path / "m.msk", "spleen", "liv*", "-o", tmp_path / "two.msk")
    got = load_mask(tmp_path / "two.msk")
    assert got.mapping.to_dict() == {"spleen": 4, "liver": 1}
    assert np.array_equal(got.data, np.where(arr == 7, 0, arr))
    assert got.colors["spleen"][:3] == pytest.approx((0.1, 0.2, 0.3))
    proc = run("extract", tmp_path / "m.msk", "tumor", "-o", tmp_path / "t.msk", ok=False)
    assert_one_line_error(proc, "no label named 'tumor'", "did you mean 'tumour'", code=1)


def test_extract_an_organ_of_a_multilabel_entry(tmp_path):
    """A TotalSegmentator --ml file converted whole is one entry; `extract organs.mska liver` was refused
    ("no entry named 'liver'; entries: 'seg'"). An organ inside a multi-label entry is extracted with
    the NIfTI's own geometry (checked with nibabel)."""
    import nibabel as nib

    data = write_multilabel(tmp_path / "seg.nii.gz", names={1: "liver", 3: "spleen", 7: "rib_left_1"})
    run("convert", tmp_path / "seg.nii.gz", tmp_path / "organs.mska")
    with MaskArchive(tmp_path / "organs.mska") as a:
        assert list(a.all_names()) == ["seg"]
    run("extract", tmp_path / "organs.mska", "spleen", "-o", tmp_path / "spleen.nii.gz")
    out, src = nib.load(str(tmp_path / "spleen.nii.gz")), nib.load(str(tmp_path / "seg.nii.gz"))
    assert np.allclose(out.affine, src.affine)
    assert np.array_equal(np.asarray(out.dataobj) > 0, data == 3)
    run("extract", tmp_path / "organs.mska", "rib_*", "liver", "-o", tmp_path / "few")
    assert sorted(p.name for p in (tmp_path / "few").iterdir()) == ["liver.nii.gz", "rib_left_1.nii.gz"]
    assert np.array_equal(np.asarray(nib.load(str(tmp_path / "few" / "liver.nii.gz")).dataobj) > 0, data == 1)
    run("extract", tmp_path / "organs.mska", "seg", "-o", tmp_path / "whole.nii.gz")  # the entry itself
    assert np.array_equal(np.asarray(nib.load(str(tmp_path / "whole.nii.gz")).dataobj), data)
    proc = run("extract", tmp_path / "organs.mska", "livr", "-o", tmp_path / "x.nii.gz", ok=False)
    assert_one_line_error(proc, "no entry or organ named 'livr'", "did you mean 'liver'", code=1)


def test_full_disk_names_the_file(tmp_path):
    """A file-size limit makes every write fail like a full disk (EFBIG instead of ENOSPC)."""
    case = tmp_path / "case"
    write_case(case)
    for out in ("c.mska", "c.seg.nrrd", "outdir", "c.nii.gz"):
        # import everything first: the limit must hit our writes, not Python's bytecode cache
        code = ("import resource, signal, sys\n"
                "import medmask.cli, medmask.convert, medmask.convert.nifti, medmask.convert.seg_nrrd, nibabel, nrrd\n"
                "from medmask.cli import main\n"
                "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
                "resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))\n"
                f"sys.exit(main(['convert', 'case', {out!r}, '--overlap', 'keep']))\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                              env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"},
                              timeout=120)
        errors = [ln for ln in proc.stderr.splitlines() if "warning:" not in ln]
        assert proc.returncode == 1 and len(errors) == 1, proc.stderr
        assert errors[0].startswith(f"medmask: error: {out}") and "File too large" in errors[0], errors
        assert sorted(p.name for p in tmp_path.iterdir()) == ["case"], "a partial output was left"


def test_absurd_spacing_is_one_line(tmp_path):
    space = axial_space((4, 5, 6), spacing=(5e-324, 1.0, 1.0))
    arr = np.zeros((4, 5, 6), bool)
    arr[1:3, 1:3, 1:3] = True
    with MaskArchive(tmp_path / "tiny.mska", mode="w", space=space) as a:
        a.add_segmask(SegmentationMask(arr, {"liver": 1}, space=space), "liver")
    for out in ("t.nii.gz", "tdir"):
        proc = run("convert", tmp_path / "tiny.mska", tmp_path / out, ok=False)
        assert_one_line_error(proc, "too small for a NIfTI header", code=1)
        assert "Warning" not in proc.stderr
    for args in (["info", tmp_path / "tiny.mska"], ["convert", tmp_path / "tiny.mska", tmp_path / "t.seg.nrrd"]):
        proc = run(*args)
        assert proc.stderr == "", proc.stderr


def test_batch_json_says_skipped(tmp_path):
    write_case(tmp_path / "ds" / "c1")
    run("batch", tmp_path / "ds", tmp_path / "out", "--json", "--no-progress")
    d = json.loads(run("batch", tmp_path / "ds", tmp_path / "out", "--json", "--no-progress").stdout)
    (r,) = d["results"]
    assert r["status"] == "skipped" and "already converted" in r["reason"] and r["n_entries"] == 4
    assert "seconds" not in r and "error" not in r
