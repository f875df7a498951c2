"""NIfTI affine / NRRD header <-> Space: exact, no axis swap or flip."""
from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medmask.convert._geometry import (nrrd_geometry_from_space, ras_affine_from_space, space_from_nrrd_geometry,
                                       space_from_ras_affine)
from medmask.core.geometry import index_to_world_affine
from medmask.errors import ConversionError

from interop_helpers import SHAPE_IJK, make_affine, rotation

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _world_lps_from_nifti(affine, ijk):
    return (LPS @ affine @ np.r_[ijk, 1.0])[:3]


@pytest.mark.parametrize("kind", ["plain", "oblique", "flipped", "permuted"])
def test_affine_to_space_maps_every_voxel_to_the_same_world_point(kind):
    aff = make_affine(kind)
    space = space_from_ras_affine(aff, SHAPE_IJK)
    assert tuple(space.shape) == SHAPE_IJK[::-1]  # medmask array = nibabel array transposed (2, 1, 0)
    m2w = index_to_world_affine(space)
    rng = np.random.default_rng(0)
    for ijk in [(0, 0, 0), (12, 16, 10), (12, 0, 0), (0, 16, 0), (0, 0, 10), *rng.integers(0, 10, (20, 3))]:
        zyx = np.array(ijk[::-1], dtype=float)
        np.testing.assert_allclose((m2w @ np.r_[zyx, 1])[:3], _world_lps_from_nifti(aff, ijk), atol=1e-9)


@pytest.mark.parametrize("kind", ["plain", "oblique", "flipped", "permuted"])
def test_affine_round_trip_is_exact(kind):
    aff = make_affine(kind)
    back = ras_affine_from_space(space_from_ras_affine(aff, SHAPE_IJK))
    np.testing.assert_allclose(back, aff, rtol=0, atol=1e-12)
    # column by column: no swapped or negated axis
    for n in range(3):
        assert np.dot(back[:3, n], aff[:3, n]) > 0


def test_flipped_affine_gives_left_handed_space_not_a_flipped_array():
    aff = make_affine("flipped")
    space = space_from_ras_affine(aff, SHAPE_IJK)
    d = np.column_stack([space.x_orientation, space.y_orientation, space.z_orientation])
    # medmask lists the axes in reverse order (k, j, i): one swap, so the determinant changes sign;
    # RAS -> LPS has determinant +1. Anything else would mean an axis was flipped.
    assert np.linalg.det(d) * np.linalg.det(aff[:3, :3]) < 0
    np.testing.assert_allclose(space.spacing, [2.0, 0.6, 1.25])


def test_origin_is_lps_of_voxel_zero():
    aff = make_affine("plain")
    space = space_from_ras_affine(aff, SHAPE_IJK)
    np.testing.assert_allclose(space.origin, [100.5, -20.25, 7.0])


def test_matches_nibabel_orientation_codes():
    aff = make_affine("permuted")
    space = space_from_ras_affine(aff, SHAPE_IJK)
    codes = nib.aff2axcodes(aff)  # nibabel axis i, j, k
    # medmask axis 2 is nibabel axis i: its dominant LPS direction must match the RAS code
    names = ("LR", "PA", "SI")
    for m_axis, vec in ((2, space.z_orientation), (1, space.y_orientation), (0, space.x_orientation)):
        code = codes[2 - m_axis]
        k = int(np.argmax(np.abs(vec)))
        lps_letter = names[k][0] if vec[k] > 0 else names[k][1]
        assert lps_letter == code  # the letters name physical directions, the same in RAS and LPS


def test_sheared_affine_is_refused():
    aff = make_affine("plain")
    aff[0, 1] = 0.4  # shear
    with pytest.raises(ConversionError, match="sheared"):
        space_from_ras_affine(aff, SHAPE_IJK)


def test_singular_affine_is_refused():
    aff = make_affine("plain")
    aff[:3, 2] = 0
    with pytest.raises(ConversionError, match="zero-length"):
        space_from_ras_affine(aff, SHAPE_IJK)


def test_float32_noise_is_accepted():
    aff = make_affine("oblique").astype(np.float32).astype(float)
    aff[:3, 0] += 2e-5  # the kind of noise TotalSegmentator's float32 sform carries
    space = space_from_ras_affine(aff, SHAPE_IJK)
    np.testing.assert_allclose(ras_affine_from_space(space), aff, atol=1e-12)


@pytest.mark.parametrize("kind", ["plain", "oblique", "flipped", "permuted"])
def test_nrrd_geometry_round_trip(kind):
    space = space_from_ras_affine(make_affine(kind), SHAPE_IJK)
    directions, origin = nrrd_geometry_from_space(space)
    back = space_from_nrrd_geometry(directions, origin, SHAPE_IJK)
    np.testing.assert_allclose(index_to_world_affine(back), index_to_world_affine(space), atol=1e-12)
    assert tuple(back.shape) == tuple(space.shape)
    # NRRD axis 0 (fastest) is medmask axis 2: its vector is direction * spacing of that axis
    np.testing.assert_allclose(directions[0], np.array(space.z_orientation) * space.spacing[2])


def test_nrrd_ras_space_is_converted_to_lps():
    directions = np.diag([2.0, 3.0, 4.0])
    space = space_from_nrrd_geometry(directions, np.array([1.0, 2.0, 3.0]), (5, 6, 7),
                                     space_name="right-anterior-superior")
    np.testing.assert_allclose(space.origin, [-1.0, -2.0, 3.0])
    np.testing.assert_allclose(space.z_orientation, [-1, 0, 0])


@settings(max_examples=60, deadline=None)
@given(angles=st.tuples(*[st.floats(-np.pi, np.pi)] * 3),
       spacing=st.tuples(*[st.floats(0.1, 5.0)] * 3),
       signs=st.tuples(*[st.sampled_from([-1.0, 1.0])] * 3),
       origin=st.tuples(*[st.floats(-500, 500)] * 3),
       shape=st.tuples(*[st.integers(1, 50)] * 3))
def test_any_orthogonal_affine_round_trips(angles, spacing, signs, origin, shape):
    aff = np.eye(4)
    aff[:3, :3] = rotation(*angles) @ np.diag(np.array(spacing) * np.array(signs))
    aff[:3, 3] = origin
    space = space_from_ras_affine(aff, shape)
    assert tuple(space.shape) == shape[::-1]
    np.testing.assert_allclose(ras_affine_from_space(space), aff, atol=1e-9)
