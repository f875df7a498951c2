import warnings

import numpy as np
import pytest
from spacetransformer import Space

from medmask import GeometryError, LabelError, MaskOverlapWarning, OverlapError, SegmentationMask
from medmask.core.geometry import crop_space, index_to_world_affine


def test_basic_construction_and_queries(space):
    arr = np.zeros(space.shape, np.uint8)
    arr[2:5, 3:7, 4:9] = 1
    arr[10:12, 1:2, 30:33] = 2
    m = SegmentationMask(arr, {"liver": 1, "spleen": 2}, space=space)
    assert m.bit_depth == 8 and m.space is space and m.shape == (20, 30, 40)
    assert m.get_binary_mask_by_names("liver").sum() == 3 * 4 * 5
    both = m.get_binary_mask_by_names(["liver", "spleen"])
    assert both.dtype == bool and both.sum() == 60 + 6
    assert np.array_equal(m.get_binary_mask_by_labels(2), arr == 2)
    assert np.array_equal(m.get_binary_mask_by_labels([1, 2]), arr > 0)
    assert m.voxel_counts() == {1: 60, 2: 6}


def test_data_is_read_only(space):
    m = SegmentationMask(np.zeros(space.shape, np.uint8), {}, space=space)
    with pytest.raises(ValueError):
        m.data[0, 0, 0] = 1


def test_space_shape_must_match(space):
    with pytest.raises(GeometryError, match="does not match"):
        SegmentationMask(np.zeros((2, 3, 4), np.uint8), {}, space=space)


def test_default_space_and_int_arrays_are_narrowed():
    m = SegmentationMask(np.full((2, 3, 4), 300, dtype=np.int64), {"a": 300})
    assert m.dtype == np.uint16 and tuple(m.space.shape) == (2, 3, 4)
    with pytest.raises(LabelError, match="-1"):
        SegmentationMask(np.full((2, 3, 4), -1), {})
    with pytest.raises(LabelError, match="float"):
        SegmentationMask(np.zeros((2, 3, 4), float), {})
    with pytest.raises(GeometryError, match="3D"):
        SegmentationMask(np.zeros((3, 4), np.uint8), {})


@pytest.mark.parametrize("bits,dtype", [(1, bool), (8, np.uint8), (16, np.uint16), (32, np.uint32)])
def test_lazy_init_bit_depths(space, bits, dtype):
    m = SegmentationMask.lazy_init(bit_depth=bits, space=space)
    assert m.dtype == dtype and m.bit_depth == bits and m.is_empty
    region = np.zeros(space.shape, bool)
    region[1:3, 1:3, 1:3] = True
    label = 1 if bits == 1 else 2 ** min(bits, 31) - 1 if bits < 32 else 70000
    m.add_label(region, label=label, name="x")
    assert m.mapping["x"] == label and m.get_binary_mask_by_names("x").sum() == 8


def test_lazy_init_rejects_bad_depth(space):
    with pytest.raises(LabelError, match="bit_depth"):
        SegmentationMask.lazy_init(bit_depth=12, space=space)


def test_label_must_fit_depth(space):
    m = SegmentationMask.lazy_init(bit_depth=8, space=space)
    with pytest.raises(LabelError, match="256"):
        m.add_label(np.ones(space.shape, bool), 256, "x")


def _two_boxes(space):
    a = np.zeros(space.shape, bool)
    a[0:4, 0:4, 0:4] = True
    b = np.zeros(space.shape, bool)
    b[2:6, 2:6, 2:6] = True
    return a, b


def test_overlap_raises_by_default_and_changes_nothing(space):
    a, b = _two_boxes(space)
    m = SegmentationMask.lazy_init(8, space=space)
    m.add_label(a, 1, "first")
    before = m.data.copy()
    with pytest.raises(OverlapError, match=r"'first' \(8 voxels\)"):
        m.add_label(b, 2, "second")
    assert np.array_equal(m.data, before) and "second" not in m.mapping


def test_overlap_overwrite_and_keep_warn_with_counts(space):
    a, b = _two_boxes(space)
    m = SegmentationMask.lazy_init(8, space=space)
    m.add_label(a, 1, "first")
    with pytest.warns(MaskOverlapWarning, match="overwrote 'first' \\(8 voxels\\)"):
        m.add_label(b, 2, "second", overlap="overwrite")
    assert m.voxel_counts() == {1: 64 - 8, 2: 64}
    k = SegmentationMask.lazy_init(8, space=space)
    k.add_label(a, 1, "first")
    with pytest.warns(MaskOverlapWarning, match="kept 8 voxels"):
        painted = k.add_label(b, 2, "second", overlap="keep")
    assert painted == 56 and k.voxel_counts() == {1: 64, 2: 56}


def test_label_swallowed_entirely_is_named(space):
    small = np.zeros(space.shape, bool)
    small[1:2, 1:2, 1:2] = True
    big = np.zeros(space.shape, bool)
    big[0:3, 0:3, 0:3] = True
    m = SegmentationMask.lazy_init(8, space=space)
    m.add_label(small, 1, "rib_right_12")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        m.add_label(big, 2, "big", overlap="overwrite")
    assert any("rib_right_12" in str(w.message) and "no voxels" in str(w.message) for w in rec)
    k = SegmentationMask.lazy_init(8, space=space)
    k.add_label(big, 1, "big")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        k.add_label(small, 2, "rib_right_12", overlap="keep")
    assert any("rib_right_12" in str(w.message) and "no voxels" in str(w.message) for w in rec)


def test_name_and_label_conflicts(space):
    m = SegmentationMask.lazy_init(8, space=space)
    region = np.zeros(space.shape, bool)
    region[0, 0, 0] = True
    m.add_label(region, 1, "a")
    with pytest.raises(LabelError, match="already belongs to 'a'"):
        m.add_label(region, 1, "b")
    with pytest.raises(LabelError, match="already has label 1"):
        m.add_label(region, 2, "a")
    with pytest.raises(LabelError, match="overlap"):
        m.add_label(region, 3, "c", overlap="maybe")


def test_bbox_crop_and_crop_space(space):
    arr = np.zeros(space.shape, np.uint8)
    arr[3:6, 10:12, 7:20] = 4
    m = SegmentationMask(arr, {"x": 4}, space=space)
    assert m.bbox == ((3, 6), (10, 12), (7, 20))
    assert m.crop_data.shape == (3, 2, 13) and (m.crop_data == 4).all()
    cs = m.crop_space
    assert tuple(cs.shape) == (3, 2, 13)
    # voxel (0,0,0) of the crop is voxel (3,10,7) of the volume, in world coordinates
    world = index_to_world_affine(space) @ np.array([3, 10, 7, 1.0])
    assert np.allclose(cs.origin, world[:3])


def test_from_crop_is_lazy_and_equivalent(space):
    crop = np.ones((2, 3, 4), np.uint8)
    bbox = ((1, 3), (2, 5), (3, 7))
    m = SegmentationMask.from_crop(crop, bbox, {"x": 1}, space, np.uint8)
    assert m._full is None and m.bbox == bbox
    full = m.data
    assert full.sum() == 24 and full[1:3, 2:5, 3:7].all()
    empty = SegmentationMask.from_crop(None, None, {"x": 1}, space, np.uint8)
    assert empty.is_empty and empty.data.sum() == 0 and empty.crop_space is None
    with pytest.raises(GeometryError):
        SegmentationMask.from_crop(crop, ((0, 1), (0, 1), (0, 1)), {"x": 1}, space, np.uint8)


def test_add_label_after_from_crop(space):
    m = SegmentationMask.from_crop(np.ones((1, 1, 1), np.uint8), ((0, 1), (0, 1), (0, 1)), {"a": 1}, space, np.uint8)
    region = np.zeros(space.shape, bool)
    region[5, 5, 5] = True
    m.add_label(region, 2, "b")
    assert m.voxel_counts() == {1: 1, 2: 1} and m.bbox == ((0, 6), (0, 6), (0, 6))


def test_colors_are_normalized(space):
    m = SegmentationMask(np.zeros(space.shape, np.uint8), {"a": 1}, space=space,
                         colors={"a": "#ff0000"})
    assert m.colors["a"] == (1.0, 0.0, 0.0, 1.0)
    m2 = SegmentationMask(np.zeros(space.shape, np.uint8), {"a": 1}, space=space, colors={"a": (0, 128, 255)})
    assert m2.colors["a"][2] == 1.0 and m2.colors["a"][3] == 1.0
    with pytest.raises(LabelError):
        SegmentationMask(np.zeros(space.shape, np.uint8), {"a": 1}, space=space, colors={"a": "#zz"})


def test_bool_mask_only_label_one(space):
    with pytest.raises(LabelError, match="boolean"):
        SegmentationMask(np.zeros(space.shape, bool), {"a": 2}, space=space)


def test_crop_space_matches_apply_bbox(space):
    bbox = ((1, 4), (2, 9), (3, 5))
    assert crop_space(space, bbox) == space.apply_bbox(np.array(bbox))
    assert isinstance(crop_space(space, bbox), Space)


def test_mask_owns_a_copy_of_a_writable_array(space):
    arr = np.zeros(space.shape, np.uint8)
    arr[1, 1, 1] = 1
    m = SegmentationMask(arr, {"a": 1}, space=space)
    assert m.bbox == ((1, 2), (1, 2), (1, 2))
    arr[5, 5, 5] = 1  # the caller keeps using its array
    assert m.bbox == ((1, 2), (1, 2), (1, 2)) and m.voxel_counts() == {1: 1}
    region = np.zeros(space.shape, bool)
    region[0, 0, 0] = True
    m.add_label(region, 2, "b")
    assert arr[0, 0, 0] == 0  # add_label never writes into the caller's array
    frozen = np.zeros(space.shape, np.uint8)
    frozen.flags.writeable = False
    assert np.shares_memory(SegmentationMask(frozen, {}, space=space).data, frozen)  # read-only: shared


def test_mapping_labels_must_fit_the_dtype(space):
    with pytest.raises(LabelError, match="do not fit a uint8"):
        SegmentationMask(np.zeros(space.shape, np.uint8), {"big": 300}, space=space)
    with pytest.raises(LabelError, match="boolean"):
        SegmentationMask.from_crop(None, None, {"a": 2}, space, bool)


def test_axial_space_points_slices_head_ward():
    from medmask import axial_space
    sp = axial_space((10, 20, 30), spacing=(2.5, 0.8, 0.7), origin=(1.0, 2.0, 3.0))
    aff = index_to_world_affine(sp)
    assert np.allclose(aff @ [1, 0, 0, 1], [1.0, 2.0, 5.5, 1])   # next slice: +2.5 mm superior (LPS z)
    assert np.allclose(aff @ [0, 1, 0, 1], [1.0, 2.8, 3.0, 1])   # next row: +0.8 mm posterior
    assert np.allclose(aff @ [0, 0, 1, 1], [1.7, 2.0, 3.0, 1])   # next column: +0.7 mm left


def test_a_writable_input_is_kept_as_its_box_only_and_stays_independent():
    from tests.conftest import oblique_space

    space = oblique_space((12, 20, 24))
    labels = np.zeros(space.shape, np.uint16)
    labels[3:7, 5:9, 10:20] = 2
    labels[4, 6, 11] = 300
    mask = SegmentationMask(labels, {"a": 2, "b": 300}, space=space)
    assert mask._full is None and mask.crop_data.shape == (4, 4, 10)  # no copy of the volume
    expected = labels.copy()
    labels[:] = 7  # the caller reuses its buffer
    assert np.array_equal(mask.data, expected) and mask.bbox == ((3, 7), (5, 9), (10, 20))
    for names, values in ((["a"], [2]), (["b"], [300]), (["a", "b"], [2, 300])):
        assert np.array_equal(mask.get_binary_mask_by_names(names), np.isin(expected, values))
    empty = SegmentationMask(np.zeros(space.shape, bool), {"e": 1}, space=space)
    assert empty.is_empty and not empty.get_binary_mask_by_names("e").any()
    lazy = SegmentationMask.lazy_init(16, space=space)
    lazy.add_label(expected == 2, 5, "five")
    assert np.array_equal(lazy.data, np.where(expected == 2, 5, 0)) and lazy.bbox == ((3, 7), (5, 9), (10, 20))
