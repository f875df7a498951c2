"""The ``medmask`` command as a user runs it: a subprocess, its exit code, stdout and stderr."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medmask import MaskArchive, load_mask

from interop_helpers import write_case, write_multilabel

REPO = Path(__file__).resolve().parents[2]


def run(*args, cwd=None, ok=True):
    proc = subprocess.run([sys.executable, "-m", "medmask", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or REPO, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


def assert_one_line_error(proc, *fragments, code=None):
    assert proc.returncode != 0
    if code is not None:
        assert proc.returncode == code
    err = proc.stderr.strip()
    assert "Traceback" not in proc.stderr
    assert err.count("\n") == 0 or err.startswith("usage:"), err
    last = err.splitlines()[-1]
    assert last.startswith("medmask"), last
    for frag in fragments:
        assert frag in last, last


@pytest.fixture
def case(tmp_path):
    src = tmp_path / "case"
    write_case(src, "oblique")
    return src


@pytest.mark.slow
def test_help_has_examples():
    out = run("--help").stdout
    assert "examples:" in out and "medmask convert" in out
    for cmd in ("convert", "info", "extract", "verify", "batch"):
        assert "examples:" in run(cmd, "--help").stdout


def test_no_command_is_a_usage_error():
    proc = run(ok=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_convert_info_extract_verify(tmp_path, case):
    out = run("convert", case, tmp_path / "c.mska").stdout
    assert "wrote" in out
    info = run("info", tmp_path / "c.mska").stdout
    for word in ("liver", "spleen", "empty_organ", "spacing", "origin (LPS", "codec", "4 entries"):
        assert word in info
    d = json.loads(run("info", "--json", tmp_path / "c.mska").stdout)
    assert {e["name"] for e in d["entries"]} == {"liver", "spleen", "tumor", "empty_organ"}
    assert d["space"]["shape"] == [11, 17, 13]
    run("extract", tmp_path / "c.mska", "liver", "spleen", "-o", tmp_path / "two.mska")
    with MaskArchive(tmp_path / "two.mska") as ar:
        assert ar.all_names() == ["liver", "spleen"]
    run("extract", tmp_path / "c.mska", "liver", "-o", tmp_path / "liver.nii.gz")
    img = nib.load(str(tmp_path / "liver.nii.gz"))
    orig = nib.load(str(case / "liver.nii.gz"))
    assert np.array_equal(img.affine, orig.affine)
    assert np.array_equal(np.asanyarray(img.dataobj), np.asanyarray(orig.dataobj))
    run("extract", tmp_path / "c.mska", "liver", "spleen", "-o", tmp_path / "two.seg.nrrd")
    out = run("verify", tmp_path / "c.mska", tmp_path / "two.mska").stdout
    assert "2 of 2 files OK" in out


@pytest.mark.slow
def test_convert_every_direction(tmp_path, case):
    run("convert", case, tmp_path / "c.mska")
    run("convert", tmp_path / "c.mska", tmp_path / "c.seg.nrrd")
    run("convert", tmp_path / "c.seg.nrrd", tmp_path / "d.mska")
    run("convert", tmp_path / "d.mska", tmp_path / "folder")
    for f in case.glob("*.nii.gz"):
        a, b = nib.load(str(f)), nib.load(str(tmp_path / "folder" / f.name))
        assert np.array_equal(a.affine, b.affine)
        assert np.array_equal(np.asanyarray(a.dataobj), np.asanyarray(b.dataobj))
    write_multilabel(tmp_path / "ml.nii.gz", "flipped")
    (tmp_path / "n.json").write_text('{"1": "liver", "3": "spleen", "7": "dot"}')
    run("convert", tmp_path / "ml.nii.gz", tmp_path / "ml.msk", "--labels", tmp_path / "n.json")
    assert load_mask(tmp_path / "ml.msk").mapping.to_dict() == {"liver": 1, "spleen": 3, "dot": 7}
    run("convert", tmp_path / "ml.msk", tmp_path / "ml.seg.nrrd")
    run("convert", tmp_path / "ml.seg.nrrd", tmp_path / "ml2.msk")
    assert load_mask(tmp_path / "ml2.msk").same_content(load_mask(tmp_path / "ml.msk"))
    run("convert", tmp_path / "ml2.msk", tmp_path / "ml2.nii.gz")
    a, b = nib.load(str(tmp_path / "ml.nii.gz")), nib.load(str(tmp_path / "ml2.nii.gz"))
    assert np.array_equal(a.affine, b.affine) and a.get_data_dtype() == b.get_data_dtype()


@pytest.mark.slow
def test_bad_paths_give_one_line_errors(tmp_path, case):
    assert_one_line_error(run("convert", tmp_path / "missing", tmp_path / "x.mska", ok=False), "no such")
    assert_one_line_error(run("info", tmp_path / "missing.mska", ok=False), "missing.mska")
    assert_one_line_error(run("convert", case, tmp_path / "x.weird", ok=False), "cannot tell the format")
    run("convert", case, tmp_path / "c.mska")
    assert_one_line_error(run("extract", tmp_path / "c.mska", "kidney", "-o", tmp_path / "k.mska", ok=False),
                          "kidney")
    assert_one_line_error(run("convert", tmp_path / "c.mska", tmp_path / "c.mska", ok=False))
    assert_one_line_error(run("convert", case, tmp_path / "m.nii.gz", "--labels", "nonsense", ok=False),
                          "nonsense")


def test_usage_errors_exit_2(tmp_path):
    proc = run("convert", "only-one-arg", ok=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    proc = run("batch", "a", "b", "-j", "many", ok=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_corrupt_files(tmp_path, case):
    (tmp_path / "junk.mska").write_bytes(b"this is not an archive at all")
    assert_one_line_error(run("info", tmp_path / "junk.mska", ok=False), "junk.mska")
    assert_one_line_error(run("convert", tmp_path / "junk.mska", tmp_path / "o.seg.nrrd", ok=False), "junk.mska")
    (tmp_path / "junk.nii.gz").write_bytes(b"\x1f\x8b\x08garbage")
    assert_one_line_error(run("convert", tmp_path / "junk.nii.gz", tmp_path / "o.msk", ok=False), "junk.nii.gz")
    (tmp_path / "junk.seg.nrrd").write_bytes(b"NRRD0004\nsizes: 1 2\n")
    assert_one_line_error(run("convert", tmp_path / "junk.seg.nrrd", tmp_path / "o.mska", ok=False), "junk.seg.nrrd")
    # flip bytes inside an entry: verify reports it, exit 1, no traceback
    run("convert", case, tmp_path / "c.mska")
    raw = bytearray((tmp_path / "c.mska").read_bytes())
    with MaskArchive(tmp_path / "c.mska") as ar:
        info = ar.entry_info("liver")
    raw[info.offset + info.length // 2] ^= 0xFF
    (tmp_path / "bad.mska").write_bytes(bytes(raw))
    proc = run("verify", tmp_path / "c.mska", tmp_path / "bad.mska", ok=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert "OK    " in proc.stdout and "FAIL  " in proc.stdout and "bad.mska" in proc.stdout
    # truncated file
    (tmp_path / "cut.mska").write_bytes((tmp_path / "c.mska").read_bytes()[:50])
    assert_one_line_error(run("info", tmp_path / "cut.mska", ok=False), "cut.mska")


def test_console_script_installed():
    exe = Path(sys.executable).parent / "medmask"
    if not exe.exists():
        pytest.skip("medmask console script not installed in this environment")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "convert" in proc.stdout


def test_batch_command(tmp_path, case):
    root = tmp_path / "ds"
    for c in ("c1", "c2"):
        write_case(root / c / "segmentations", "flipped")
    (root / "broken").mkdir()
    (root / "broken" / "x.nii.gz").write_bytes(b"nope")
    proc = run("batch", root, tmp_path / "out", ok=False)
    assert proc.returncode == 1
    assert "2 converted" in proc.stdout and "1 failed" in proc.stdout and "broken" in proc.stdout
    assert "Traceback" not in proc.stderr
    proc = run("batch", root, tmp_path / "out", "--json", ok=False)
    d = json.loads(proc.stdout)
    assert d["skipped"] == 2 and d["failed"] == 1


@pytest.mark.slow
def test_extract_refuses_to_overwrite_its_source(tmp_path, case):
    arch = tmp_path / "c.mska"
    run("convert", case, arch)
    before = arch.read_bytes()
    proc = run("extract", arch, "liver", "-o", tmp_path / "." / "c.mska", ok=False)
    assert_one_line_error(proc, "same file", code=1)
    assert arch.read_bytes() == before


@pytest.mark.slow
def test_single_entry_label_map_uses_the_class_map(tmp_path, case):
    arch = tmp_path / "c.mska"
    run("convert", case, arch)
    run("extract", arch, "liver", "-o", tmp_path / "l.nii.gz", "--labels", "total")
    values = np.unique(np.asanyarray(nib.load(str(tmp_path / "l.nii.gz")).dataobj))
    assert values.tolist() == [0, 5]  # TotalSegmentator: 5 = liver (1 would say spleen)


def test_label_names_beyond_uint16_widen_the_mask(tmp_path, case):
    (tmp_path / "names.json").write_text(json.dumps({"1": "liver", "70000": "future_structure"}))
    run("convert", case / "liver.nii.gz", tmp_path / "big.msk", "--labels", tmp_path / "names.json")
    m = load_mask(tmp_path / "big.msk")
    assert m.dtype == np.uint32 and m.mapping["future_structure"] == 70000
    assert run("verify", tmp_path / "big.msk").returncode == 0


def test_merge_overlap_policies_warn_with_counts_and_name_lost_labels(tmp_path):
    import warnings

    from medmask import MaskOverlapWarning, SegmentationMask
    from medmask.convert.api import merge_items
    from spacetransformer import Space

    space = Space(shape=(4, 5, 6))
    small = np.zeros((4, 5, 6), np.uint8)
    small[1, 1, 1] = 1
    big = np.zeros((4, 5, 6), np.uint8)
    big[1, 1, 1:3] = 1
    items = [("small", SegmentationMask(small, {"small": 1}, space=space)),
             ("big", SegmentationMask(big, {"big": 1}, space=space))]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        merged = merge_items(items, space, overlap="overwrite")
    msgs = [str(w.message) for w in rec if issubclass(w.category, MaskOverlapWarning)]
    assert any("'small' (1 voxels)" in m for m in msgs) and any("'small'" in m and "no voxels" in m for m in msgs)
    assert merged.voxel_counts() == {2: 2}
    with pytest.warns(MaskOverlapWarning, match="stay with the earlier label"):
        kept = merge_items(items, space, overlap="keep")
    assert kept.voxel_counts() == {1: 1, 2: 1}


@pytest.mark.slow
def test_broken_pipe_is_not_an_error(tmp_path):
    from medmask import SegmentationMask
    from spacetransformer import Space

    space = Space(shape=(2, 3, 4))
    arch = tmp_path / "many.mska"
    one = np.zeros((2, 3, 4), np.uint8)
    one[0, 0, 0] = 1
    with MaskArchive(arch, "w", space=space) as a:  # an `info` listing far beyond a pipe's 64 KiB buffer
        for i in range(1500):
            a.add_segmask(SegmentationMask(one, {f"structure_with_a_long_name_{i}": 1}, space=space),
                          f"structure_with_a_long_name_{i}")
    proc = subprocess.run(f"'{sys.executable}' -m medmask info '{arch}' | head -n 1", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert proc.stdout.count("\n") == 1 and proc.stderr == "", proc.stderr
