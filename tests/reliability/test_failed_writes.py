"""A failed commit leaves file and handle as the file is, with one MedMaskError naming the archive
(issue 12, item 4); links, ownership and read-only files (item 5)."""
import errno
import os
import tempfile

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from medmask.errors import FormatError, LabelError, MedMaskError, WriteError

from . import hostile as H

SHAPE = (4, 8, 8)


def mask(k: int = 1, **kw) -> SegmentationMask:
    arr = np.zeros(SHAPE, np.uint8)
    arr[1:3, k:k + 3, 2:5] = 1
    return SegmentationMask(arr, {"a": 1}, H.sample_space(SHAPE), **kw)


@pytest.fixture
def four(tmp_path):
    p = tmp_path / "four.mska"
    with MaskArchive(p, "w") as w:
        for k in range(4):
            w.add_segmask(mask(k), f"e{k}")
    return p


def test_disk_full_is_rolled_back_and_names_the_archive(four, monkeypatch):
    a = MaskArchive(four, "a")
    before = four.read_bytes()
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(WriteError, match="No space left") as err:
        a.add_segmask(mask(), "e4")
    assert err.value.path == str(four) and err.value.errno == errno.ENOSPC
    assert isinstance(err.value, OSError) and isinstance(err.value, MedMaskError)
    assert four.read_bytes() == before
    assert a.names == ["e0", "e1", "e2", "e3"]  # the object says what the file says
    monkeypatch.setattr(os, "fsync", real_fsync)
    a.remove("e0")  # a later unrelated edit does not write the failed add
    assert MaskArchive(four).names == ["e1", "e2", "e3"]
    assert [f for f in os.listdir(four.parent) if f.startswith(".")] == []


def test_failed_first_write_in_mode_w_leaves_the_old_file(four, monkeypatch):
    before = four.read_bytes()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    w = MaskArchive(four, "w")
    with pytest.raises(WriteError):
        w.add_segmask(mask(), "new")
    assert w.names == [] and four.read_bytes() == before
    monkeypatch.undo()
    w.close()  # nothing pending: does not write an empty archive over the old one
    assert four.read_bytes() == before


@pytest.mark.parametrize("where", ["name", "label", "metadata", "metadata_key"])
def test_lone_surrogate_is_refused_and_later_edits_work(four, where):
    a = MaskArchive(four, "a")
    bad = "liver\udce9"
    with pytest.raises((LabelError, FormatError)) as err:
        if where == "name":
            a.add_segmask(mask(), bad)
        elif where == "label":
            arr = np.zeros(SHAPE, np.uint8)
            arr[0, 0, 0] = 1
            a.add_segmask(SegmentationMask(arr, {bad: 1}, H.sample_space(SHAPE)), "x")
        elif where == "metadata":
            a.set_attributes("e0", metadata={"note": bad})
        else:
            a.add_segmask(mask(metadata={bad: 1}), "x")
    assert err.value.path == str(four) and "Unicode" in str(err.value)
    assert a.names == ["e0", "e1", "e2", "e3"]
    a.remove("e1")
    assert MaskArchive(four).names == ["e0", "e2", "e3"]
    with pytest.raises(LabelError):
        a.rename("e0", bad)


def test_metadata_nested_1000_deep(four, tmp_path):
    deep: dict = {}
    cur = deep
    for _ in range(1200):
        cur["x"] = {}
        cur = cur["x"]
    a = MaskArchive(four, "a")
    with pytest.raises(MedMaskError, match="nests deeper") as err:
        a.add_segmask(mask(metadata=deep), "deep")
    assert err.value.path == str(four)
    with pytest.raises(MedMaskError, match="nests deeper"):
        a.set_attributes("e0", metadata=deep)
    with pytest.raises(MedMaskError, match="nests deeper"):
        save_mask(mask(metadata=deep), tmp_path / "deep.msk")
    cyclic: list = []
    cyclic.append(cyclic)
    with pytest.raises(MedMaskError):
        a.set_attributes("e0", metadata={"loop": cyclic})
    assert MaskArchive(four).names == a.names


def test_saving_onto_a_directory(tmp_path):
    d = tmp_path / "folder.mska"
    d.mkdir()
    with pytest.raises(WriteError, match="is a directory") as err:
        with MaskArchive(d, "w") as w:
            w.add_segmask(mask(), "x")
    assert err.value.path == str(d)
    with pytest.raises(WriteError, match="is a directory") as err:
        save_mask(mask(), d)
    assert err.value.path == str(d) and os.listdir(d) == []


def test_saving_into_a_read_only_directory_names_the_archive(tmp_path, monkeypatch):
    target = tmp_path / "ro" / "a.mska"
    target.parent.mkdir()
    if os.geteuid() == 0:  # root writes anywhere: make creating the temporary file fail as it would
        def denied(*args, dir=None, **kw):
            raise PermissionError(errno.EACCES, "Permission denied", os.path.join(dir, ".a.mska.xyz.tmp"))
        monkeypatch.setattr(tempfile, "mkstemp", denied)
    else:
        target.parent.chmod(0o555)
    try:
        with pytest.raises(WriteError, match="Permission denied") as err:
            with MaskArchive(target, "w") as w:
                w.add_segmask(mask(), "x")
        assert err.value.path == str(target) and ".tmp" not in str(err.value)
        with pytest.raises(WriteError) as err:
            save_mask(mask(), target.with_suffix(".msk"))
        assert err.value.path == str(target.with_suffix(".msk"))
    finally:
        target.parent.chmod(0o755)


# --- links and ownership (item 5) --------------------------------------------------------------
def test_editing_through_a_symlink_replaces_the_target(four, tmp_path):
    link = tmp_path / "sub" / "link.mska"
    link.parent.mkdir()
    link.symlink_to(four)
    with MaskArchive(link, "a") as a:
        a.remove("e0")
    assert link.is_symlink() and os.readlink(link) == str(four)
    assert MaskArchive(four).names == ["e1", "e2", "e3"]
    save_mask(mask(), tmp_path / "m.msk")
    (tmp_path / "m_link.msk").symlink_to("m.msk")  # relative link
    save_mask(mask(2), tmp_path / "m_link.msk")
    assert (tmp_path / "m_link.msk").is_symlink()
    assert load_mask(tmp_path / "m.msk").bbox == mask(2).bbox
    assert [f for f in os.listdir(tmp_path / "sub") if f != "link.mska"] == []  # no temp beside the link


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.mska"
    link.symlink_to(tmp_path / "real.mska")
    with MaskArchive(link, "a") as a:
        a.add_segmask(mask(), "x")
    assert link.is_symlink() and MaskArchive(tmp_path / "real.mska").names == ["x"]


@pytest.mark.skipif(not hasattr(os, "chown"), reason="POSIX ownership")
def test_owner_group_and_mode_are_kept(four):
    os.chmod(four, 0o640)
    st = os.stat(four)
    groups = os.getgroups()
    want_uid, want_gid = (st.st_uid, st.st_gid)
    if os.geteuid() == 0:
        want_uid, want_gid = 4242, 4343
        os.chown(four, want_uid, want_gid)
    elif len(groups) > 1:
        want_gid = next(g for g in groups if g != st.st_gid)
        os.chown(four, -1, want_gid)
    with MaskArchive(four, "a") as a:
        a.remove("e0")
    st = os.stat(four)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (want_uid, want_gid, 0o640)


def test_read_only_file_is_refused(four):
    os.chmod(four, 0o444)
    before = four.read_bytes()
    a = MaskArchive(four, "a")
    with pytest.raises(WriteError, match="read-only") as err:
        a.remove("e0")
    assert err.value.path == str(four) and four.read_bytes() == before
    assert a.names == ["e0", "e1", "e2", "e3"]
    with pytest.raises(WriteError, match="read-only"):
        save_mask(mask(), four)
    assert four.read_bytes() == before and MaskArchive(four).names == a.names  # reading still works


def test_hard_links_keep_the_old_content(four, tmp_path):
    """Documented in docs/reliability.md: a replace gives the edited name a new inode."""
    other = tmp_path / "hard.mska"
    os.link(four, other)
    with MaskArchive(four, "a") as a:
        a.remove("e0")
    assert MaskArchive(four).names == ["e1", "e2", "e3"]
    assert MaskArchive(other).names == ["e0", "e1", "e2", "e3"]
