"""CompareModel (no Qt): layers of two archives' versions of an entry and their disagreement."""
from __future__ import annotations

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.errors import GeometryError
from napari_medmask.compare_model import DIFFERENT, ONLY_A, ONLY_B, CompareModel
from tests.conftest import oblique_space


@pytest.fixture
def two(tmp_path):
    space = oblique_space()
    a = np.zeros(space.shape, bool)
    a[4:10, 5:15, 6:20] = True
    b = a.copy()
    b[4:6] = False          # A only
    b[10:12, 5:15, 6:20] = True  # B only
    seg_a = np.zeros(space.shape, np.uint8)
    seg_a[2:5, 2:5, 2:5] = 1
    seg_a[5:8, 2:5, 2:5] = 2
    seg_b = seg_a.copy()
    seg_b[5:6, 2:5, 2:5] = 1  # relabelled: different label
    paths = []
    for tag, organ, segs in (("a", a, seg_a), ("b", b, seg_b)):
        p = tmp_path / f"{tag}.mska"
        with MaskArchive(p, "w", space=space) as archive:
            archive.add_segmask(SegmentationMask(organ, {"organ": 1}, space=space), "organ")
            archive.add_segmask(SegmentationMask(segs, {"upper": 1, "lower": 2}, space=space), "segments")
            archive.add_segmask(SegmentationMask(a, {"same": 1}, space=space), "same")
            archive.add_segmask(SegmentationMask(np.zeros(space.shape, bool), {"none": 1}, space=space), "none")
        paths.append(p)
    return paths, a, b, seg_a, seg_b


def test_layers_hold_a_b_and_exactly_the_disagreement(two):
    (pa, pb), a, b, _, _ = two
    model = CompareModel()
    entries = model.open(pa, pb)
    assert entries[:2] == ["organ", "segments"] or entries[:2] == ["segments", "organ"]
    assert entries[-1] == "none" and entries[-2] == "same"
    (da, ka, _), (db, kb, _), (diff, kd, _) = model.layers("organ")
    assert (ka["name"], kb["name"], kd["name"]) == ("A: organ", "B: organ", "A≠B: organ")
    box = model.box("organ")
    axes = kd["metadata"]["medmask"]["axes"]  # the layer shows array axes in display order
    full = np.zeros(a.shape, np.uint8)
    full[tuple(slice(lo, hi) for lo, hi in box)] = np.transpose(diff, np.argsort(axes))
    expected = np.zeros(a.shape, np.uint8)
    expected[a & ~b] = ONLY_A
    expected[b & ~a] = ONLY_B
    assert np.array_equal(full, expected)
    assert da.sum() == a.sum() and db.sum() == b.sum()
    assert diff.size < a.size  # a crop, not the volume
    s = model.summary("organ")
    inter = (a & b).sum()
    assert s.dice == pytest.approx(2 * inter / (a.sum() + b.sum()))
    assert s.hd95_mm is not None and s.hd95_mm > 0
    assert "Dice" in kd["metadata"]["summary"]
    # all three share the display transform
    assert ka["translate"] == kb["translate"] == kd["translate"] and ka["scale"] == kd["scale"]


def test_relabelled_voxels_are_different_label(two):
    (pa, pb), _, _, seg_a, seg_b = two
    model = CompareModel()
    model.open(pa, pb)
    *_, (diff, _, _) = model.layers("segments")
    assert (diff == DIFFERENT).sum() == 9 and (diff == ONLY_A).sum() == 0 and (diff == ONLY_B).sum() == 0
    assert model.summary("segments").status == "ok"
    *_, (same_diff, _, _) = model.layers("same")
    assert not same_diff.any()


def test_other_grid_is_refused(two, tmp_path):
    (pa, _), *_ = two
    space = oblique_space((20, 30, 41))
    with MaskArchive(tmp_path / "c.mska", "w", space=space) as archive:
        archive.add_segmask(SegmentationMask(np.zeros(space.shape, bool), {"x": 1}, space=space), "x")
    with pytest.raises(GeometryError, match="different grids"):
        CompareModel().open(pa, tmp_path / "c.mska")


def test_b_in_another_axis_order_shows_the_same_layers(two, tmp_path):
    """B stored with its rows reversed and its slices and columns swapped (the same voxels): the dock reads it
    in A's order, so every layer and figure equals the same-order comparison, and says so once."""
    from medmask.core.grid_match import AxisMatch, reorder_mask

    (pa, pb), *_ = two
    order = AxisMatch((2, 1, 0), (False, True, False))
    reordered = tmp_path / "b_reordered.mska"
    with MaskArchive(pb) as src:
        target = order.space(src.space)
        with MaskArchive(reordered, "w", space=target) as dst:
            for name in src.all_names():
                dst.add_segmask(reorder_mask(src.load_segmask(name), order), name)
    same, other = CompareModel(), CompareModel()
    assert same.open(pa, pb) == other.open(pa, reordered)
    assert same.note == "" and "another axis order" in other.note and "rows reversed" in other.note
    for entry in same.entries():
        assert same.summary(entry) == other.summary(entry)
        for (d1, k1, t1), (d2, k2, t2) in zip(same.layers(entry), other.layers(entry)):
            assert t1 == t2 and np.array_equal(d1, d2)
            assert k1["translate"] == k2["translate"] and k1["scale"] == k2["scale"]
    # really another grid: still refused
    shifted = tmp_path / "shifted.mska"
    with MaskArchive(pb) as src:
        s = order.space(src.space)
        from spacetransformer import Space

        moved = Space(shape=s.shape, origin=tuple(np.add(s.origin, (0.5, 0, 0))), spacing=s.spacing,
                      x_orientation=s.x_orientation, y_orientation=s.y_orientation, z_orientation=s.z_orientation)
        with MaskArchive(shifted, "w", space=moved) as dst:
            m = reorder_mask(src.load_segmask("organ"), order, space=moved)
            dst.add_segmask(m, "organ")
    with pytest.raises(GeometryError, match="different grids"):
        CompareModel().open(pa, shifted)
    same.close()
    other.close()
