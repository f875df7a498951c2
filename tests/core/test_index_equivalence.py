"""The 2.2 index (binary table) against the 2.1 JSON index writer it replaced: randomly built
archives (seeded) must read back identically through every public API, before and after edits
in mode "a"; and a 2.1 file edited once becomes byte for byte the file 2.2 would have written."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

from medmask import MaskArchive, SegmentationMask
from medmask.core.image_ref import ImageReference
from medmask.format import v2
from medmask.stats.api import compute_stats
from medmask.storage.verify import verify_file

from tests.conftest import oblique_space

NAMES = ["liver", "Leber", "肝臓", "poumon_gauche", "rib 12 (left)", "ü" * 3, "x" * 300, "a/b", "🫁 lung",
         "名前" * 40]


def _json_21_index(kind, space, entries, writer, image=None, attributes=None, review=None, minor=None):
    return zstandard.ZstdCompressor(write_content_size=True).compress(
        v2.encode_index_json(kind, space, entries, writer, image, attributes, review))


@pytest.fixture
def as_21(monkeypatch):
    """Within it, MaskArchive writes what medmask 0.3.0 wrote: a 2.1 header and a JSON index."""
    def use():
        monkeypatch.setattr(v2, "encode_index", _json_21_index)
        monkeypatch.setattr(v2, "pack_header", _pack_header_21)

    return use


_pack_header = v2.pack_header


def _pack_header_21(*args, minor=None):
    return _pack_header(*args, minor=1)


def random_masks(seed: int, shape=(6, 7, 9)) -> tuple[dict[str, SegmentationMask], dict]:
    rng = np.random.default_rng(seed)
    space = oblique_space(shape)
    n = [300, 1, 2, 5, 17, 40][seed % 6]
    shared = [{"source": "TotalSegmentator", "version": 2}, {"affine": [[0.1 * i + j for j in range(4)] for i in range(4)]},
              {"rater": "ä", "nested": {"k": [1, None, True, 2.5]}}]
    masks = {}
    used: set[str] = set()
    for i in range(n):
        name = f"{NAMES[int(rng.integers(len(NAMES)))]}_{i}" if rng.random() < 0.5 else f"e{i}"
        used.add(name)
        kind = rng.choice(["empty", "binary", "multi8", "multi16", "multi32"])
        dtype = {"empty": np.uint8, "binary": bool, "multi8": np.uint8, "multi16": np.uint16,
                 "multi32": np.uint32}[kind]
        data = np.zeros(shape, dtype)
        if kind == "binary":
            data[tuple(slice(int(a), int(a) + int(rng.integers(1, 4))) for a in rng.integers(0, 5, 3))] = True
            mapping = {name[:60] if rng.random() < 0.5 else "fg": 1}
        elif kind != "empty":
            k = int(rng.integers(1, 5))
            top = {"multi8": 255, "multi16": 65535, "multi32": 2**32 - 1}[kind]
            values = sorted({int(v) for v in rng.integers(1, top, k, endpoint=True)})
            mapping = {f"{NAMES[int(rng.integers(len(NAMES)))][:40]}#{j}": v for j, v in enumerate(values)}
            for v in values:
                if rng.random() < 0.8:  # sometimes a label without voxels
                    z, y, x = (int(c) for c in rng.integers(0, shape, 3))
                    data[z:z + 2, y:y + 3, x] = v
        else:
            mapping = {name: 1} if rng.random() < 0.5 else {"nothing": int(rng.integers(1, 255))}
        colors = {k: tuple(float(c) for c in rng.random(4).round(3)) for k in mapping if rng.random() < 0.4}
        metadata = {}
        if rng.random() < 0.6:
            metadata.update(shared[int(rng.integers(len(shared)))])
        if rng.random() < 0.3:
            metadata["own"] = {"i": i, "text": "naïve " * int(rng.integers(0, 5))}
        masks[name] = SegmentationMask(data, mapping, space=space, colors=colors, metadata=metadata)
    archive_level = {}
    if rng.random() < 0.5:
        archive_level["attributes"] = {"study": "s0000", "readers": ["a", "b"], "ü": 1}
    if rng.random() < 0.5:
        archive_level["image"] = True
    return masks, archive_level


def write(path: Path, masks, archive_level) -> None:
    with MaskArchive(path, "w") as a:
        for name, m in masks.items():
            a.add_segmask(m, name)
        if archive_level.get("attributes"):
            a.attributes = archive_level["attributes"]
        if archive_level.get("image"):
            a.image_reference = ImageReference.from_image(path.parent / "ct.nii.gz", next(iter(masks.values())).space,
                                                          path)


def everything(path: Path) -> dict:
    """All a user can read from the file, as plain comparable data."""
    out: dict = {}
    with MaskArchive(path) as a:
        out["names"] = a.names
        out["space"] = v2.space_to_dict(a.space)
        out["image"] = None if a.image_reference is None else a.image_reference.to_json()
        out["attributes"] = a.attributes
        out["infos"] = [a.entry_info(n) for n in a.names]
        out["mappings"] = {n: m.to_dict() for n, m in a.read_all_mapping().items()}
        loaded = {}
        for n, m in a.read_all_masks().items():
            crop = None if m.bbox is None else m.crop_data
            loaded[n] = (m.mapping.to_dict(), str(m.dtype), m.bbox, sorted(m.colors.items()),
                         json.dumps(m.metadata), list(m.colors), None if crop is None else crop.tobytes(),
                         zlib.crc32(np.ascontiguousarray(m.data).tobytes()),
                         None if m.bbox is None else v2.space_to_dict(m.crop_space))
        out["loaded"] = loaded
        out["verify"] = a.verify()
    v = verify_file(path, deep=True)
    out["verify_deep"] = (v.entries, v.problems)
    out["stats"] = compute_stats(str(path))
    return out


def two_archive_paths(tmp_path):
    """(new, old): one file name in two folders, so whatever mentions the file name compares equal."""
    for sub in ("new", "old"):
        (tmp_path / sub).mkdir()
    return tmp_path / "new" / "case.mska", tmp_path / "old" / "case.mska"


@pytest.mark.parametrize("seed", range(6))
def test_2_2_reads_back_what_the_2_1_writer_wrote(tmp_path, as_21, seed):
    masks, archive_level = random_masks(seed)
    new, old = two_archive_paths(tmp_path)
    write(new, masks, archive_level)
    as_21()
    write(old, masks, archive_level)
    assert old.read_bytes()[4:6] == bytes([2, 1]) and new.read_bytes()[4:6] == bytes([2, 2])
    for p, table in ((old, False), (new, True)):
        data = p.read_bytes()
        h = v2.unpack_header(data, len(data))
        assert v2.table2.is_table(v2.decompress_index(data[h.index_offset:h.index_offset + h.index_length], h)) == table
    assert old.read_bytes()[64:] != new.read_bytes()[64:]  # the indexes differ, the payloads do not
    want = everything(old)
    assert everything(new) == want
    # the records are those the writer was given
    assert [(i.mapping, i.colors, i.metadata) for i in want["infos"]] == \
        [(m.mapping.to_dict(), m.colors, m.metadata) for m in masks.values()]


@pytest.mark.parametrize("seed", [2, 4, 5])
def test_edits_in_mode_a_agree_and_a_2_1_file_becomes_the_2_2_file(tmp_path, monkeypatch, seed):
    from medmask.format import review
    monkeypatch.setattr(review, "now", lambda: "2026-01-01T00:00:00Z")  # edit records carry the time
    masks, archive_level = random_masks(seed)
    new, old = two_archive_paths(tmp_path)
    write(new, masks, archive_level)
    with monkeypatch.context() as m:
        m.setattr(v2, "encode_index", _json_21_index)
        m.setattr(v2, "pack_header", _pack_header_21)
        write(old, masks, archive_level)
    names = list(masks)
    extra = SegmentationMask(np.eye(7, 9, dtype=np.uint16)[None].repeat(6, 0) * 700, {"diag": 700},
                             space=oblique_space((6, 7, 9)), colors={"diag": (0, 1, 0, 1)}, metadata={"k": "v"})
    edits = [
        lambda a: a.add_segmask(extra, "appended ✓"),
        lambda a: a.set_attributes(names[-1], metadata={"source": "TotalSegmentator", "version": 2, "x": 1}),
        lambda a: a.set_attributes("appended ✓", colors={"diag": (1, 0, 0, 0.5)}),
        lambda a: a.rename(names[0], names[0] + " renamed"),
        lambda a: a.replace(names[len(names) // 2], extra) if len(names) > 2 else None,
        lambda a: a.remove(names[1]) if len(names) > 1 else None,
    ]
    for edit in edits:
        for p in (new, old):
            a = MaskArchive(p, "a")
            edit(a)
            a.close()
        assert everything(old) == everything(new)
        assert old.read_bytes() == new.read_bytes()  # rewritten by the same 2.2 writer


def test_two_handles_on_a_2_2_file_one_commits_the_other_is_refused(tmp_path):
    from medmask.errors import ConcurrentModificationError
    masks, archive_level = random_masks(2)
    p = tmp_path / "c.mska"
    write(p, masks, archive_level)
    first, second = MaskArchive(p, "a"), MaskArchive(p, "a")
    names = list(masks)
    first.rename(names[0], "by first")
    data = p.read_bytes()
    with pytest.raises(ConcurrentModificationError, match="NOT written"):
        second.remove(names[-1])
    assert p.read_bytes() == data
    assert second.names == first.names  # the refused handle shows the file as it is now
    second.remove(names[-1])  # and can apply its change again
    assert MaskArchive(p).names == [n for n in first.names if n != names[-1]]
    with pytest.raises(ConcurrentModificationError):
        first.set_attributes("by first", metadata={"stale": True})
    first.close()
    second.close()


@pytest.mark.parametrize("name", ["golden_v2_archive.mska", "golden_v2_1_archive.mska"])
def test_upgrade_of_golden_json_indexes_keeps_every_record(tmp_path, name, capsys):
    import shutil
    from medmask.cli import main
    p = shutil.copy(Path(__file__).resolve().parents[1] / "data" / name, tmp_path / name)
    before = everything(Path(p))
    assert main(["upgrade", str(p)]) == 0
    after = everything(Path(p))
    assert Path(p).read_bytes()[4:6] == bytes([2, 2])
    for key in before:
        if key != "infos":
            assert after[key] == before[key], key
    # same records but for the payload offsets, which the rewrite may move
    strip = [(i.name, i.dtype, i.mapping, i.bbox, i.codec, i.length, i.crc32, i.counts, i.colors, i.metadata)
             for i in before["infos"]]
    assert [(i.name, i.dtype, i.mapping, i.bbox, i.codec, i.length, i.crc32, i.counts, i.colors, i.metadata)
            for i in after["infos"]] == strip
