"""The attacks of issue 20, each ending in one MedMaskError naming the file, quickly and in
bounded memory (the same files are rows of benchmarks/bench_attacks.py)."""
import os
import time
import tracemalloc

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.cli import main as cli
from medmask.errors import LimitError

from . import attacks20 as A
from . import hostile as H

MiB = 1 << 20


def _bounded(fn, seconds=5.0, mib=200):
    """Run ``fn``; returns its exception, checking it took little time and traced memory."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        fn()
        exc = None
    except Exception as e:  # noqa: BLE001 - the caller checks the type
        exc = e
    took = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert took < seconds and peak < mib * MiB, (took, peak >> 20, exc)
    return exc


def _read_all(path):
    a = MaskArchive(path)
    for n in a.names:
        a.entry_info(n)


@pytest.mark.parametrize("make", [A.shared_extra, A.shared_metadata], ids=["one extra", "shared metadata"])
def test_rows_sharing_one_expansion_are_bounded(tmp_path, make, capsys):
    """Issue 20.1: every row points at the same extra / shared metadata: refused after a bounded
    amount of work (was 35 s and 2.8 GB before a bare MemoryError)."""
    p = make(str(tmp_path / "amp.mska"))
    exc = _bounded(lambda: _read_all(p))
    assert isinstance(exc, LimitError) and p in str(exc) and "amplification" in str(exc)
    assert _bounded(lambda: MaskArchive(p).verify()) is not None
    for cmd in (["info", p], ["verify", p]):
        codes = []
        assert _bounded(lambda: codes.append(cli(cmd))) is None and codes == [1]
        out = capsys.readouterr()
        assert "amplification" in out.out + out.err and p in out.out + out.err


def test_rows_sharing_shared_metadata_share_one_object(tmp_path, space):
    """Entries inheriting one shared-metadata set without own keys get that object, not a copy each."""
    p = tmp_path / "s.mska"
    meta = {f"k{i}": i for i in range(50)}
    a = np.zeros(space.shape, np.uint8)
    a[1:3, 1:3, 1:3] = 1
    with MaskArchive(p, "w", space=space) as w:
        for i in range(4):
            w.add_segmask(SegmentationMask(a, {"x": 1}, space=space, metadata=meta), f"e{i}")
    r = MaskArchive(p)
    infos = [r.entry_info(n) for n in r.names]
    assert all(i.metadata == meta for i in infos)
    assert len({id(i.metadata) for i in infos}) == 1


def test_writer_refuses_what_the_reader_would(tmp_path, space, monkeypatch):
    """The expansion bound is checked on write too: a file the reader would refuse for what its
    rows expand to is not written (without the check it is, and reading it fails)."""
    from medmask.format import jsonguard, table
    monkeypatch.setattr(jsonguard, "INDEX_FREE_COST", 1 << 20)
    meta = {f"key{i}": list(range(40)) for i in range(60)}   # ~10 KB of shared metadata
    a = np.zeros(space.shape, np.uint8)
    a[1:3, 1:3, 1:3] = 1
    masks = {f"e{i}": SegmentationMask(a, {"x": 1}, space=space, metadata=meta) for i in range(60)}
    with pytest.raises(LimitError, match="reader accepts"):
        MaskArchive(tmp_path / "w.mska", "w", space=space).add_segmasks(masks)
    monkeypatch.setattr(table, "expansion_cost", lambda raw: 0)
    MaskArchive(tmp_path / "w.mska", "w", space=space).add_segmasks(masks)
    with pytest.raises(LimitError, match="amplification"):
        _read_all(str(tmp_path / "w.mska"))


# --- 3. a recorded scan that is not a regular file ----------------------------------------------
SCANS = {  # kind, target, recorded name -> what the refusal says
    "fifo": ("fifo", None, "ct.nii.gz", "FIFO"),
    "/dev/zero": ("link", "/dev/zero", "ct.nrrd", "character device"),
    "/proc/self/mem": ("link", "/proc/self/mem", "ct.nii.gz", "lies in /proc"),
    "8 GB sparse, no newline": ("sparse", None, "ct.nrrd", "no end of a NRRD header"),
    "/proc as folder": ("path", "/proc", "x", "not a DICOM series folder"),
}


@pytest.mark.parametrize("case", list(SCANS))
def test_a_recorded_scan_that_is_not_a_file_is_refused_unread(tmp_path, case, capsys):
    """Issue 20.3: read_image, `medmask info`, `stats --intensity` neither hang nor read without end."""
    from medmask.convert.image_io import read_image, read_image_header
    from medmask.errors import ConversionError

    kind, target, name, says = SCANS[case]
    archive = A.archive_recording(str(tmp_path / "case"), name, target, kind)
    scan = target if kind == "path" else str(tmp_path / "case" / name)
    for fn in (read_image, read_image_header):
        exc = _bounded(lambda: fn(scan), seconds=5, mib=40)
        assert isinstance(exc, ConversionError) and says in str(exc) and scan in str(exc), exc
    assert _bounded(lambda: cli(["info", archive]), seconds=10, mib=60) is None
    out = capsys.readouterr().out
    assert says in out and "unreadable" in out
    codes = []
    _bounded(lambda: codes.append(cli(["stats", archive, "--intensity"])), seconds=10, mib=60)
    err = capsys.readouterr().err
    assert codes == [1] and (says in err or "not a file" in err) and "error: " in err, err


def test_a_detached_nrrd_data_file_must_lie_beside_its_header(tmp_path):
    from medmask.convert.image_io import read_image
    from medmask.errors import ConversionError

    (tmp_path / "outside.raw").write_bytes(bytes(256))
    header = A.nhdr_outside(str(tmp_path / "case"), "../outside.raw")
    with pytest.raises(ConversionError, match="outside the header's folder") as e:
        read_image(header)
    assert header in str(e.value) and str(tmp_path / "outside.raw") in str(e.value)
    (tmp_path / "case" / "inside.raw").write_bytes(bytes(range(256)))
    header = A.nhdr_outside(str(tmp_path / "case"), "inside.raw")
    data, space = read_image(header)
    assert data.shape == (4, 8, 8) and data.reshape(-1).tolist() == list(range(256))
    os.symlink("/dev/zero", tmp_path / "case" / "zero.raw")
    header = A.nhdr_outside(str(tmp_path / "case"), "zero.raw")
    with pytest.raises(ConversionError, match="outside the header's folder"):
        read_image(header)


# --- 4. decompression bombs ----------------------------------------------------------------------
@pytest.mark.parametrize("make, out", [(A.nifti_bomb, "o.msk"), (A.seg_nrrd_bomb, "o.mska")], ids=["nii.gz", "seg.nrrd"])
def test_converter_inputs_inflate_no_more_than_declared(tmp_path, make, out, capsys):
    """Issue 20.4 (scaled down: 160 MiB of zeros behind a header declaring 8 voxels)."""
    src = make(str(tmp_path / ("b.nii.gz" if make is A.nifti_bomb else "b.seg.nrrd")), 160 << 20)
    codes = []
    assert _bounded(lambda: codes.append(cli(["convert", src, str(tmp_path / out), "-q"])), seconds=10, mib=30) is None
    err = capsys.readouterr().err
    if make is A.nifti_bomb:
        assert codes == [1] and src in err and "decompression bomb" in err, err
    else:  # the 8 declared voxels are read; the rest of the stream is never inflated
        from medmask import MaskArchive
        assert codes == [0], err
        assert MaskArchive(str(tmp_path / out)).load_segmask("s1").data.sum() == 8


def test_a_gzip_stream_longer_than_declared_is_refused_once_past_the_margin(tmp_path):
    """Compressed bytes that fit a genuine file of the declared size but inflate past it + 1 MiB."""
    import nibabel as nib

    from medmask.convert.nifti import load_nifti_mask
    from medmask.errors import ConversionError

    head = nib.Nifti1Image(np.ones((64, 64, 64), np.uint8), np.eye(4)).to_bytes()
    src = H.write(str(tmp_path / "b.nii.gz"), A._gzip_of_zeros(16 << 20, head))
    exc = _bounded(lambda: load_nifti_mask(src), seconds=5, mib=30)
    assert isinstance(exc, ConversionError) and "inflates to more than" in str(exc) and src in str(exc), exc


# --- 5. DICOM sizes ------------------------------------------------------------------------------
def test_dicom_grids_are_checked_before_allocating(tmp_path, capsys):
    from medmask.convert.image_io import read_image
    from medmask.errors import ConversionError

    series = A.ct_series_65535(str(tmp_path / "ct"), slices=4)
    exc = _bounded(lambda: read_image(series), seconds=10, mib=40)
    assert isinstance(exc, ConversionError) and "more than the limit" in str(exc) and series in str(exc)
    seg = A.seg_frame_moved(str(tmp_path / "seg"), mm=1e9)
    codes = []
    _bounded(lambda: codes.append(cli(["convert", seg, str(tmp_path / "o.mska"), "-q"])), seconds=15, mib=60)
    err = capsys.readouterr().err
    assert codes == [1] and seg in err and "more than the limit" in err, err
