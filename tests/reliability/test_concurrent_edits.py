"""Several handles editing one archive: no edit is lost silently (issue 12, item 3)."""
import os
import threading
import time

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.errors import ConcurrentModificationError, MedMaskError
from medmask.storage.locking import commit_lock

from . import editors
from . import hostile as H


@pytest.fixture
def mask():
    arr = np.zeros((4, 8, 8), np.uint8)
    arr[1:3, 2:6, 2:5] = 1
    return SegmentationMask(arr, {"a": 1}, H.sample_space((4, 8, 8)))


@pytest.fixture
def archive(tmp_path, mask):
    p = tmp_path / "a.mska"
    with MaskArchive(p, "w") as w:
        w.add_segmask(mask, "first")
    return p


def test_long_lived_handle_does_not_wipe_another_commit(archive, mask):
    a = MaskArchive(archive, "a")
    with MaskArchive(archive, "a") as b:
        b.add_segmask(mask, "from_b")
    with pytest.raises(ConcurrentModificationError, match="NOT written") as err:
        a.add_segmask(mask, "from_a")
    assert isinstance(err.value, MedMaskError) and err.value.path == str(archive)
    assert MaskArchive(archive).names == ["first", "from_b"]
    assert a.names == ["first", "from_b"]  # the handle now shows the file as it is
    a.add_segmask(mask, "from_a")  # applying the change again works
    assert MaskArchive(archive).names == ["first", "from_b", "from_a"]


@pytest.mark.parametrize("edit", ["remove", "rename", "attributes", "batch"])
def test_every_kind_of_edit_detects_the_conflict(archive, mask, edit):
    a = MaskArchive(archive, "a")
    with MaskArchive(archive, "a") as b:
        b.add_segmask(mask, "from_b")
    with pytest.raises(ConcurrentModificationError):
        if edit == "remove":
            a.remove("first")
        elif edit == "rename":
            a.rename("first", "renamed")
        elif edit == "attributes":
            a.set_attributes("first", metadata={"x": 1})
        else:
            with a:
                a.add_segmask(mask, "x")
                a.remove("first")
    assert sorted(MaskArchive(archive).names) == ["first", "from_b"]


def test_file_deleted_or_created_meanwhile(tmp_path, archive, mask):
    a = MaskArchive(archive, "a")
    os.unlink(archive)
    with pytest.raises(ConcurrentModificationError, match="deleted"):
        a.add_segmask(mask, "x")
    a.add_segmask(mask, "x")  # the handle now knows the file is gone: this creates it
    assert MaskArchive(archive).names == ["x"]

    p = tmp_path / "new.mska"
    c = MaskArchive(p, "a")
    with MaskArchive(p, "w") as other:
        other.add_segmask(mask, "theirs")
    with pytest.raises(ConcurrentModificationError, match="created"):
        c.add_segmask(mask, "mine")
    assert MaskArchive(p).names == ["theirs"]


def test_in_place_overwrite_is_detected(archive, mask, tmp_path):
    """A tool writing into the same inode (cp onto the file) changes size/mtime/header."""
    a = MaskArchive(archive, "a")
    other = tmp_path / "other.mska"
    with MaskArchive(other, "w") as w:
        w.add_segmask(mask, "one")
        w.add_segmask(mask, "two")
    with open(archive, "r+b") as f:  # same inode
        f.write(other.read_bytes())
    with pytest.raises(ConcurrentModificationError):
        a.remove("first")


def test_mode_w_overwrites_once_then_checks(archive, mask):
    w = MaskArchive(archive, "w")
    w.add_segmask(mask, "new")  # "w" means: replace whatever is there
    assert MaskArchive(archive).names == ["new"]
    with MaskArchive(archive, "a") as b:
        b.add_segmask(mask, "from_b")
    with pytest.raises(ConcurrentModificationError):
        w.add_segmask(mask, "second")


def test_commits_wait_for_the_lock(archive, mask):
    done = threading.Event()

    def commit():
        with MaskArchive(archive, "a") as b:
            b.add_segmask(mask, "waited")
        done.set()

    with commit_lock(os.path.realpath(archive)):
        t = threading.Thread(target=commit)
        t.start()
        time.sleep(0.5)
        assert not done.is_set(), "a commit went ahead while another committer held the lock"
    t.join(10)
    assert done.is_set() and "waited" in MaskArchive(archive).names


@pytest.mark.parametrize("style", ["long", "fresh"])
def test_two_processes_adding_20_entries_each_lose_nothing(tmp_path, style):
    stats = editors.run_editors(str(tmp_path), processes=2, edits=20, style=style, adds_only=True)
    print(stats)
    assert stats["lost"] == 0 and stats["resurrected"] == 0 and stats["shared_kept"]
    assert stats["entries"] == 41  # every conflicting add was reported and applied again


def test_processes_adding_removing_renaming_lose_nothing(tmp_path):
    stats = editors.run_editors(str(tmp_path), processes=3, edits=15, style="long", adds_only=False)
    print(stats)
    assert stats["lost"] == 0 and stats["resurrected"] == 0 and stats["shared_kept"]
