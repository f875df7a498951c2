"""convert_dataset: layouts, resume, failures, executors (process pool, dask.distributed)."""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from medmask import MaskArchive
from medmask.batch import convert_dataset, find_cases, format_summary
from medmask.errors import ConversionError

from interop_helpers import write_case


@pytest.fixture
def dataset(tmp_path) -> Path:
    root = tmp_path / "ds"
    write_case(root / "s0001" / "segmentations", "oblique")   # TotalSegmentator layout
    write_case(root / "s0002" / "segmentations", "flipped")
    write_case(root / "flat_case", "permuted")                 # flat layout
    (root / "s0003_bad" / "segmentations").mkdir(parents=True)
    (root / "s0003_bad" / "segmentations" / "liver.nii.gz").write_bytes(b"\x1f\x8bnot gzip")
    (root / "notes").mkdir()  # no masks: not a case
    return root


def test_find_cases(dataset):
    names = [c for c, _ in find_cases(dataset)]
    assert names == ["flat_case", "s0001", "s0002", "s0003_bad"]


def test_find_cases_refuses_a_single_case_folder(tmp_path):
    write_case(tmp_path / "one", "plain")
    with pytest.raises(ConversionError, match="one folder per case"):
        find_cases(tmp_path / "one")
    with pytest.raises(ConversionError, match="no such folder"):
        find_cases(tmp_path / "missing")


def test_convert_resume_and_failures(dataset, tmp_path):
    out = tmp_path / "out"
    seen = []
    s = convert_dataset(dataset, out, on_result=seen.append)
    assert sorted(r.case for r in s.converted) == ["flat_case", "s0001", "s0002"]
    assert [r.case for r in s.failed] == ["s0003_bad"]
    assert "liver.nii.gz" in s.failed[0].error
    assert len(seen) == 4 and not s.ok
    assert s.src_bytes > 0 and 0 < s.dst_bytes
    text = format_summary(s)
    assert "3 converted" in text and "1 failed" in text and "s0003_bad" in text and "->" in text
    assert not (out / "s0003_bad.mska").exists()
    with MaskArchive(out / "s0001.mska") as ar:
        assert sorted(ar.all_names()) == ["empty_organ", "liver", "spleen", "tumor"]
    # resume: finished cases are skipped (not rewritten), the bad one is tried again
    mtime = (out / "s0001.mska").stat().st_mtime_ns
    s2 = convert_dataset(dataset, out)
    assert sorted(r.case for r in s2.skipped) == ["flat_case", "s0001", "s0002"]
    assert [r.case for r in s2.failed] == ["s0003_bad"]
    assert (out / "s0001.mska").stat().st_mtime_ns == mtime
    # a damaged/partial result is not "finished": it is redone
    (out / "s0002.mska").write_bytes(b"partial")
    s3 = convert_dataset(dataset, out)
    assert [r.case for r in s3.converted] == ["s0002"]
    # overwrite converts everything again
    s4 = convert_dataset(dataset, out, overwrite=True)
    assert len(s4.converted) == 3


def test_interrupted_run_leaves_no_final_file(dataset, tmp_path, monkeypatch):
    """A case that dies half-way (here: during encoding) leaves nothing under its final name."""
    import medmask.convert.nifti_folder as nifti

    out = tmp_path / "out"
    real = nifti.binary_file_mask
    third = sorted(p.name for p in (dataset / "s0001" / "segmentations").iterdir())[2]

    def dying(path, space, **kw):
        # chosen by name, not by a count of calls: the files may be read in forked worker
        # processes, each with its own copy of any counter
        if Path(path).name == third:
            raise KeyboardInterrupt  # as if Ctrl-C / kill hit the worker
        return real(path, space, **kw)

    monkeypatch.setattr(nifti, "binary_file_mask", dying)
    with pytest.raises(KeyboardInterrupt):
        convert_dataset(dataset, out, cases=["s0001"])
    assert not (out / "s0001.mska").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.setattr(nifti, "binary_file_mask", real)
    s = convert_dataset(dataset, out, cases=["s0001"])
    assert [r.case for r in s.converted] == ["s0001"]


@pytest.mark.parametrize("pool", [ThreadPoolExecutor, ProcessPoolExecutor])
def test_any_executor(dataset, tmp_path, pool):
    with pool(2) as ex:
        s = convert_dataset(dataset, tmp_path / "out", ex)
    assert len(s.converted) == 3 and len(s.failed) == 1
    # same bytes as a serial run: workers change nothing in the result
    serial = convert_dataset(dataset, tmp_path / "serial")
    for r in serial.converted:
        with MaskArchive(tmp_path / "out" / f"{r.case}.mska") as a, MaskArchive(tmp_path / "serial" / f"{r.case}.mska") as b:
            for n in a.all_names():
                assert a.load_segmask(n).same_content(b.load_segmask(n))


def test_dask_local_cluster(dataset, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        s = convert_dataset(dataset, tmp_path / "out", client.get_executor())
    assert sorted(r.case for r in s.converted) == ["flat_case", "s0001", "s0002"]
    assert [r.case for r in s.failed] == ["s0003_bad"]
    with MaskArchive(tmp_path / "out" / "s0002.mska") as ar:
        liver = ar.load_segmask("liver")
        assert liver.data.any() and np.all(liver.data.shape == (11, 17, 13))


@pytest.mark.slow
def test_totalseg_copies(tmp_path, totalseg_dir):
    root = tmp_path / "ts"
    for i in range(2):
        (root / f"s{i:04d}").mkdir(parents=True)
        os.symlink(totalseg_dir.resolve(), root / f"s{i:04d}" / "segmentations")
    s = convert_dataset(root, tmp_path / "out")
    assert len(s.converted) == 2 and s.ok
    assert s.src_bytes / s.dst_bytes > 20


def test_a_source_without_cases_is_an_error_and_creates_nothing(tmp_path):
    from medmask.batch import convert_dataset
    from medmask.errors import ConversionError

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes").mkdir()
    with pytest.raises(ConversionError, match="no cases found"):
        convert_dataset(tmp_path / "src", tmp_path / "dst")
    assert not (tmp_path / "dst").exists()
