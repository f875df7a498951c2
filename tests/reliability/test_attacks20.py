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


def _bounded(fn, seconds=60.0, mib=200):
    """Run ``fn``; returns its exception, checking its traced memory (and that it ends: no hang; the
    times of the attacks are measured by benchmarks/bench_attacks.py, not here)."""
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
        exc = _bounded(lambda: fn(scan), seconds=60, mib=40)
        assert isinstance(exc, ConversionError) and says in str(exc) and scan in str(exc), exc
    assert _bounded(lambda: cli(["info", archive]), seconds=60, mib=60) is None
    out = capsys.readouterr().out
    assert says in out and "unreadable" in out
    codes = []
    _bounded(lambda: codes.append(cli(["stats", archive, "--intensity"])), seconds=60, mib=60)
    err = capsys.readouterr().err
    assert codes == [1] and (says in err or "not a file" in err), err  # (an error, or a case without intensities)


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
@pytest.mark.parametrize("make, out", [(A.nifti_bomb, "o.msk"), (A.seg_nrrd_bomb, "o.mska")],
                         ids=["nii.gz", "seg.nrrd"])
def test_converter_inputs_inflate_no_more_than_declared(tmp_path, make, out, capsys):
    """Issue 20.4 (scaled down: 160 MiB of zeros behind a header declaring 8 voxels)."""
    src = make(str(tmp_path / ("b.nii.gz" if make is A.nifti_bomb else "b.seg.nrrd")), 160 << 20)
    codes = []
    assert _bounded(lambda: codes.append(cli(["convert", src, str(tmp_path / out), "-q"])), seconds=60, mib=30) is None
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
    exc = _bounded(lambda: load_nifti_mask(src), seconds=60, mib=30)
    assert isinstance(exc, ConversionError) and "inflates to more than" in str(exc) and src in str(exc), exc


# --- 5. DICOM sizes ------------------------------------------------------------------------------
def test_dicom_grids_are_checked_before_allocating(tmp_path, capsys):
    from medmask.convert.image_io import read_image
    from medmask.errors import ConversionError

    series = A.ct_series_65535(str(tmp_path / "ct"), slices=4)
    exc = _bounded(lambda: read_image(series), seconds=60, mib=40)
    assert isinstance(exc, ConversionError) and "more than the limit" in str(exc) and series in str(exc)
    seg = A.seg_frame_moved(str(tmp_path / "seg"), mm=1e9)
    codes = []
    _bounded(lambda: codes.append(cli(["convert", seg, str(tmp_path / "o.mska"), "-q"])), seconds=60, mib=60)
    err = capsys.readouterr().err
    assert codes == [1] and seg in err and "more than the limit" in err, err


# --- 7. and 8. -----------------------------------------------------------------------------------
def _small(k=1, **kw):
    arr = np.zeros((4, 8, 8), np.uint8)
    arr[1:3, k:k + 3, 2:5] = 1
    return SegmentationMask(arr, {"liver": 1}, H.sample_space((4, 8, 8)), **kw)


def test_overwrite_replaces_a_nifti_folder_as_a_whole_and_refuses_foreign_files(tmp_path, capsys):
    src, out = str(tmp_path / "a.mska"), tmp_path / "out"
    with MaskArchive(src, "w") as w:
        w.add_segmask(_small(), "liver")
    out.mkdir()
    (out / "other_case_spleen.nii.gz").write_bytes(b"x")
    assert cli(["convert", src, str(out), "--overwrite", "-q"]) == 0
    assert sorted(os.listdir(out)) == ["liver.nii.gz"]  # the other case's file is gone: no mix of two cases
    (out / "notes.txt").write_text("mine")
    assert cli(["convert", src, str(out), "--overwrite", "-q"]) == 1
    err = capsys.readouterr().err
    assert "notes.txt" in err and str(out) in err and sorted(os.listdir(out)) == ["liver.nii.gz", "notes.txt"]
    from medmask.convert.nifti_folder import archive_to_nifti_folder  # the Python API refuses too
    from medmask.errors import MedMaskError
    with pytest.raises(MedMaskError, match="notes.txt"):
        archive_to_nifti_folder(src, out)


def test_an_interrupted_folder_replacement_leaves_old_or_new(tmp_path, monkeypatch):
    """Issue 20.8 (confirmed: files were moved in one by one). Now one exchange: a kill after it
    leaves the complete new folder, before it the complete old one."""
    import shutil

    from medmask.storage import atomic_folder as af

    dst = tmp_path / "out"
    dst.mkdir()
    for n in ("a.nii.gz", "b.nii.gz"):
        (dst / n).write_text("old")
    seen = []
    real_rmtree = shutil.rmtree

    def killed(path, *a, **k):  # the process dies right after the exchange, before old files are deleted
        seen.append(sorted(os.listdir(dst)))
        raise KeyboardInterrupt
    monkeypatch.setattr(af.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        with af.atomic_folder(dst) as tmp:
            for n in ("a.nii.gz", "c.nii.gz"):
                (tmp / n).write_text("new")
    assert seen[0] == ["a.nii.gz", "c.nii.gz"] and (dst / "a.nii.gz").read_text() == "new"
    monkeypatch.setattr(af.shutil, "rmtree", real_rmtree)
    with pytest.raises(KeyboardInterrupt):  # a kill while the new folder is filled: the old one stays whole
        with af.atomic_folder(dst) as tmp:
            (tmp / "a.nii.gz").write_text("newer")
            raise KeyboardInterrupt
    assert sorted(os.listdir(dst)) == ["a.nii.gz", "c.nii.gz"] and (dst / "a.nii.gz").read_text() == "new"
    af.remove_stale_temporaries(dst, older_than_s=-1)  # (its owner, this process, is alive: by age)
    assert [n for n in os.listdir(tmp_path) if n != "out"] == []


def test_temporaries_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    """Issue 20.7: a writer killed before its rename leaves its temporary file; the next write of
    that archive removes it (its owner process is dead), a live writer's is kept."""
    import subprocess
    import sys

    from spacetransformer import Space

    p = str(tmp_path / "k.mska")
    plain = lambda k: SegmentationMask(_small(k).data, {"a": 1}, Space(shape=(4, 8, 8)))  # noqa: E731 - the child's grid
    with MaskArchive(p, "w") as w:
        w.add_segmask(plain(1), "a")
    child = A.STALLED_WRITER
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs = [subprocess.Popen([sys.executable, "-c", child, p], stdout=subprocess.PIPE, text=True, env=env, cwd=root)
             for _ in range(2)]
    for proc in procs:
        assert proc.stdout.readline().strip() == "ready"
    procs[0].kill()
    procs[0].wait()
    temps = lambda: sorted(n for n in os.listdir(tmp_path) if n.endswith(".tmp"))  # noqa: E731
    assert len(temps()) == 2
    with MaskArchive(p, "a") as a:
        a.add_segmask(plain(3), "c")
    left = temps()
    assert len(left) == 1 and str(procs[1].pid) in left[0]  # the live writer's temporary file is kept
    procs[1].kill()
    procs[1].wait()
    with MaskArchive(p, "a") as a:
        a.remove("c")
    assert temps() == [] and MaskArchive(p).names == ["a"]


def test_nan_and_infinity_in_metadata_are_refused_naming_where(tmp_path):
    from medmask.errors import FormatError, MedMaskError
    with pytest.raises(FormatError, match=r"NaN or Infinity \(\['scores'\]\[1\] = nan\)") as e:
        MaskArchive(tmp_path / "n.mska", "w").add_segmask(_small(metadata={"scores": [1.0, float("nan")]}), "x")
    assert str(tmp_path / "n.mska") in str(e.value)
    with pytest.raises(MedMaskError, match=r"archive attributes hold NaN or Infinity \(\['max'\] = inf\)"):
        with MaskArchive(tmp_path / "n.mska", "w") as w:
            w.add_segmask(_small(), "x")
            w.attributes = {"max": float("inf")}
    assert not (tmp_path / "n.mska").exists()


@pytest.mark.parametrize("version", ["2.1", "2.2"])
def test_metadata_deeper_than_the_limit_is_refused_on_read(tmp_path, version):
    """limits.MAX_JSON_DEPTH (64) also holds for files another writer made: the entry is refused, the
    others read, and it cannot be re-written unnoticed."""
    from medmask import limits
    from medmask.errors import FormatError

    p = str(tmp_path / "d.mska")
    deep = {}
    c = deep
    for _ in range(limits.MAX_JSON_DEPTH + 5):
        c["x"] = {}
        c = c["x"]
    with MaskArchive(p, "w", format_version=version) as w:
        w.add_segmask(_small(), "ok")
        w.add_segmask(_small(2), "deep")
    real = limits.MAX_JSON_DEPTH
    limits.MAX_JSON_DEPTH = 1000  # the other writer's limit
    try:
        with MaskArchive(p, "a", format_version=version) as a:
            a.set_attributes("deep", metadata={"d": deep})
    finally:
        limits.MAX_JSON_DEPTH = real
    r = MaskArchive(p)
    assert r.load_segmask("ok").data.sum() == 18
    with pytest.raises(FormatError, match="nests deeper than 64") as e:
        r.entry_info("deep")
    assert p in str(e.value)


def test_msk_upgrade_keeps_a_concurrent_save(tmp_path, monkeypatch):
    """Issue 20.8 (confirmed): `medmask upgrade x.msk` read the old content, another program saved,
    the upgrade wrote the old content back. Now the change is detected and the new content upgraded."""
    from medmask import load_mask, save_mask
    from medmask.storage import container_v1

    p = str(tmp_path / "m.msk")
    save_mask(_small(), p, format_version=1)
    real = container_v1.V1Container.load
    calls = []

    def load_then_someone_saves(self, name):
        m = real(self, name)
        calls.append(name)
        if len(calls) == 2:  # upgrade's own read (the first is its check of the file)
            save_mask(_small(3, metadata={"new": 1}), p)
        return m
    monkeypatch.setattr(container_v1.V1Container, "load", load_then_someone_saves)
    assert cli(["upgrade", "-q", p]) == 0
    m = load_mask(p)
    assert m.metadata == {"new": 1} and open(p, "rb").read(6)[4:] == bytes([2, 2])


def test_archive_verify_reports_every_damaged_entry_like_the_cli(tmp_path, capsys):
    """MaskArchive.verify() checks every entry (it stopped at the first) and names each damaged one."""
    from medmask.errors import ChecksumError

    p = str(tmp_path / "v.mska")
    with MaskArchive(p, "w") as w:
        for k in range(4):
            w.add_segmask(_small(k % 3 + 1), f"e{k}")
    r = MaskArchive(p)
    data = bytearray(open(p, "rb").read())
    for n in ("e1", "e3"):
        data[r.entry_info(n).offset] ^= 0xFF
    r.close()
    H.write(p, bytes(data))
    with pytest.raises(ChecksumError) as e:
        MaskArchive(p).verify()
    assert set(e.value.damaged) == {"e1", "e3"} and "2 of 4 entries" in str(e.value) and p in str(e.value)
    assert cli(["verify", p]) == 1
    out = capsys.readouterr().out
    assert "'e1'" in out and "'e3'" in out and "2 damaged" in out
