"""medmask's fast BINARY export equals highdicom's own Segmentation, element for element and bit for bit.

medmask gives highdicom a one-voxel label map and then puts in the per-frame functional groups
and the bit-packed frames itself (no dense slices x rows x columns x segments stack). Here the
same segments go through highdicom's constructor the documented way (the stacked array) and
both datasets must be equal: every top-level element, every per-frame item, the frame order
and the pixel data. Only what highdicom makes up per call (DimensionOrganizationUID, content
date/time) and the byte that pads odd-length pixel data may differ.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from spacetransformer import Space

pytest.importorskip("highdicom")

import highdicom as hd  # noqa: E402
import pydicom  # noqa: E402
from dicom_helpers import make_series  # noqa: E402
from test_dicom_seg import grid, masks  # noqa: E402

from medmask import SegmentationMask  # noqa: E402
from medmask.convert import dicom_seg  # noqa: E402
from medmask.convert.dicom_seg import write_dicom_seg  # noqa: E402
from medmask.convert.dicom_series import read_dicom_series_header  # noqa: E402
from medmask.core.geometry import bbox_slices  # noqa: E402

PER_CALL = {"DimensionOrganizationUID", "ContentDate", "ContentTime", "InstanceCreationDate", "InstanceCreationTime",
            "ContributionDateTime"}


def odd_grid() -> Space:
    """13 x 11 pixels: a frame is not a whole number of bytes, so frames share bytes."""
    c, s = np.cos(np.radians(18)), np.sin(np.radians(18))
    return Space(shape=(9, 13, 11), origin=(12.5, -40.25, 300.0), spacing=(3.0, 0.9, 1.1),
                 x_orientation=(0.0, 0.0, -1.0), y_orientation=(c, s, 0.0), z_orientation=(-s, c, 0.0))


def scattered(space: Space) -> list[tuple[str, SegmentationMask]]:
    """Segments with gaps between their slices, one on a single slice, none on slices 0 and 5."""
    shape = space.shape
    a = np.zeros(shape, bool)
    a[1:3, 2:7, 1:5] = True
    a[6:8, 4:9, 3:8] = True  # slice 5 empty in between
    b = np.zeros(shape, bool)
    b[4, 0, 0] = b[4, -1, -1] = True  # corners of one slice
    c = np.zeros(shape, bool)
    c[2:5, 3:6, 2:4] = True  # overlaps a on slice 2
    return [(n, SegmentationMask(m, {n: 1}, space=space)) for n, m in (("a", a), ("b", b), ("c", c))]


def both_ways(series, items, space):
    """(medmask's dataset, highdicom's dataset) for the same segments and options."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dicom_seg.DicomSegWarning)
        segments, _ = dicom_seg._segment_plan(items, space, None)
    descriptions = [dicom_seg._segment_description(hd, s, ("Net", "1"), False) for s in segments]
    options = dicom_seg._segmentation_options(hd, "binary", descriptions, 300, "organs", "0", {})
    shape = tuple(int(v) for v in space.shape)
    ours = dicom_seg.build_segmentation(hd, series, segments, shape, options)
    stacked = np.zeros((*shape, len(segments)), dtype=bool)
    for i, s in enumerate(segments):
        stacked[(*bbox_slices(s["box"]), i)] = s["region"]
    theirs = hd.seg.Segmentation(source_images=series.datasets, pixel_array=stacked, **options)
    return ours, theirs


def assert_same_dataset(ours, theirs, where="") -> None:
    keys_ours = {e.keyword or str(e.tag) for e in ours}
    keys_theirs = {e.keyword or str(e.tag) for e in theirs}
    assert keys_ours == keys_theirs, f"{where}: only ours {keys_ours - keys_theirs}, only highdicom's {keys_theirs - keys_ours}"
    for elem in theirs:
        if elem.keyword in PER_CALL or elem.keyword == "PixelData":
            continue
        mine = ours[elem.tag]
        assert mine.VR == elem.VR, f"{where}{elem.keyword}: VR {mine.VR} vs {elem.VR}"
        if elem.VR == "SQ":
            assert len(mine.value) == len(elem.value), f"{where}{elem.keyword}: {len(mine.value)} vs {len(elem.value)} items"
            for i, (a, b) in enumerate(zip(mine.value, elem.value)):
                assert_same_dataset(a, b, f"{where}{elem.keyword}[{i}].")
        else:
            assert mine.value == elem.value, f"{where}{elem.keyword}: {mine.value!r} vs {elem.value!r}"


@pytest.mark.parametrize("make_grid, make_items", [(grid, masks), (odd_grid, scattered)], ids=["overlapping", "odd-frames"])
def test_fast_binary_export_equals_highdicoms_own(tmp_path, make_grid, make_items):
    make_series(tmp_path / "ct", make_grid())
    series = read_dicom_series_header(tmp_path / "ct")
    ours, theirs = both_ways(series, make_items(series.space), series.space)
    assert ours.SegmentsOverlap == theirs.SegmentsOverlap == "YES"
    assert int(ours.NumberOfFrames) == int(theirs.NumberOfFrames) > 3
    assert_same_dataset(ours, theirs)
    n_bytes = -(-int(theirs.NumberOfFrames) * int(theirs.Rows) * int(theirs.Columns) // 8)
    assert ours.PixelData[:n_bytes] == theirs.PixelData[:n_bytes]
    assert len(ours.PixelData) == len(theirs.PixelData)
    # and both files hold the same element set as written to disk
    ours.save_as(tmp_path / "ours.dcm", enforce_file_format=True)
    theirs.save_as(tmp_path / "theirs.dcm", enforce_file_format=True)
    a, b = pydicom.dcmread(tmp_path / "ours.dcm"), pydicom.dcmread(tmp_path / "theirs.dcm")
    assert {e.tag for e in a} == {e.tag for e in b}
    assert a.PerFrameFunctionalGroupsSequence == b.PerFrameFunctionalGroupsSequence  # as written, item for item
    assert a.SharedFunctionalGroupsSequence == b.SharedFunctionalGroupsSequence
    assert np.array_equal(a.pixel_array, b.pixel_array)


def test_segments_that_do_not_overlap_say_so(tmp_path):
    make_series(tmp_path / "ct", grid())
    series = read_dicom_series_header(tmp_path / "ct")
    lobes = [it for it in masks(series.space) if it[0] == "lobes"]  # two labels of one entry: two disjoint segments
    ours, theirs = both_ways(series, lobes, series.space)
    assert ours.SegmentsOverlap == theirs.SegmentsOverlap == "NO"
    assert_same_dataset(ours, theirs)


@pytest.mark.parametrize("make_grid, make_items", [(grid, masks), (odd_grid, scattered)], ids=["overlapping", "odd-frames"])
def test_import_unpacks_each_segments_frames_like_pydicoms_pixel_array(tmp_path, monkeypatch, make_grid, make_items):
    make_series(tmp_path / "ct", make_grid())
    series = read_dicom_series_header(tmp_path / "ct")
    items = make_items(series.space)
    out = tmp_path / "o.seg.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dicom_seg.DicomSegWarning)
        write_dicom_seg(items, series.space, out, series=series, manual=True)
        space, back = dicom_seg.read_dicom_seg(out)
        # the same SEG put on the series grid by frame position, and read through pydicom's pixel_array
        monkeypatch.setattr(dicom_seg, "_binary_frames", lambda ds, path: None)
        space_ref, back_ref = dicom_seg.read_dicom_seg(out)
    assert space == space_ref == series.space
    assert [n for n, _ in back] == [n for n, _ in items] == [n for n, _ in back_ref]
    for (_, a), (_, b), (_, c) in zip(items, back, back_ref):
        assert np.array_equal(a.data, b.data) and np.array_equal(b.data, c.data)


def test_a_seg_read_onto_a_bigger_series_grid(tmp_path):
    """Frames smaller than the target grid: each segment's frames land at the grid's row/column 0."""
    small = grid()
    big = Space(shape=(small.shape[0], small.shape[1] + 4, small.shape[2] + 3), origin=small.origin,
                spacing=small.spacing, x_orientation=small.x_orientation, y_orientation=small.y_orientation,
                z_orientation=small.z_orientation)
    make_series(tmp_path / "small", small)
    series = read_dicom_series_header(tmp_path / "small")
    items = masks(series.space)[:3]
    out = tmp_path / "o.seg.dcm"
    write_dicom_seg(items, series.space, out, series=series, manual=True)
    make_series(tmp_path / "big", big)  # extends the small grid by rows/columns after its end
    space, back = dicom_seg.read_dicom_seg(out, series=read_dicom_series_header(tmp_path / "big"))
    assert space.shape == big.shape
    assert [n for n, _ in back] == [n for n, _ in items]
    for (_, a), (_, b) in zip(items, back):
        want = np.zeros(big.shape, a.dtype)
        want[:, : small.shape[1], : small.shape[2]] = a.data
        assert b.mapping == a.mapping and np.array_equal(b.data, want)


def test_more_than_255_segments(tmp_path):
    """300 labels of one entry: 300 BINARY segments (highdicom's label volume is then 16-bit)."""
    make_series(tmp_path / "ct", grid())
    series = read_dicom_series_header(tmp_path / "ct")
    lab = np.zeros(series.space.shape, np.uint16)
    lab.reshape(-1)[:600:2] = np.arange(1, 301)
    mask = SegmentationMask(lab, {f"l{i}": i for i in range(1, 301)}, space=series.space)
    out = tmp_path / "o.seg.dcm"
    write_dicom_seg([("many", mask)], series.space, out, series=series, manual=True)
    _, back = dicom_seg.read_dicom_seg(out)
    assert back[0][1].mapping == mask.mapping and np.array_equal(back[0][1].data, lab)
    seg = hd.seg.segread(out)
    assert len(seg.segment_numbers) == 300
    vol = seg.get_volume(segment_numbers=[300], combine_segments=True)
    assert int(np.count_nonzero(vol.array)) == 1


def test_pixel_data_shorter_than_its_frames_is_one_clear_error(tmp_path):
    make_series(tmp_path / "ct", grid())
    series = read_dicom_series_header(tmp_path / "ct")
    out = tmp_path / "o.seg.dcm"
    write_dicom_seg(masks(series.space)[:2], series.space, out, series=series, manual=True)
    ds = pydicom.dcmread(out)
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    ds.save_as(tmp_path / "short.seg.dcm", enforce_file_format=True)
    with pytest.raises(dicom_seg.ConversionError, match=r"short\.seg\.dcm.*pixel data holds \d+ bytes"):
        dicom_seg.read_dicom_seg(tmp_path / "short.seg.dcm")
