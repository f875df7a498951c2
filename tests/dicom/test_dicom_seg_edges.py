"""Edge cases of the fast BINARY export against highdicom's own Segmentation (element for element,
bit for bit) and back through medmask's import: segments on the first/last slice only or with
empty slices, 1-row and 1-column grids, descending slice positions, oblique and flipped axes,
one segment and many; and a SEG whose frames sit at differing in-plane offsets."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from spacetransformer import Space

pytest.importorskip("highdicom")

import pydicom  # noqa: E402
from dicom_helpers import make_series  # noqa: E402
from test_dicom_seg_frames import assert_same_dataset, both_ways  # noqa: E402

from medmask import SegmentationMask  # noqa: E402
from medmask.convert import dicom_seg  # noqa: E402
from medmask.convert.dicom_series import read_dicom_series_header  # noqa: E402


def _space(shape, slice_dir, row_dir, col_dir, origin=(10.5, -20.25, 55.0), spacing=(2.0, 0.75, 0.6)) -> Space:
    return Space(shape=shape, origin=origin, spacing=spacing, x_orientation=slice_dir, y_orientation=row_dir,
                 z_orientation=col_dir)


c, s = float(np.cos(np.radians(25))), float(np.sin(np.radians(25)))
GRIDS = {
    # slices towards the feet (descending z), rows and columns flipped
    "descending-flipped": _space((6, 9, 7), (0.0, 0.0, -1.0), (0.0, -1.0, 0.0), (-1.0, 0.0, 0.0)),
    # double-oblique, slices along -x: positions descend along x
    "oblique-descending": _space((5, 8, 10), (-c, 0.0, -s), (0.0, 1.0, 0.0), (s, 0.0, -c)),
    "one-row": _space((5, 1, 9), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
    "one-column": _space((5, 9, 1), (0.0, s, c), (0.0, c, -s), (1.0, 0.0, 0.0)),
    "one-pixel-frames": _space((4, 1, 1), (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 0.0, 0.0)),
    "six-pixel-frames": _space((5, 2, 3), (0.0, 0.0, -1.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
}


def first_last(space: Space) -> list[tuple[str, SegmentationMask]]:
    """One segment on the first slice only, one on the last only, one on both with empty slices between."""
    shape = space.shape
    first, last, ends = (np.zeros(shape, bool) for _ in range(3))
    first[0, -1, 0] = True
    last[-1, 0, -1] = True
    ends[0] = ends[-1] = True
    return [(n, SegmentationMask(m, {n: 1}, space=space)) for n, m in (("first", first), ("last", last), ("ends", ends))]


def one(space: Space) -> list[tuple[str, SegmentationMask]]:
    m = np.zeros(space.shape, bool)
    m[1:] = True
    m[2] = False  # a gap slice
    return [("only", SegmentationMask(m, {"only": 1}, space=space))]


def many(space: Space) -> list[tuple[str, SegmentationMask]]:
    """One entry of 12 labels scattered over the slices, plus an overlapping binary entry."""
    rng = np.random.default_rng(3)
    lab = np.zeros(space.shape, np.uint8)
    flat = lab.reshape(-1)
    idx = rng.choice(flat.size, size=min(flat.size, 24), replace=False)
    flat[idx] = np.arange(len(idx)) % 12 + 1
    over = np.zeros(space.shape, bool)
    over[::2] = lab[::2] > 0
    return [("labels", SegmentationMask(lab, {f"l{i}": i for i in range(1, 13)}, space=space)),
            ("over", SegmentationMask(over, {"over": 1}, space=space))]


def _series(tmp_path, name):
    make_series(tmp_path / name, GRIDS[name])
    return read_dicom_series_header(tmp_path / name)


@pytest.mark.parametrize("grid_name", list(GRIDS))
@pytest.mark.parametrize("make_items", [first_last, one, many], ids=["first-last", "one-segment", "many"])
def test_export_equals_highdicoms_and_reads_back(tmp_path, grid_name, make_items):
    series = _series(tmp_path, grid_name)
    assert series.space.shape == GRIDS[grid_name].shape
    items = make_items(series.space)
    ours, theirs = both_ways(series, items, series.space)
    assert_same_dataset(ours, theirs)
    n_frames = int(theirs.NumberOfFrames)
    n_bytes = -(-n_frames * int(theirs.Rows) * int(theirs.Columns) // 8)
    pixels = int(theirs.Rows) * int(theirs.Columns)
    if pixels < 8:
        # highdicom 0.28 stores a frame of fewer than 8 pixels in a byte of its own, against PS3.5
        # 8.1.1 (frames of 1-bit pixels follow each other without padding; pydicom reads them so)
        assert len(theirs.PixelData) == n_frames + n_frames % 2
        want = np.concatenate([pydicom.pixels.unpack_bits(theirs.PixelData[i:i + 1])[:pixels]
                               for i in range(n_frames)])
        assert np.array_equal(pydicom.pixels.unpack_bits(ours.PixelData)[:n_frames * pixels], want)
        assert len(ours.PixelData) == n_bytes + n_bytes % 2
    else:
        assert ours.PixelData[:n_bytes] == theirs.PixelData[:n_bytes]
        assert len(ours.PixelData) == len(theirs.PixelData)
    out = tmp_path / "o.seg.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dicom_seg.DicomSegWarning)
        dicom_seg.write_dicom_seg(items, series.space, out, series=series, manual=True)
        space, back = dicom_seg.read_dicom_seg(out)
    assert space == series.space
    got = {}
    for name, m in back:
        for label, value in m.mapping.items():
            got[label] = m.data == value if m.data.dtype != bool else m.data
    for name, m in items:
        for label, value in m.mapping.items():
            want = m.data == value if m.data.dtype != bool else m.data
            key = label if len(items) == 1 or name is None else next(k for k in got if k.endswith(label))
            if not want.any():
                continue  # an empty label has no frames; whether it is kept is another test's concern
            assert np.array_equal(got[key], want), (name, label)


def test_labelmap_with_overlaps_is_refused_naming_both(tmp_path):
    series = _series(tmp_path, "descending-flipped")
    items = many(series.space)
    with pytest.raises(dicom_seg.ConversionError, match="overlapping segments") as info:
        dicom_seg.write_dicom_seg(items, series.space, tmp_path / "x.seg.dcm", series=series,
                                  segmentation_type="labelmap", manual=True)
    assert "over" in str(info.value)
    assert not (tmp_path / "x.seg.dcm").exists()


def test_frames_at_differing_in_plane_offsets(tmp_path):
    """A SEG whose frames do not all start at the grid's first pixel (a cropped SEG of another
    writer): each frame's pixels land where its ImagePositionPatient says."""
    series = _series(tmp_path, "descending-flipped")
    space = series.space
    small = np.zeros(space.shape, bool)
    small[2, 3:5, 2:4] = True
    small[3, 5:7, 4:6] = True
    out = tmp_path / "o.seg.dcm"
    dicom_seg.write_dicom_seg([("s", SegmentationMask(small, {"s": 1}, space=space))], space, out, series=series,
                              manual=True)
    ds = pydicom.dcmread(out)
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns)).astype(np.uint8)
    # crop every frame to a 2 x 2 window around its pixels, and move its position to that window
    rows_dir = np.asarray(space.y_orientation, float) * float(space.spacing[1])
    cols_dir = np.asarray(space.z_orientation, float) * float(space.spacing[2])
    cropped = []
    for f, item in zip(frames, ds.PerFrameFunctionalGroupsSequence):
        r, cc = (int(v.min()) for v in np.nonzero(f))
        cropped.append(f[r:r + 2, cc:cc + 2])
        pos = item.PlanePositionSequence[0]
        pos.ImagePositionPatient = [float(v) for v in np.asarray(pos.ImagePositionPatient, float)
                                    + r * rows_dir + cc * cols_dir]
    assert len(cropped) == 2
    ds.Rows, ds.Columns = 2, 2
    ds.PixelData = pydicom.pixels.pack_bits(np.stack(cropped))
    ds.save_as(tmp_path / "cropped.seg.dcm", enforce_file_format=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dicom_seg.DicomSegWarning)
        got_space, back = dicom_seg.read_dicom_seg(tmp_path / "cropped.seg.dcm", series=series)
    assert got_space == space
    assert np.array_equal(back[0][1].data.astype(bool), small)
