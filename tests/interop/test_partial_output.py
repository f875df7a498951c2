"""Issue 11.3: a conversion to a folder is all or nothing (convert and extract)."""
from __future__ import annotations

import numpy as np

from medmask import MaskArchive, SegmentationMask

from interop_helpers import write_case
from test_cli import assert_one_line_error, run


def damaged_archive(tmp_path, n=12):
    """An archive whose last entry's payload is corrupted (its checksum fails on load)."""
    from medmask.core.geometry import axial_space

    space = axial_space((6, 7, 8), spacing=(2.0, 0.8, 0.7))
    path = tmp_path / "d.mska"
    with MaskArchive(path, mode="w", space=space) as a:
        for i in range(n):
            arr = np.zeros((6, 7, 8), bool)
            arr[1:4, i % 5:(i % 5) + 2, 2:6] = True
            a.add_segmask(SegmentationMask(arr, {f"organ_{i:02d}": 1}, space=space), f"organ_{i:02d}")
    with MaskArchive(path) as a:
        info = a.entry_info(f"organ_{n - 1:02d}")
    raw = bytearray(path.read_bytes())
    if info is not None and getattr(info, "offset", None):
        raw[info.offset + info.length // 2] ^= 0xFF
    else:  # payloads come first, the index last: hit the middle of the payload area
        raw[len(raw) // 3] ^= 0xFF
    path.write_bytes(bytes(raw))
    return path


def test_damaged_archive_to_folder_leaves_nothing(tmp_path):
    src = damaged_archive(tmp_path)
    proc = run("convert", src, tmp_path / "out", ok=False)
    assert_one_line_error(proc, code=1)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["d.mska"]  # no temporary folder either


def test_damaged_archive_extract_to_folder_leaves_nothing(tmp_path):
    src = damaged_archive(tmp_path)
    proc = run("extract", src, "organ_*", "-o", tmp_path / "out", ok=False)
    assert_one_line_error(proc, code=1)
    assert [p.name for p in tmp_path.iterdir()] == ["d.mska"]


def test_existing_folder_untouched_on_failure(tmp_path):
    src = damaged_archive(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    proc = run("convert", src, out, "--overwrite", ok=False)
    assert_one_line_error(proc, code=1)
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


def test_good_conversion_to_folder_still_works(tmp_path):
    write_case(tmp_path / "case")
    run("convert", tmp_path / "case", tmp_path / "c.mska")
    run("convert", tmp_path / "c.mska", tmp_path / "back")
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == [
        "empty_organ.nii.gz", "liver.nii.gz", "spleen.nii.gz", "tumor.nii.gz"]
    assert oct((tmp_path / "back").stat().st_mode & 0o777) != oct(0o700)  # an ordinary folder, not mkdtemp's
    proc = run("convert", tmp_path / "c.mska", tmp_path / "back", ok=False)
    assert_one_line_error(proc, "exists", "--overwrite", code=1)
    run("convert", tmp_path / "c.mska", tmp_path / "back", "--overwrite")
