"""DICOM-SEG export and import: exact round trips, codes, grid checks, foreign SEGs, highdicom's view."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from spacetransformer import Space

pytest.importorskip("highdicom")

import highdicom as hd  # noqa: E402
import pydicom  # noqa: E402
from dicom_helpers import make_series, skip_without_real_series, to_index, world  # noqa: E402

from medmask import SegmentationMask  # noqa: E402
from medmask.convert.dicom_seg import (DicomSegWarning, PRIVATE_CREATOR, PRIVATE_GROUP,  # noqa: E402
                                       read_dicom_seg, write_dicom_seg)
from medmask.convert.dicom_series import read_dicom_series_header  # noqa: E402
from medmask.errors import ConversionError  # noqa: E402


def grid() -> Space:
    c, s = np.cos(np.radians(18)), np.sin(np.radians(18))
    return Space(shape=(8, 14, 12), origin=(-101.25, 37.5, -804.5), spacing=(2.5, 0.8, 0.7),
                 x_orientation=(0.0, 0.0, 1.0), y_orientation=(-s, c, 0.0), z_orientation=(-c, -s, 0.0))


@pytest.fixture
def series(tmp_path):
    folder = tmp_path / "ct"
    make_series(folder, grid())
    return read_dicom_series_header(folder)


def masks(space: Space) -> list[tuple[str, SegmentationMask]]:
    shape = space.shape
    liver = np.zeros(shape, np.uint8)
    liver[1:6, 2:10, 3:9] = 1
    lobes = np.zeros(shape, np.uint16)
    lobes[1:3, 2:10, 3:9] = 7
    lobes[3:6, 2:10, 3:9] = 9  # overlaps the liver on purpose
    tumor = np.zeros(shape, bool)
    tumor[4, 5:7, 5:7] = True
    return [
        ("liver", SegmentationMask(liver, {"liver": 1}, space=space, colors={"liver": (0.8, 0.5, 0.4, 1.0)},
                                   metadata={"rater": "A", "score": [1, 2.5]})),
        ("lobes", SegmentationMask(lobes, {"upper": 7, "lower": 9}, space=space)),
        ("tumor", SegmentationMask(tumor, {"tumor": 1}, space=space,
                                   metadata={"slicer": {"TerminologyEntry":
                                             "Segmentation category and type - 3D Slicer General Anatomy list"
                                             "~SCT^49755003^Morphologically Altered Structure~SCT^108369006^Neoplasm"
                                             "~^^~Anatomic codes - DICOM master list~SCT^10200004^Liver~^^"}})),
        ("nothing", SegmentationMask(np.zeros(shape, np.uint8), {"nothing": 1}, space=space)),
    ]


def test_round_trip_is_exact_and_empty_entries_are_left_out_with_a_warning(tmp_path, series):
    items = masks(series.space)
    out = tmp_path / "o.seg.dcm"
    with pytest.warns(DicomSegWarning, match="1 empty segment.*'nothing'"):
        write_dicom_seg(items, series.space, out, series=series, algorithm=("TotalSegmentator", "2.4"),
                        series_description="organs")
    ds = pydicom.dcmread(out)
    assert ds.SeriesDescription == "organs" and ds.SegmentationType == "BINARY"
    assert [s.SegmentLabel for s in ds.SegmentSequence] == ["liver", "lobes/upper", "lobes/lower", "tumor"]
    space, back = read_dicom_seg(out)
    assert space == series.space
    assert [n for n, _ in back] == [n for n, _ in items]
    for (_, a), (_, b) in zip(items, back):
        assert a.mapping == b.mapping and a.dtype == b.dtype and a.metadata == b.metadata
        assert a.colors == b.colors
        assert np.array_equal(a.data, b.data)


def test_segments_carry_codes_colour_algorithm_and_reference_every_source_frame(tmp_path, series):
    out = tmp_path / "o.seg.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DicomSegWarning)
        write_dicom_seg(masks(series.space), series.space, out, series=series, algorithm="MyNet:1.2")
    seg = hd.seg.segread(out)
    liver = seg.get_segment_description(1)
    assert liver.segmented_property_type.value == "10200004"  # TotalSegmentator's SNOMED code for liver
    assert liver.algorithm_type.value == "AUTOMATIC"
    assert liver.algorithm_identification[0].AlgorithmName == "MyNet"
    assert liver.algorithm_identification[0].AlgorithmVersion == "1.2"
    assert tuple(liver.RecommendedDisplayCIELabValue) == hd.color.CIELabColor.from_rgb(204, 128, 102).value
    upper = seg.get_segment_description(2)
    assert upper.segmented_property_type.value == "85756007"  # unknown name: generic Tissue
    tumor = seg.get_segment_description(4)  # codes from the Slicer terminology in the metadata
    assert tumor.segmented_property_category.value == "49755003"
    assert tumor.segmented_property_type.value == "108369006"
    assert tumor.anatomic_regions[0].value == "10200004"
    ds = pydicom.dcmread(out)
    refs = {r.ReferencedSOPInstanceUID for r in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert refs == set(series.sop_instance_uids)
    for item in ds.PerFrameFunctionalGroupsSequence:
        src = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        k = series.sop_instance_uids.index(src)
        ipp = np.array([float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient])
        np.testing.assert_allclose(ipp, [float(v) for v in series.datasets[k].ImagePositionPatient], atol=1e-4)


def test_highdicom_reads_every_segment_at_the_same_world_voxels(tmp_path, series):
    items = masks(series.space)[:3]
    out = tmp_path / "o.seg.dcm"
    write_dicom_seg(items, series.space, out, series=series, manual=True)
    seg = hd.seg.segread(out)
    assert seg.get_segment_description(1).algorithm_type.value == "MANUAL"
    expected = [items[0][1].data > 0, items[1][1].data == 7, items[1][1].data == 9, items[2][1].data > 0]
    for number, want in enumerate(expected, start=1):
        vol = seg.get_volume(segment_numbers=[number], combine_segments=False)
        arr = vol.array[..., 0]
        hits = np.argwhere(arr)
        assert len(hits) == int(want.sum())
        aff = vol.affine
        for voxel in hits[:: max(1, len(hits) // 50)]:
            point = (aff @ np.array([*voxel, 1.0]))[:3]
            k = np.round(to_index(series.space, point)).astype(int)
            assert want[tuple(k)]


def test_labelmap_when_asked_and_nothing_overlaps(tmp_path, series):
    spot = np.zeros(series.space.shape, bool)
    spot[6:8, 11:13, 0:2] = True
    items = [masks(series.space)[0], ("spot", SegmentationMask(spot, {"spot": 1}, space=series.space))]
    out = tmp_path / "lm.seg.dcm"
    write_dicom_seg(items, series.space, out, series=series, segmentation_type="labelmap")
    ds = pydicom.dcmread(out)
    assert ds.SegmentationType == "LABELMAP"
    space, back = read_dicom_seg(out)
    for (_, a), (_, b) in zip(items, back):
        assert np.array_equal(a.data, b.data) and a.mapping == b.mapping
    with pytest.raises(ConversionError, match="LABELMAP cannot hold overlapping.*'liver' and 'lobes/upper'"):
        write_dicom_seg(masks(series.space)[:2], series.space, tmp_path / "x.dcm", series=series,
                        segmentation_type="labelmap")
    assert not (tmp_path / "x.dcm").exists()


def _shifted(space: Space, **change) -> Space:
    kw = dict(shape=space.shape, origin=space.origin, spacing=space.spacing, x_orientation=space.x_orientation,
              y_orientation=space.y_orientation, z_orientation=space.z_orientation)
    kw.update(change)
    return Space(**kw)


@pytest.mark.parametrize("change, message", [
    (lambda s: _shifted(s, origin=tuple(np.add(s.origin, (0, 0, 1.0)))), r"frames are misplaced.*1\.000 mm"),
    (lambda s: _shifted(s, spacing=(3.0, *s.spacing[1:])), r"slice spacing is 3 mm, the series' 2\.5 mm"),
    (lambda s: _shifted(s, shape=(9, *s.shape[1:])), "the mask has 9 slices of 14x12, the series 8"),
    # the same voxels in reversed slice order are reordered (tests/dicom/test_axis_order.py); not moved, refused
    (lambda s: _shifted(s, x_orientation=tuple(-np.asarray(s.x_orientation))), "slice order is reversed"),
])
def test_a_mask_off_the_series_grid_is_refused_saying_how(tmp_path, series, change, message):
    space = change(series.space)
    m = np.zeros(space.shape, np.uint8)
    m[2:4, 2:4, 2:4] = 1
    out = tmp_path / "o.seg.dcm"
    with pytest.raises(ConversionError, match="not on the grid of the series.*" + message):
        write_dicom_seg([("a", SegmentationMask(m, {"a": 1}, space=space))], space, out, series=series)
    assert not out.exists()


def test_float_noise_of_a_nifti_header_is_accepted(tmp_path, series):
    s = series.space
    noisy = _shifted(s, origin=tuple(np.float32(v) for v in s.origin),
                     spacing=tuple(float(np.float32(v)) for v in s.spacing))
    m = np.zeros(noisy.shape, np.uint8)
    m[2:4, 2:4, 2:4] = 1
    write_dicom_seg([("a", SegmentationMask(m, {"a": 1}, space=noisy))], noisy, tmp_path / "o.dcm", series=series)


def test_an_instance_without_sop_instance_uid_is_refused_in_one_line(tmp_path):
    files = make_series(tmp_path / "ct", grid(), drop_uid_of=3, shuffle=False)
    series = read_dicom_series_header(tmp_path / "ct")
    m = np.zeros(series.space.shape, np.uint8)
    m[1:3, 1:3, 1:3] = 1
    with pytest.raises(ConversionError) as err:
        write_dicom_seg([("a", SegmentationMask(m, {"a": 1}, space=series.space))], series.space,
                        tmp_path / "o.dcm", series=series)
    msg = str(err.value)
    assert "\n" not in msg and "has no SOP Instance UID" in msg and files[3].name in msg


def test_a_foreign_seg_gives_one_entry_per_segment_with_its_attributes(tmp_path, series):
    items = masks(series.space)[:3]
    out = tmp_path / "o.seg.dcm"
    write_dicom_seg(items, series.space, out, series=series, algorithm=("net", "3"))
    ds = pydicom.dcmread(out)
    del ds[PRIVATE_GROUP, 0x0010]  # as if another tool wrote it: no medmask description
    del ds[PRIVATE_GROUP, 0x1001]
    assert PRIVATE_CREATOR not in str(ds)
    ds.save_as(tmp_path / "foreign.dcm")
    space, back = read_dicom_seg(tmp_path / "foreign.dcm")
    assert [n for n, _ in back] == ["liver", "lobes/upper", "lobes/lower", "tumor"]
    liver = dict(back)["liver"]
    assert liver.dtype == bool
    dicom = liver.metadata["dicom"]
    assert dicom["type"] == ["SCT", "10200004", "Liver"] and dicom["algorithm_name"] == "net"
    assert dicom["segment_number"] == 1 and dicom["referenced_series_instance_uid"] == series.series_instance_uid
    np.testing.assert_allclose(liver.colors["liver"][:3], (0.8, 0.5, 0.4), atol=0.02)
    # geometry from the plane positions: the frames' extent only, at the same world positions
    want = items[0][1].data > 0
    got = liver.data
    assert got.sum() == want.sum()
    for voxel in np.argwhere(got)[::7]:
        k = np.round(to_index(series.space, world(space, voxel))).astype(int)
        assert want[tuple(k)]
    # on the series' grid when asked
    space2, back2 = read_dicom_seg(tmp_path / "foreign.dcm", series=series)
    assert space2 == series.space and np.array_equal(dict(back2)["liver"].data, want)
    # and exported again, the codes travel with the entry
    write_dicom_seg(back2, space2, tmp_path / "again.dcm", series=series)
    again = hd.seg.segread(tmp_path / "again.dcm")
    assert again.get_segment_description(4).segmented_property_type.value == "108369006"
    assert again.get_segment_description(1).algorithm_type.value == "AUTOMATIC"


def test_one_segment_on_one_slice(tmp_path, series):
    # highdicom puts what all frames share (segment, even the plane position) in the shared groups
    m = np.zeros(series.space.shape, bool)
    m[3, 4:6, 4:7] = True
    item = [("dot", SegmentationMask(m, {"dot": 1}, space=series.space))]
    write_dicom_seg(item, series.space, tmp_path / "dot.dcm", series=series)
    space, back = read_dicom_seg(tmp_path / "dot.dcm")
    assert np.array_equal(back[0][1].data, m)


def test_not_a_seg(tmp_path, series):
    with pytest.raises(ConversionError, match="is not a DICOM Segmentation.*CT"):
        read_dicom_seg(series.files[0])


def test_real_ct_body_and_bone_overlapping(tmp_path):
    folder = skip_without_real_series()
    from medmask.convert.dicom_series import read_dicom_series

    hu, space = read_dicom_series(folder)
    body = SegmentationMask((hu > -500).astype(np.uint8), {"body": 1}, space=space)
    bone = SegmentationMask(hu > 300, {"bone": 1}, space=space)
    out = tmp_path / "ct.seg.dcm"
    write_dicom_seg([("body", body), ("bone", bone)], space, out, series=folder, algorithm="threshold:1")
    back_space, back = read_dicom_seg(out)
    assert back_space == space
    assert np.array_equal(dict(back)["body"].data, body.data) and np.array_equal(dict(back)["bone"].data, bone.data)
    seg = hd.seg.segread(out)
    assert seg.number_of_segments == 2
    vol = seg.get_volume(combine_segments=False)
    assert vol.array[..., 1].sum() == bone.data.sum()
