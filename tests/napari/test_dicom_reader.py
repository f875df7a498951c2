"""napari opens a DICOM series as an Image and a DICOM-SEG as Labels, in the frame of the masks."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highdicom")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dicom"))

from dicom_helpers import make_series  # noqa: E402
from spacetransformer import Space  # noqa: E402

from medmask import MaskArchive, SegmentationMask  # noqa: E402
from medmask.convert.dicom_seg import write_dicom_seg  # noqa: E402
from medmask.convert.dicom_series import read_dicom_series_header  # noqa: E402


def flipped_space() -> Space:
    # a sagittal acquisition with rows running foot-to-head: nothing axis-aligned in array order
    return Space(shape=(6, 9, 8), origin=(-40.0, -20.0, 60.0), spacing=(3.0, 1.25, 0.9),
                 x_orientation=(1.0, 0.0, 0.0), y_orientation=(0.0, 0.0, -1.0), z_orientation=(0.0, 1.0, 0.0))


@pytest.fixture
def dicom_case(tmp_path):
    space = flipped_space()
    hu = np.full(space.shape, -1000, np.int16)
    marker = (4, 2, 6)
    hu[marker] = 900
    make_series(tmp_path / "ct", space, hu)
    series = read_dicom_series_header(tmp_path / "ct")
    found = tuple(int(v) for v in np.argwhere(series.read_pixels() == 900)[0])
    mask = np.zeros(series.space.shape, np.uint8)
    mask[found] = 1
    organ = SegmentationMask(mask, {"marker": 1}, space=series.space, colors={"marker": (1.0, 0.0, 0.0, 1.0)})
    write_dicom_seg([("marker", organ)], series.space, tmp_path / "m.seg.dcm", series=series)
    with MaskArchive(tmp_path / "m.mska", "w", space=series.space) as a:
        a.add_segmask(organ, "marker")
    return tmp_path, series, found


def test_reader_claims_series_and_seg_only(dicom_case):
    from napari_medmask._dicom_reader import get_dicom_reader, read_seg_path, read_series_path

    folder, series, _ = dicom_case
    assert get_dicom_reader(str(folder / "ct")) is read_series_path
    assert get_dicom_reader(str(series.files[0])) is read_series_path
    assert get_dicom_reader(str(folder / "m.seg.dcm")) is read_seg_path
    for name in ("m.mska", "m.msk", "ct.nii", "ct.nii.gz", "scan.nrrd", "scan.nhdr"):  # the other reader's
        assert get_dicom_reader(str(folder / name)) is None
    assert get_dicom_reader(str(folder)) is None  # a folder without DICOM files


def _world_of_value(layer, value) -> np.ndarray:
    idx = np.argwhere(np.asarray(layer.data) == value)
    assert len(idx) == 1
    return np.asarray(layer.data_to_world(idx[0]))


def test_series_seg_and_archive_share_the_frame(make_napari_viewer, dicom_case):
    folder, series, _ = dicom_case
    viewer = make_napari_viewer()
    image = viewer.open(str(series.files[0]), plugin="medmask")[0]
    assert image.__class__.__name__ == "Image" and image.data.shape[0] * image.data.shape[1] * image.data.shape[2] \
        == int(np.prod(series.space.shape))
    seg = viewer.open(str(folder / "m.seg.dcm"), plugin="medmask")[0]
    assert seg.__class__.__name__ == "Labels"
    where_image = _world_of_value(image, 900)
    where_seg = _world_of_value(seg, 1)
    np.testing.assert_allclose(where_seg, where_image, atol=1e-6)
    viewer.open(str(folder / "m.mska"), plugin="medmask")
    for layer in viewer.layers:
        if layer.__class__.__name__ == "Labels" and layer is not seg and np.asarray(layer.data).any():
            idx = np.argwhere(np.asarray(layer.data) > 0)
            np.testing.assert_allclose(np.asarray(layer.data_to_world(idx[0])), where_image, atol=1e-6)


def test_a_broken_dicom_file_is_one_notification(dicom_case, tmp_path):
    from napari_medmask._dicom_reader import get_dicom_reader

    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    reader = get_dicom_reader(str(bad))
    assert reader is not None
    assert reader(str(bad)) == [(None,)]
