"""Entries added inside a ``with`` block are encoded by background threads: what is written is what was added."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from spacetransformer import Space

from medmask import MaskArchive, SegmentationMask
from medmask.errors import MedMaskError

SPACE = Space(shape=(30, 40, 50), spacing=(2.5, 0.8, 0.7), origin=(-10.0, 20.5, 3.25))


def _organs(n: int = 10, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = np.indices(SPACE.shape, sparse=True)
    out = {}
    for k in range(n):
        c, r = rng.uniform(5, 30, 3), rng.uniform(2, 12, 3)
        out[f"organ_{k}"] = (sum(((idx[a] - c[a]) / r[a]) ** 2 for a in range(3)) <= 1).astype(np.uint8)
    out["empty"] = np.zeros(SPACE.shape, np.uint8)
    return out


def _encoder_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("medmask-encode")]


def test_a_block_writes_the_bytes_one_add_at_a_time_writes(tmp_path):
    organs = _organs()
    plain = MaskArchive(tmp_path / "plain.mska", "w", space=SPACE)
    for name, arr in organs.items():  # no block: each add encoded and written at once
        plain.add_segmask(SegmentationMask(arr, {name: 1}, space=SPACE), name)
    plain.close()
    with MaskArchive(tmp_path / "block.mska", "w", space=SPACE) as a:
        for name, arr in organs.items():
            a.add_segmask(SegmentationMask(arr, {name: 1}, space=SPACE), name)
    assert (tmp_path / "block.mska").read_bytes() == (tmp_path / "plain.mska").read_bytes()
    assert not _encoder_threads()


@pytest.mark.parametrize("shared", [False, True])
def test_changing_the_array_after_add_does_not_change_what_is_stored(tmp_path, shared):
    organs = _organs(6)
    buf = np.zeros(SPACE.shape, np.uint8)
    with MaskArchive(tmp_path / "a.mska", "w", space=SPACE) as a:
        for name, arr in organs.items():
            buf[:] = arr  # one buffer reused for every organ, as a loop over nibabel images does
            given = buf
            if shared:  # a read-only view: the mask shares the caller's memory instead of copying its box
                given = buf.view()
                given.flags.writeable = False
            a.add_segmask(SegmentationMask(given, {name: 1}, space=SPACE), name)
            buf[:] = 1  # at once, while the entry may still be encoding
    with MaskArchive(tmp_path / "a.mska") as a:
        for name, arr in organs.items():
            np.testing.assert_array_equal(np.asarray(a.load_segmask(name).data).astype(np.uint8), arr)
            assert a.entry_info(name).voxel_count == int(arr.sum())


def test_reading_back_inside_the_block_sees_the_finished_entry(tmp_path):
    organs = _organs(4)
    with MaskArchive(tmp_path / "a.mska", "w", space=SPACE) as a:
        for name, arr in organs.items():
            info = a.add_segmask(SegmentationMask(arr, {name: 1}, space=SPACE), name)
            assert info.voxel_count == int(arr.sum()) and info.bbox == SegmentationMask(arr, space=SPACE).bbox
        got = a.load_segmask("organ_2")
        assert a.entry_info("organ_2").codec is not None and a.entry_info("organ_2").length > 0
        a.rename("organ_3", "renamed")
        a.add_segmask(SegmentationMask(organs["organ_0"], {"organ_1": 1}, space=SPACE), "organ_1", replace=True)
        a.remove("organ_0")
    np.testing.assert_array_equal(np.asarray(got.data).astype(np.uint8), organs["organ_2"])
    with MaskArchive(tmp_path / "a.mska") as a:
        assert a.all_names() == ["organ_1", "organ_2", "renamed", "empty"]
        np.testing.assert_array_equal(np.asarray(a.load_segmask("organ_1").data).astype(np.uint8), organs["organ_0"])
        np.testing.assert_array_equal(np.asarray(a.load_segmask("renamed").data).astype(np.uint8), organs["organ_3"])


def test_a_bad_entry_is_refused_at_its_add_and_a_failed_block_writes_nothing(tmp_path):
    path = tmp_path / "a.mska"
    organs = _organs(3)
    with pytest.raises(MedMaskError, match="entry name"):
        with MaskArchive(path, "w", space=SPACE) as a:
            a.add_segmask(SegmentationMask(organs["organ_0"], {"organ_0": 1}, space=SPACE), "organ_0")
            try:
                a.add_segmask(SegmentationMask(organs["organ_1"], {"x": 1}, space=SPACE), "bad\udcff")
            except MedMaskError:
                assert "organ_0" in a and "bad\udcff" not in a  # refused here, the block goes on
                raise
    assert not path.exists() and not list(tmp_path.iterdir())
    assert not _encoder_threads()
    with pytest.raises(RuntimeError):
        with MaskArchive(path, "w", space=SPACE) as a:
            for name, arr in organs.items():
                a.add_segmask(SegmentationMask(arr, {name: 1}, space=SPACE), name)
            raise RuntimeError("the user's loop failed")
    assert not path.exists() and not _encoder_threads()


def test_add_labelmap_and_add_segmasks_store_every_organ(tmp_path):
    organs = _organs(8)
    labels = np.zeros(SPACE.shape, np.uint8)
    names = {}
    for v, (name, arr) in enumerate(organs.items(), start=1):
        labels[arr != 0] = v
        names[name] = v
    with MaskArchive(tmp_path / "lm.mska", "w", space=SPACE) as a:
        a.add_labelmap(labels, names)
    with MaskArchive(tmp_path / "lm.mska") as a:
        for name, v in names.items():
            np.testing.assert_array_equal(np.asarray(a.load_segmask(name).data), labels == v)
    assert not _encoder_threads()
