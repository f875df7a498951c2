"""The composite organ volume: every entry drawn, overlaps resolved by size, toggles by colormap."""
from __future__ import annotations

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.sample import phantom_space
from napari_medmask.composite import TRANSPARENT, build_composite


@pytest.fixture
def overlapping(tmp_path):
    """big (a box), small inside big, dup == big, a two-label entry, an empty entry, lone elsewhere."""
    space = phantom_space((20, 24, 28))
    shape = tuple(space.shape)

    def m(arr, mapping, **kw):
        return SegmentationMask(arr, mapping, space=space, **kw)

    big = np.zeros(shape, np.uint8); big[2:12, 2:14, 2:16] = 1
    small = np.zeros(shape, np.uint8); small[4:6, 4:6, 4:6] = 1
    two = np.zeros(shape, np.uint8); two[14:16, 2:4, 2:4] = 1; two[14:16, 6:8, 2:4] = 2
    lone = np.zeros(shape, np.uint8); lone[17:19, 20:22, 20:22] = 1
    path = tmp_path / "o.mska"
    with MaskArchive(path, "w", space=space) as a:
        a.add_segmask(m(big, {"big": 1}, colors={"big": (1, 0, 0, 1)}), "big")
        a.add_segmask(m(small, {"small": 1}, colors={"small": (0, 1, 0, 1)}), "small")
        a.add_segmask(m(big.copy(), {"dup": 1}), "dup")
        a.add_segmask(m(two, {"upper": 1, "lower": 2}), "two")
        a.add_segmask(m(np.zeros(shape, np.uint8), {"none": 1}), "none")
        a.add_segmask(m(lone, {"lone": 1}), "lone")
    return path, {"big": big, "small": small, "two": two, "lone": lone}


def test_every_voxel_knows_every_entry_covering_it(overlapping):
    path, arrays = overlapping
    with MaskArchive(path) as a:
        comp = build_composite(a)
    assert comp.entries == ["big", "small", "dup", "two", "lone"]  # the empty entry has nothing to draw
    assert comp.data.dtype == np.uint8 and comp.data.shape == (20, 24, 28)
    # the small organ lies on top of the big one and its duplicate
    assert comp.names_at(comp.data[5, 5, 5]) == ["small", "big", "dup"]
    assert sorted(comp.names_at(comp.data[3, 3, 3])) == ["big", "dup"]
    assert comp.names_at(comp.data[14, 2, 2]) == ["two: upper"] and comp.names_at(comp.data[14, 6, 2]) == ["two: lower"]
    assert comp.names_at(comp.data[0, 0, 0]) == []
    # no voxel lost: each entry's voxels are exactly the voxels whose combination holds it
    for name, arr in arrays.items():
        holds = [v for v in range(1, len(comp.combos)) if any(t.split(":")[0] == name for t in comp.names_at(v))]
        np.testing.assert_array_equal(np.isin(comp.data, holds), arr > 0)
    assert comp.counts.sum() == comp.data.size
    np.testing.assert_array_equal(comp.counts, np.bincount(comp.data.ravel(), minlength=len(comp.combos)))


def test_colormap_draws_topmost_shown_entry(overlapping):
    path, _ = overlapping
    with MaskArchive(path) as a:
        comp = build_composite(a)
    inside = int(comp.data[5, 5, 5])
    assert comp.colormap()[inside] == (0.0, 1.0, 0.0, 1.0)  # small on top
    assert comp.colormap(hidden={"small"})[inside] in {(1.0, 0.0, 0.0, 1.0), comp.items[2].color}
    assert comp.colormap(hidden={"small", "big", "dup"})[inside] == TRANSPARENT
    assert comp.colormap()[0] == TRANSPARENT


def test_initially_shown_leaves_out_duplicates_and_aggregates(overlapping):
    path, _ = overlapping
    with MaskArchive(path) as a:
        comp = build_composite(a)
    shown = comp.initially_shown()
    # big and dup are the same voxels: the first taken (by name on a tie) is shown, not both;
    # each label of the multi-label entry "two" is an organ of its own
    assert {"small", "two: upper", "two: lower", "lone"} <= set(shown)
    assert ("big" in shown) != ("dup" in shown)


def test_phantom_aggregates_start_hidden(phantom_master):
    with MaskArchive(phantom_master) as a:
        comp = build_composite(a)
    shown = set(comp.initially_shown())
    assert not any(t.startswith(("ribs_left:", "ribs_right:", "ribs_all:")) for t in shown)  # the ribs again
    assert {"liver", "spleen", "rib_left_1", "rib_right_6", "aorta"} <= shown


def test_many_overlapping_entries_switch_to_uint16(tmp_path):
    space = phantom_space((8, 8, 300))
    path = tmp_path / "many.mska"
    with MaskArchive(path, "w", space=space) as a:
        for k in range(300):  # entry k covers columns k..k+1: 300 items, ~600 combinations
            arr = np.zeros(tuple(space.shape), np.uint8)
            arr[:, :, k:k + 2] = 1
            a.add_segmask(SegmentationMask(arr, {f"e{k}": 1}, space=space), f"e{k}")
    with MaskArchive(path) as a:
        comp = build_composite(a)
    assert comp.data.dtype == np.uint16 and len(comp.items) == 300
    assert comp.names_at(comp.data[0, 0, 5]) in (["e4", "e5"], ["e5", "e4"])
