"""Index bombs and payload bombs: small valid files asking for huge memory are refused with a
LimitError naming the file, before the memory is taken (issue 12, items 1-2)."""
import json
import re
import zlib

import numpy as np
import pytest
import zstandard

from medmask import LimitError, MaskArchive, SegmentationMask, limits, load_mask
from medmask.errors import FormatError, MedMaskError
from medmask.format import jsonguard, v2
from medmask.format.records import EntryInfo
from medmask.storage.writer import write_v2

from . import hostile as H

MiB = 1 << 20


@pytest.mark.parametrize("kind", H.INDEX_BOMBS)
def test_index_bombs_are_refused_before_parsing(tmp_path, kind):
    data = H.index_bomb(kind)
    p = H.write(str(tmp_path / "bomb.mska"), data)
    (result, name), peak = H.measured_outcome(p)
    assert (result, name) == ("error", "LimitError")
    assert peak < 1 * MiB, f"{kind}: {peak} bytes traced for a {len(data)}-byte file"


@pytest.mark.parametrize("unit", [b'{"a":0}', b"{}", b"[[0]]", '"\U0001F600"'.encode(), b"1.5"])
def test_densest_index_the_rule_accepts_stays_under_100_mb(tmp_path, unit):
    data = H.index_bomb_at_limit(unit)
    p = H.write(str(tmp_path / "dense.mska"), data)
    (result, name), peak = H.measured_outcome(p)
    assert result == "error"  # the bulk sits under an unknown key
    assert peak < 100 * MiB, f"{unit!r}: {peak >> 20} MiB traced for a {len(data)}-byte file"


@pytest.mark.parametrize("byte", [b"{", b"[", b",", b":", b'"', b"0", b"\xf0"])
def test_the_counting_shortcut_never_accepts_what_counting_refuses(byte, monkeypatch):
    # small documents skip the counting pass when the dearest byte, repeated, would fit
    for n in (1, 1000, 70_000):
        raw = byte * n
        assert jsonguard.estimated_parse_bytes(raw) <= jsonguard._WORST_PER_BYTE * n
    raw = b"[" * 80_000  # 80 kB of brackets: above the 16 MiB free allowance once counted
    with pytest.raises(LimitError):
        jsonguard.check_parse_cost(raw, jsonguard.index_allowance(0), "index", "x.mska")
    monkeypatch.setattr(limits, "MEMORY_BUDGET", 1 << 20)  # a budget below the bound: counting decides
    with pytest.raises(LimitError, match="x.mska"):
        jsonguard.check_parse_cost(b"[" * 5000, jsonguard.index_allowance(0), "index", "x.mska")


def test_unknown_small_keys_are_ignored_bulky_ones_refused(tmp_path):
    doc = {"kind": "archive", "space": {"shape": [1, 1, 1]}, "entries": [], "future": {"x": 1}}
    p = H.write(str(tmp_path / "a.mska"), H.craft_v2(doc))
    assert MaskArchive(p).names == []
    doc["future"] = ["x" * 100] * 1000
    H.write(p, H.craft_v2(doc))
    with pytest.raises(FormatError, match="unknown key 'future'"):
        MaskArchive(p)


def test_big_legitimate_index_opens(tmp_path):
    """20 000 empty entries with one shared label name: the most compressible index a writer makes."""
    from spacetransformer import Space
    entries = [(EntryInfo(name=f"organ_{i}", dtype="uint8", mapping={"liver": 1}, bbox=None, codec=None,
                          offset=0, length=0, crc32=0, counts={}), lambda: b"") for i in range(20_000)]
    p = str(tmp_path / "many.mska")
    write_v2(p, "archive", Space(shape=(64, 64, 64)), entries)
    assert len(MaskArchive(p).names) == 20_000


def test_writer_refuses_an_index_readers_would_refuse(tmp_path):
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[0, 0, 0] = 1
    dense = {"points": [[0]] * 3_000_000}  # 18 MB of tiny lists, compressing ~1000x
    m = SegmentationMask(arr, {"a": 1}, H.sample_space((4, 4, 4)), metadata=dense)
    with pytest.raises(LimitError):
        with MaskArchive(tmp_path / "x.mska", "w") as a:
            a.add_segmask(m, "x")
    assert not (tmp_path / "x.mska").exists()


@pytest.fixture
def small_budget(monkeypatch):
    monkeypatch.setattr(limits, "MEMORY_BUDGET", 256 * MiB)


def test_payload_bombs_are_refused_before_allocating(tmp_path, small_budget):
    for name, data, ext, need in H.payload_bombs():
        p = H.write(str(tmp_path / f"bomb.{ext}"), data)
        with pytest.raises(LimitError) as err:
            H.read_everything(p)
        assert err.value.path == p and "memory budget" in str(err.value), name
        (result, kind), peak = H.measured_outcome(p)
        assert kind == "LimitError" and peak < 64 * MiB, f"{name}: {peak >> 20} MiB traced"


def test_default_budget_refuses_the_16_gib_v1_blob(tmp_path):
    *_, (name, data, ext, need) = H.payload_bombs()
    assert need == 16 << 30 and limits.MEMORY_BUDGET < 2 * need  # the default is half the machine's memory
    p = H.write(str(tmp_path / f"bomb.{ext}"), data)
    with pytest.raises(LimitError, match="bytes"):
        load_mask(p)


def test_budget_names_the_file_and_the_bytes(tmp_path, small_budget):
    arr = np.zeros((64, 512, 512), np.uint32)
    arr[:] = 3
    p = tmp_path / "big.mska"
    limits.MEMORY_BUDGET = 1 << 30
    with MaskArchive(p, "w") as a:
        a.add_segmask(SegmentationMask(arr, {"x": 3}, H.sample_space(arr.shape)), "big")
    limits.MEMORY_BUDGET = 32 * MiB
    with pytest.raises(LimitError) as err:
        MaskArchive(p).load_segmask("big")
    msg = str(err.value)
    assert msg.startswith(f"{p}: entry 'big'") and re.search(r"needs \d{8,} bytes \(\d+\.\d MiB\)", msg), msg


def test_allocation_failure_becomes_limit_error(tmp_path, monkeypatch):
    p = tmp_path / "a.mska"
    with MaskArchive(p, "w") as a:
        for name, m in H.sample_masks().items():
            a.add_segmask(m, name)

    def no_memory(*args, **kwargs):
        raise MemoryError()
    a = MaskArchive(p)
    from medmask.codecs import base
    broke = type("Broke", (), {"decompress": no_memory})
    monkeypatch.setattr(zstandard, "ZstdDecompressor", broke)
    monkeypatch.setattr(base, "_decompressor", broke)
    with pytest.raises(LimitError, match="out of memory") as err:
        a.load_segmask("noisy")
    assert err.value.path == str(p)
    with pytest.raises(LimitError, match="out of memory") as err:
        MaskArchive(p)
    assert err.value.path == str(p)


def test_full_volume_over_the_budget_is_refused_but_the_crop_reads(tmp_path, monkeypatch):
    arr = np.zeros((64, 256, 256), np.uint16)
    arr[10:12, 10:20, 10:20] = 7
    p = tmp_path / "big.mska"
    with MaskArchive(p, "w") as a:
        a.add_segmask(SegmentationMask(arr, {"x": 7}, H.sample_space(arr.shape)), "small")
    monkeypatch.setattr(limits, "MEMORY_BUDGET", 4 * MiB)  # the volume is 8 MiB, the crop 400 bytes
    m = MaskArchive(p).load_segmask("small")
    assert m.crop_data.sum() == 7 * 200
    with pytest.raises(LimitError, match="64x256x256 uint16 volume"):
        m.data
