"""grid_match: the same voxels in any of the 48 signed axis orders are found and reordered exactly (views);
a grid that really differs (shifted, other spacing, rotated) is not matched."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from spacetransformer import Space

from medmask import SegmentationMask
from medmask.core.geometry import index_to_world_affine
from medmask.core.grid_match import IDENTITY, AxisMatch, match, orient, reorder_mask

SIGNED_PERMUTATIONS = [AxisMatch(axes, flips) for axes in itertools.permutations((0, 1, 2))
                       for flips in itertools.product((False, True), repeat=3)]


def oblique() -> Space:
    """18 deg about z, then 7 deg about x: no axis parallel to a patient axis, all spacings different."""
    a, b = np.radians(18), np.radians(7)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    d = rx @ rz @ np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], float)
    return Space(shape=(6, 7, 9), origin=(-101.25, 37.5, -804.5), spacing=(2.5, 0.8, 0.7),
                 x_orientation=tuple(d[:, 0]), y_orientation=tuple(d[:, 1]), z_orientation=tuple(d[:, 2]))


def world_of_every_voxel(space: Space) -> np.ndarray:
    idx = np.indices(tuple(space.shape)).reshape(3, -1).T.astype(float)
    aff = index_to_world_affine(space)
    return (idx @ aff[:3, :3].T + aff[:3, 3]).reshape(*space.shape, 3)


@pytest.mark.parametrize("m", SIGNED_PERMUTATIONS, ids=lambda m: f"{m.axes}{''.join('r' if f else '-' for f in m.flips)}")
def test_every_signed_permutation_is_found_and_reorders_voxel_for_voxel(m):
    src = oblique()
    target = m.space(src)
    assert match(src, target) == m
    assert match(target, src) == m.inverse()
    # every voxel: its world position and its value travel together
    values = np.arange(np.prod(src.shape)).reshape(src.shape)
    moved = m.reorder(values)
    assert np.shares_memory(moved, values) and moved.shape == tuple(target.shape)  # a view
    assert np.allclose(m.reorder(world_of_every_voxel(src)), world_of_every_voxel(target), atol=1e-9)
    assert np.array_equal(m.inverse().reorder(moved), values)
    # boxes and masks held as crops
    box = ((1, 4), (2, 7), (0, 5))
    sub = values[tuple(slice(*p) for p in box)]
    assert np.array_equal(m.reorder(sub), moved[tuple(slice(*p) for p in m.box(box, src.shape))])
    mask = SegmentationMask((values % 7 == 3).astype(np.uint8) * 4, {"x": 4}, space=src, colors={"x": (1, 0, 0, 1)})
    back = reorder_mask(mask, m)
    assert back.space == target and back.colors == mask.colors and back.mapping == mask.mapping
    assert np.array_equal(back.data, m.reorder(mask.data))


def test_float_noise_still_matches_but_a_real_difference_does_not():
    src = oblique()
    flipped = AxisMatch((0, 1, 2), (False, True, False)).space(src)
    noisy = Space(shape=flipped.shape, origin=tuple(np.float32(v) for v in flipped.origin),
                  spacing=tuple(float(np.float32(v)) for v in flipped.spacing), x_orientation=flipped.x_orientation,
                  y_orientation=flipped.y_orientation, z_orientation=flipped.z_orientation)
    assert match(src, noisy) == AxisMatch((0, 1, 2), (False, True, False))
    kw = dict(shape=flipped.shape, origin=flipped.origin, spacing=flipped.spacing, x_orientation=flipped.x_orientation,
              y_orientation=flipped.y_orientation, z_orientation=flipped.z_orientation)
    shifted = Space(**{**kw, "origin": tuple(np.add(flipped.origin, (0.4, 0, 0)))})  # half a column
    wider = Space(**{**kw, "spacing": (2.5, 0.82, 0.7)})
    c, s = np.cos(np.radians(2)), np.sin(np.radians(2))
    r = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    rotated = Space(**{**kw, **{k: tuple(r @ np.asarray(kw[k])) for k in ("x_orientation", "y_orientation",
                                                                          "z_orientation")}})
    for other in (shifted, wider, rotated):
        assert match(src, other) is None
    assert match(src, Space(**{**kw, "shape": (6, 7, 8)})) is None


def test_identity_wins_and_one_voxel_axes_need_no_reversal():
    src = oblique()
    assert match(src, src) is IDENTITY or match(src, src).identity
    flat = Space(shape=(1, 7, 9), origin=src.origin, spacing=src.spacing, x_orientation=src.x_orientation,
                 y_orientation=src.y_orientation, z_orientation=src.z_orientation)
    assert match(flat, AxisMatch((0, 1, 2), (True, False, False)).space(flat)).identity
    arr = np.zeros((2, 3, 4))
    assert IDENTITY.reorder(arr) is arr


def test_orient_picks_the_axes_running_along_given_directions():
    src = oblique()
    m = AxisMatch((2, 0, 1), (True, False, True))
    target = m.space(src)
    found = orient(src, (None, target.y_orientation, target.z_orientation))
    assert found.axes == m.axes and found.flips[1:] == m.flips[1:] and found.flips[0] is False


@pytest.mark.parametrize("m", SIGNED_PERMUTATIONS[::5], ids=lambda m: f"{m.axes}{''.join('r' if f else '-' for f in m.flips)}")
def test_a_block_of_the_grid_in_any_order_is_embedded_at_its_offset(m):
    from medmask.core.grid_match import embed, extend

    full = oblique()
    box = ((1, 5), (2, 7), (3, 9))
    block = full.apply_bbox(np.array(box))  # the voxels of the box, in the grid's order
    moved = m.space(block)
    got, offset = embed(moved, full)
    assert got == m.inverse() and offset == tuple(lo for lo, _ in box)
    grown = extend(got.space(moved), offset, full.shape)
    assert np.allclose(index_to_world_affine(grown), index_to_world_affine(full), atol=1e-9)
    assert match(moved, full) is None  # not the same grid: only a block of it
    assert embed(full, moved) is None  # the bigger grid does not fit in the block


@pytest.mark.parametrize("m", SIGNED_PERMUTATIONS, ids=lambda m: f"{m.axes}{''.join('r' if f else '-' for f in m.flips)}")
def test_highdicom_match_geometry_reorders_the_same_way(m):
    """highdicom's Volume.match_geometry (permute, flip; never resample) is an independent oracle."""
    hd = pytest.importorskip("highdicom")
    src = oblique()
    target = m.space(src)
    values = np.arange(np.prod(src.shape), dtype=np.int32).reshape(src.shape)
    theirs = hd.Volume(values, index_to_world_affine(src), coordinate_system="PATIENT")
    other = hd.Volume(np.zeros(target.shape, np.int32), index_to_world_affine(target), coordinate_system="PATIENT")
    assert np.array_equal(theirs.match_geometry(other, tol=1e-6).array, match(src, target).reorder(values))
