"""Review decisions and edit history stored in an archive (issue 22): the API contract."""
from __future__ import annotations

import getpass
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.errors import (ArchiveModeError, ConcurrentModificationError, EntryNotFoundError, FormatError,
                            MedMaskError)
from medmask.format import review as review_format
from medmask.format import table, v2

GOLDEN = Path(__file__).resolve().parents[1] / "data"
REPO = Path(__file__).resolve().parents[2]
MAIN_BEFORE_REVIEW = "e270203"  # main as of issue 22: a 2.2 reader that knows nothing of review data


@pytest.fixture
def archive(tmp_path, masks):
    p = tmp_path / "case.mska"
    with MaskArchive(p, "w", space=masks["liver"].space) as a:
        a.add_segmasks(masks)
    return p


def edited(mask: SegmentationMask, add=(slice(14, 16), slice(5, 7), slice(5, 8)), remove=None) -> SegmentationMask:
    data = mask.data.copy()
    data[add] = 1
    if remove is not None:
        data[remove] = 0
    return SegmentationMask(data, mask.mapping, space=mask.space)


def test_set_review_and_clear(archive):
    a = MaskArchive(archive, "a")
    a.set_review("liver", "accepted", reviewer="dr.a", comment="clean edges")
    a.set_review("tumor", "needs_fix")
    got = MaskArchive(archive).review
    assert set(got) == {"liver", "tumor"}
    assert {k: got["liver"][k] for k in ("status", "reviewer", "comment")} == \
        {"status": "accepted", "reviewer": "dr.a", "comment": "clean edges"}
    assert got["tumor"]["reviewer"] == getpass.getuser() and got["tumor"]["comment"] == ""
    assert got["liver"]["time"].endswith("Z") and len(got["liver"]["time"]) == 20
    a.set_review("tumor", "fixed")
    a.set_review("liver", "unreviewed")
    got = MaskArchive(archive).review
    assert list(got) == ["tumor"] and got["tumor"]["status"] == "fixed"
    statuses = [r["status"] for r in MaskArchive(archive).history if r["action"] == "review"]
    assert statuses == ["accepted", "needs_fix", "fixed", "unreviewed"]  # earlier decisions kept


def test_bad_calls_name_the_problem(archive):
    a = MaskArchive(archive, "a")
    with pytest.raises(MedMaskError, match="one of .*'accepted'.*got 'ok'"):
        a.set_review("liver", "ok")
    with pytest.raises(EntryNotFoundError, match="no entry named 'lung'"):
        a.set_review("lung", "accepted")
    with pytest.raises(MedMaskError, match="more than 1000"):
        a.set_review("liver", "rejected", comment="x" * 1001)
    with pytest.raises(MedMaskError, match="reviewer"):
        a.set_review("liver", "rejected", reviewer=" ")
    with pytest.raises(ArchiveModeError, match="read-only"):
        MaskArchive(archive).set_review("liver", "accepted")
    assert MaskArchive(archive).review == {}


def test_voxel_edits_are_recorded(archive, masks):
    a = MaskArchive(archive, "a")
    a.replace("liver", edited(a["liver"], remove=(slice(2, 3), slice(3, 20), slice(4, 24))))
    a.add_segmask(edited(a["tumor"], add=(slice(0, 1), slice(0, 1), slice(0, 2))), "tumor", replace=True)
    a["empty"] = masks["empty"]  # same voxels: nothing changed, nothing recorded
    with a:  # like napari Save: several entries in one write
        a.replace("liver_segments", edited(a["liver_segments"]))
    hist = MaskArchive(archive).history
    assert [(r["action"], r["entry"]) for r in hist] == [("voxels", "liver"), ("voxels", "tumor"),
                                                        ("voxels", "liver_segments")]
    liver = hist[0]
    assert (liver["voxels_added"], liver["voxels_removed"]) == (2 * 2 * 3, 17 * 20)
    assert liver["box"] == [[2, 16], [3, 20], [4, 24]]
    assert liver["user"] == getpass.getuser() and liver["time"].endswith("Z")
    assert hist[1]["box"] == [[0, 1], [0, 1], [0, 2]] and hist[1]["voxels_added"] == 2
    assert hist[2]["voxels_added"] == 12 and hist[2]["voxels_removed"] == 0
    assert MaskArchive(archive).voxel_edits() == {"liver": (12, 340), "tumor": (2, 0), "liver_segments": (12, 0)}


def test_relabelled_voxels_of_a_multi_label_entry(archive):
    a = MaskArchive(archive, "a")
    segs = a["liver_segments"].data.copy()
    segs[6, 3:20, 4:24] = 2  # a slab moved from upper to lower
    a.replace("liver_segments", SegmentationMask(segs, a["liver_segments"].mapping, space=a.space))
    (r,) = MaskArchive(archive).history
    assert (r["voxels_added"], r["voxels_removed"], r["voxels_relabelled"]) == (0, 0, 17 * 20)
    assert r["box"] == [[6, 7], [3, 20], [4, 24]]


def test_decisions_follow_renames_vanish_with_removals_and_survive_other_edits(archive, masks):
    a = MaskArchive(archive, "a")
    for name in ("liver", "tumor", "ribs"):
        a.set_review(name, "accepted")
    a.replace("liver", edited(a["liver"]))
    a.rename("liver", "hepar")
    a.remove("tumor")
    a.set_attributes("ribs", colors={"rib_0": "#ff0000"}, metadata={"x": 1})
    a.add_segmask(masks["tumor"], "tumor")  # a new entry of a removed one's name starts unreviewed
    a.attributes = {"study": "s1"}
    a.rewrite()
    b = MaskArchive(archive)
    assert set(b.review) == {"hepar", "ribs"}
    actions = [(r["action"], r["entry"]) for r in b.history]
    assert ("rename", "hepar") in actions and ("remove", "tumor") in actions
    assert ("voxels", "hepar") in actions  # the edit made before the rename follows the entry
    assert b.voxel_edits() == {"hepar": (12, 0)}
    rename = next(r for r in b.history if r["action"] == "rename")
    assert rename["from"] == "liver"


def test_upgrade_keeps_review_data(archive, tmp_path):
    from medmask.cli import main
    a = MaskArchive(archive, "a")
    a.set_review("liver", "rejected", comment="leaks into the heart")
    # make it a 2.1 file (JSON index) carrying the review keys, as a 2.1 writer that knew them would
    import zlib
    raw = archive.read_bytes()
    header = v2.unpack_header(raw, len(raw))
    doc = v2.index_document(raw[header.index_offset:header.index_offset + header.index_length], header)
    assert doc["review"]["liver"]["status"] == "rejected"
    import zstandard
    index = zstandard.ZstdCompressor(write_content_size=True).compress(json.dumps(doc).encode())
    old = tmp_path / "old.mska"
    body = raw[:header.index_offset]
    old.write_bytes(v2.pack_header(v2.MAGIC_ARCHIVE, len(body), len(index), zlib.crc32(index), minor=1)
                    + body[v2.HEADER_SIZE:] + index)
    assert MaskArchive(old).review["liver"]["comment"] == "leaks into the heart"
    assert main(["upgrade", str(old)]) == 0
    assert old.read_bytes()[4:6] == bytes([2, 2])
    assert MaskArchive(old).review == MaskArchive(archive).review
    assert MaskArchive(old).history == MaskArchive(archive).history


def test_concurrent_reviewers_follow_the_conflict_rules(archive):
    one, two = MaskArchive(archive, "a"), MaskArchive(archive, "a")
    one.set_review("liver", "accepted", reviewer="one")
    with pytest.raises(ConcurrentModificationError):
        two.set_review("tumor", "rejected", reviewer="two")  # stale handle: nothing written
    assert set(MaskArchive(archive).review) == {"liver"}
    assert set(two.review) == {"liver"}  # the handle now shows the file as it is
    two.set_review("tumor", "rejected", reviewer="two")
    got = MaskArchive(archive).review
    assert (got["liver"]["reviewer"], got["tumor"]["reviewer"]) == ("one", "two")


def test_failed_batch_drops_its_decisions(archive):
    a = MaskArchive(archive, "a")
    with pytest.raises(RuntimeError):
        with a:
            a.set_review("liver", "accepted")
            raise RuntimeError("stop")
    assert MaskArchive(archive).review == {} and MaskArchive(archive).history == []


def test_history_is_bounded_and_summarised_with_a_count(archive):
    a = MaskArchive(archive, "a")
    liver = a["liver"]
    with a:
        for i in range(700):
            a.set_review("liver", ("accepted", "needs_fix")[i % 2], comment=f"pass {i}: " + "y" * 60)
        for i in range(5):
            a.replace("liver", edited(liver, add=(slice(14, 15), slice(i, i + 1), slice(0, 1))))
    b = MaskArchive(archive)
    hist = b.history
    summary, records = hist[0], hist[1:]
    assert summary["action"] == "summary"
    assert summary["count"] + len(records) == 705  # never silently dropped
    assert len(records) <= review_format.MAX_RECORDS
    raw = archive.read_bytes()
    header = v2.unpack_header(raw, len(raw))
    head = table.Table(v2.decompress_index(raw[header.index_offset:], header), 1 << 30, None).doc
    assert len(json.dumps(head["history"])) <= v2.MAX_UNKNOWN_KEY_BYTES  # older readers still open it
    assert b.review["liver"]["comment"].startswith("pass 699")
    assert b.voxel_edits()["liver"] == (5, 4)  # one voxel added, then moved four times
    added = sum(r["voxels_added"] for r in records if r["action"] == "voxels")
    assert added + summary["voxels"].get("liver", [0, 0])[0] == b.voxel_edits()["liver"][0]


def test_malformed_review_data_spoils_only_the_review(archive, tmp_path):
    import zlib
    import zstandard
    raw = archive.read_bytes()
    header = v2.unpack_header(raw, len(raw))
    doc = v2.index_document(raw[header.index_offset:], header)
    doc["review"] = {"liver": {"status": "great"}}
    index = zstandard.ZstdCompressor(write_content_size=True).compress(json.dumps(doc).encode())
    bad = tmp_path / "bad.mska"
    body = raw[:header.index_offset]
    bad.write_bytes(v2.pack_header(v2.MAGIC_ARCHIVE, len(body), len(index), zlib.crc32(index), minor=1)
                    + body[v2.HEADER_SIZE:] + index)
    a = MaskArchive(bad)
    assert a["liver"].data.any()  # the masks read
    with pytest.raises(FormatError, match=r"bad.mska: index 'review' of entry 'liver': malformed decision"):
        a.review
    b = MaskArchive(bad, "a")  # edits go on; the damaged review data is kept as it was, not recorded over
    b.rename("tumor", "lesion")
    b.remove("ribs")
    assert "lesion" in MaskArchive(bad) and "ribs" not in MaskArchive(bad)
    raw = bad.read_bytes()
    header = v2.unpack_header(raw, len(raw))
    assert v2.index_document(raw[header.index_offset:], header)["review"] == {"liver": {"status": "great"}}
    with pytest.raises(FormatError, match="malformed decision"):
        b.set_review("liver", "accepted")


def test_v1_files_cannot_store_decisions(compat_dir, tmp_path):
    p = tmp_path / "old.mska"
    shutil.copyfile(compat_dir / "archive.mska", p)
    a = MaskArchive(p, "a")
    with pytest.raises(ArchiveModeError, match="version 1 files cannot store review decisions"):
        a.set_review("liver", "accepted")
    a.remove("tumor")  # still editable; v1 has no place for history
    assert a.history == [] and p.read_bytes()[4] == 1
    up = MaskArchive(p, "a", format_version=2)
    up.set_review("liver", "accepted")
    assert MaskArchive(p).review["liver"]["status"] == "accepted"


def test_a_reader_that_does_not_know_review_keys_opens_the_file(archive, monkeypatch):
    """What a 2.2 reader without this feature does: the keys are unknown, small enough, ignored."""
    a = MaskArchive(archive, "a")
    a.set_review("liver", "accepted", comment="z" * 1000)
    a.replace("liver", edited(a["liver"]))
    monkeypatch.setattr(table, "HEAD_KEYS", table.HEAD_KEYS - {"review", "history"})
    raw = archive.read_bytes()
    header = v2.unpack_header(raw, len(raw))
    index = v2.decode_index_full(raw[header.index_offset:header.index_offset + header.index_length], header)
    assert index.names == list(MaskArchive(archive).names)


def _reader_before_review(tmp_path: Path) -> Path | None:
    if shutil.which("git") is None:
        return None
    dest = tmp_path / "old_medmask"
    dest.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", MAIN_BEFORE_REVIEW, "medmask"],
                             capture_output=True)
    if archive.returncode != 0:
        return None
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


@pytest.mark.parametrize("fixture", [pytest.param("generated", marks=pytest.mark.slow), "golden"])
def test_medmask_before_review_opens_files_with_review_data(archive, tmp_path, fixture):
    """The reader code of main before this feature (git archive of that commit) opens and decodes
    an archive carrying decisions and a long history."""
    old = _reader_before_review(tmp_path)
    if old is None:
        pytest.skip(f"git or commit {MAIN_BEFORE_REVIEW} not available")
    if fixture == "golden":
        path = GOLDEN / "golden_v2_2_review.mska"
    else:
        path = archive
        a = MaskArchive(path, "a")
        liver = a["liver"]
        with a:
            for i in range(400):
                a.set_review("liver", "needs_fix", comment="c" * 200)
                a.replace("liver", edited(liver, add=(slice(14, 15), slice(i % 30, i % 30 + 1), slice(0, 1))))
    expected = {n: int(m.data.astype(np.int64).sum()) for n, m in MaskArchive(path).read_all_masks().items()}
    code = ("import json, sys; from medmask import MaskArchive; a = MaskArchive(sys.argv[1]); "
            "print(json.dumps({n: int(a[n].data.astype('int64').sum()) for n in a}))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(old)}, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == expected


def test_golden_review_file_decodes_forever():
    exp = json.loads((GOLDEN / "golden_v2_2_review.mska.json").read_text())
    a = MaskArchive(GOLDEN / "golden_v2_2_review.mska")
    assert a.review == exp["review"] and a.history == exp["history"]
    assert list(a.names) == list(exp["entries"])
    import hashlib
    for n in a:
        assert hashlib.sha256(np.ascontiguousarray(a[n].data).tobytes()).hexdigest() == \
            exp["entries"][n]["array_sha256"]
    assert {r["action"] for r in a.history} == {"review", "voxels", "rename", "remove"}
