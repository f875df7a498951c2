"""A DICOM series as an archive's scan: recorded, found again, read by image_io like NIfTI/NRRD."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pydicom")

from dicom_helpers import make_series  # noqa: E402
from test_dicom_seg import grid  # noqa: E402

from medmask import MaskArchive, SegmentationMask  # noqa: E402
from medmask.convert.dicom_series import read_dicom_series  # noqa: E402
from medmask.convert.image_io import read_image, read_image_header  # noqa: E402
from medmask.convert.image_link import check_image, image_reference_for  # noqa: E402
from medmask.errors import ConversionError, GeometryError  # noqa: E402


def test_series_folder_is_an_archive_scan_reference(tmp_path):
    hu = np.arange(np.prod(grid().shape), dtype=np.int32).reshape(grid().shape) % 2000 - 1000
    files = make_series(tmp_path / "case" / "ct", grid(), hu.astype(np.int16))
    data, space = read_dicom_series(tmp_path / "case" / "ct")
    array, image_space = read_image(tmp_path / "case" / "ct")  # image_io dispatches to the DICOM reader
    assert image_space == space and np.array_equal(array, data)
    assert read_image_header(files[0]) == space  # one file of the series names the same scan
    archive_path = tmp_path / "case" / "organs.mska"
    m = np.zeros(space.shape, np.uint8)
    m[2:4, 3:5, 4:6] = 1
    with MaskArchive(archive_path, "w", space=space) as archive:
        archive.add_segmask(SegmentationMask(m, {"dot": 1}, space=space), "dot")
        archive.image_reference = image_reference_for(tmp_path / "case" / "ct", archive_path, space)
    with MaskArchive(archive_path) as archive:
        ref = archive.image_reference
    assert ref.path == "ct"
    found = check_image(ref, archive_path)
    assert found.ok, found.problem
    # a CT on another grid is refused, naming the difference
    make_series(tmp_path / "other", type(space)(shape=(8, 14, 12), spacing=(1.0, 1.0, 1.0)))
    with pytest.raises(GeometryError, match="is not on the masks' grid: spacing"):
        image_reference_for(tmp_path / "other", archive_path, space)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConversionError, match="holds no DICOM files"):
        read_image(tmp_path / "empty")
