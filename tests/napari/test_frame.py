"""Display frame: placements are exact for any signed permutation of a grid, patient points round-trip."""
from __future__ import annotations

import numpy as np
import pytest
from spacetransformer import Space

from medmask.core.geometry import index_to_world_affine
from napari_medmask.frame import (TARGETS, display_to_patient, format_patient, frame_for, patient_to_display,
                                  placement, resample_nearest)

from napari_cases import rotation


def _space(directions, spacing=(2.5, 0.8, 1.1), origin=(-30.0, 12.5, 100.0), shape=(20, 30, 40)) -> Space:
    d = np.asarray(directions, float)
    return Space(shape=shape, origin=origin, spacing=spacing, x_orientation=tuple(d[:, 0]),
                 y_orientation=tuple(d[:, 1]), z_orientation=tuple(d[:, 2]))


AXIAL = np.array([[0, 0, 1.0], [0, 1.0, 0], [1.0, 0, 0]])  # array axes z, y, x


def _display_of_index(space, p, index) -> np.ndarray:
    """Where napari puts array voxel ``index`` given the placement (layer axis j = array axis axes[j])."""
    return np.array([p.translate[j] + p.scale[j] * index[a] for j, a in enumerate(p.axes)])


@pytest.mark.parametrize("directions", [
    AXIAL,
    AXIAL @ np.diag([-1.0, 1.0, -1.0]),                       # flipped slices and columns
    AXIAL[:, [1, 2, 0]],                                      # axes stored in another order (sagittal-like)
    rotation(2, 18.0) @ AXIAL,                                # oblique, 18 degrees
    rotation(2, 18.0) @ rotation(0, 9.0) @ AXIAL[:, [2, 0, 1]] @ np.diag([1.0, -1.0, 1.0]),
])
def test_own_frame_places_every_voxel_exactly(directions):
    space = _space(directions)
    r = frame_for(space)
    np.testing.assert_allclose(r.T @ r, np.eye(3), atol=1e-12)
    p = placement(space, r)
    assert p.exact and p.error_mm < 1e-9
    aff = index_to_world_affine(space)
    for index in ([0, 0, 0], [19, 29, 39], [3, 17, 8]):
        world = (aff @ np.r_[index, 1.0])[:3]
        d = _display_of_index(space, p, index)
        np.testing.assert_allclose(display_to_patient(d, r), world, atol=1e-9)
        np.testing.assert_allclose(patient_to_display(world, r), d, atol=1e-9)


def test_axis_aligned_frame_is_inferior_posterior_left():
    r = frame_for(_space(AXIAL))
    np.testing.assert_allclose(r, [[0, 0, 1.0], [0, 1.0, 0], [-1.0, 0, 0]])  # world axis 0 = I, 1 = P, 2 = L
    p = placement(_space(AXIAL), r)
    assert p.axes == (0, 1, 2) and p.scale == (-2.5, 0.8, 1.1)  # slices stored foot to head run backwards
    assert p.translate == (-100.0, 12.5, -30.0)  # world of voxel (0, 0, 0): (-z, y, x) of its LPS point


def test_every_frame_is_right_handed_and_anatomical():
    """napari draws world axes right-handed in 3D: a left-handed frame would show a mirror image."""
    rng = np.random.default_rng(7)
    for _ in range(500):
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # any rotation or mirror grid, any obliquity
        space = _space(q)
        r = frame_for(space)
        assert np.linalg.det(r) == pytest.approx(1.0)
        assert placement(space, r).exact
        assert np.all(np.diag(TARGETS @ r) > -1e-9)  # I, P, L at least not backwards ...
        if np.min(np.max(np.abs(q), axis=0)) > 0.9:  # ... and exactly so when nearly axis-aligned
            assert np.all(np.diag(TARGETS @ r) > 0.9)


def test_flipped_and_permuted_grids_of_one_rotation_share_a_frame():
    base = rotation(2, 18.0) @ AXIAL
    a, b = _space(base), _space(base[:, [2, 0, 1]] @ np.diag([-1.0, 1.0, -1.0]))
    np.testing.assert_allclose(frame_for(a), frame_for(b), atol=1e-12)
    p = placement(b, frame_for(a))
    # b's axis 1 is a's axis 0, superior: backwards along the frame's I axis
    assert p.exact and p.axes == (1, 2, 0) and p.scale[0] == pytest.approx(-0.8)


def test_rotated_grid_is_not_exact_and_resamples_within_half_a_voxel():
    frame = frame_for(_space(AXIAL))
    space = _space(rotation(2, 18.0) @ AXIAL, spacing=(2.0, 1.0, 1.0), shape=(12, 20, 20))
    assert not placement(space, frame).exact
    arr = np.zeros(space.shape, np.uint8)
    arr[6, 10, 10] = 7
    out, q, new_space = resample_nearest(arr, space, frame)
    assert q.exact and q.axes == (0, 1, 2)
    hits = np.argwhere(out == 7)
    assert len(hits) >= 1
    src = (index_to_world_affine(space) @ np.r_[6, 10, 10, 1.0])[:3]
    got = (index_to_world_affine(new_space) @ np.r_[hits.mean(axis=0), 1.0])[:3]
    assert np.linalg.norm(got - src) <= 0.5 * np.linalg.norm(space.spacing)


def test_patient_text_lps_and_ras():
    r = frame_for(_space(AXIAL))
    d = patient_to_display([10.0, -20.0, 30.0], r)
    assert format_patient(display_to_patient(d, r), "LPS") == "LPS (10.0, -20.0, 30.0) mm"
    assert format_patient(display_to_patient(d, r, "RAS"), "RAS") == "RAS (-10.0, 20.0, 30.0) mm"
    with pytest.raises(ValueError, match="XYZ"):
        display_to_patient(d, r, "XYZ")
