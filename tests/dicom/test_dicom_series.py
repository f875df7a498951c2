"""Reading a CT series: geometry in medmask's convention, whatever the file order or orientation."""
from __future__ import annotations

import numpy as np
import pytest
from spacetransformer import Space

pytest.importorskip("pydicom")

from dicom_helpers import make_series, skip_without_real_series, to_index, world  # noqa: E402

from medmask.convert.dicom_series import (looks_like_dicom_series, read_dicom_series,  # noqa: E402
                                          read_dicom_series_header)
from medmask.errors import ConversionError  # noqa: E402


def oblique(shape=(6, 10, 12)) -> Space:
    c, s = np.cos(np.radians(18)), np.sin(np.radians(18))
    # rows and columns rotated 18 deg about z, columns flipped (right-to-left becomes left-to-right)
    return Space(shape=shape, origin=(-101.25, 37.5, -804.5), spacing=(2.5, 0.8, 0.7),
                 x_orientation=(0.0, 0.0, 1.0), y_orientation=(-s, c, 0.0), z_orientation=(-c, -s, 0.0))


def sagittal(shape=(5, 9, 7)) -> Space:
    # slices along LPS x, rows foot-to-head (flipped), columns posterior
    return Space(shape=shape, origin=(-40.0, -20.0, 60.0), spacing=(3.0, 1.25, 0.9),
                 x_orientation=(1.0, 0.0, 0.0), y_orientation=(0.0, 0.0, -1.0), z_orientation=(0.0, 1.0, 0.0))


@pytest.mark.parametrize("make_space", [oblique, sagittal])
def test_marker_voxel_lands_at_its_world_position(tmp_path, make_space):
    space = make_space()
    hu = np.full(space.shape, -1000, np.int16)
    marker = (3, 7, 2)
    hu[marker] = 1234
    make_series(tmp_path / "s", space, hu)
    data, read = read_dicom_series(tmp_path / "s")
    assert data.dtype == np.int16 and data.shape == tuple(space.shape)
    assert read.shape == space.shape
    np.testing.assert_allclose(read.spacing, space.spacing, atol=1e-9)
    found = np.argwhere(data == 1234)
    assert len(found) == 1
    np.testing.assert_allclose(world(read, found[0]), world(space, marker), atol=1e-6)
    assert data.min() == -1000


def test_slices_against_the_normal_are_sorted_along_it(tmp_path):
    # oblique(): slice k+1 lies one step *against* the normal rows x columns; the reader sorts by
    # position along the normal, so its axis 0 is reversed and its origin is the last slice
    space = oblique()
    normal = np.cross(space.z_orientation, space.y_orientation)
    assert np.dot(normal, space.x_orientation) < 0
    hu = np.zeros(space.shape, np.int16)
    hu[0] = 100
    make_series(tmp_path / "s", space, hu)
    data, read = read_dicom_series(tmp_path / "s")
    np.testing.assert_allclose(read.x_orientation, normal, atol=1e-9)
    assert (data[-1] == 100).all() and not data[:-1].any()
    np.testing.assert_allclose(world(read, (space.shape[0] - 1, 0, 0)), space.origin, atol=1e-6)


def test_one_file_opens_its_whole_series_and_ignores_others(tmp_path):
    space = oblique()
    files = make_series(tmp_path / "s", space)
    make_series(tmp_path / "s", sagittal(), description="another series")
    (tmp_path / "s" / "notes.txt").write_text("not dicom")
    with pytest.raises(ConversionError, match=r"holds 2 series.*\(6 files, synthetic CT\).*pass one file"):
        read_dicom_series_header(tmp_path / "s")
    series = read_dicom_series_header(files[0])
    assert len(series.files) == space.shape[0] and series.space.shape == space.shape
    assert looks_like_dicom_series(files[0]) and looks_like_dicom_series(tmp_path / "s")
    assert not looks_like_dicom_series(tmp_path / "s" / "notes.txt")


def test_a_missing_slice_is_refused(tmp_path):
    files = make_series(tmp_path / "s", oblique(), shuffle=False)
    files[3].unlink()
    with pytest.raises(ConversionError, match="not evenly spaced.*missing slice"):
        read_dicom_series(tmp_path / "s")


def test_not_dicom_and_empty_folders(tmp_path):
    (tmp_path / "e").mkdir()
    with pytest.raises(ConversionError, match="no DICOM files"):
        read_dicom_series(tmp_path / "e")
    (tmp_path / "x.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    with pytest.raises(ConversionError, match="x.dcm"):
        read_dicom_series(tmp_path / "x.dcm")
    with pytest.raises(ConversionError, match="no such"):
        read_dicom_series(tmp_path / "missing")


def test_real_jpeg2000_series():
    folder = skip_without_real_series()
    data, space = read_dicom_series(folder)
    assert data.shape == (20, 512, 512) and data.dtype == np.int16
    np.testing.assert_allclose(space.spacing, (2.0, 0.9765625, 0.9765625))
    np.testing.assert_allclose(space.origin, (-249.51171875, -437.51171875, -804.5))
    assert data.min() == -1024 and 1000 < data.max() < 3000  # HU: air and bone
    # slice 0 is the lowest (z = -804.5), as the README of the data says
    assert to_index(space, (-249.51171875, -437.51171875, -766.5))[0] == pytest.approx(19)
