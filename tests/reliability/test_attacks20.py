"""The attacks of issue 20, each ending in one MedMaskError naming the file, quickly and in
bounded memory (the same files are rows of benchmarks/bench_attacks.py)."""
import time
import tracemalloc

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.cli import main as cli
from medmask.errors import LimitError

from . import attacks20 as A

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
