"""Synthetic DICOM CT series written with pydicom, for tests that must not depend on shared data."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import DSfloat
from spacetransformer import Space

REPO = Path(__file__).resolve().parents[2]
REAL_SERIES = REPO.parent / "shared" / "data" / "totalseg_ct_dicom"


def _ds(values) -> list:
    return [DSfloat(float(v), auto_format=True) for v in values]


def make_series(folder: Path, space: Space, hu: np.ndarray | None = None, *, shuffle: bool = True,
                drop_uid_of: int | None = None, series_uid: str | None = None, study_uid: str | None = None,
                description: str = "synthetic CT") -> list[Path]:
    """Write ``hu`` (medmask axis order, HU) as one CT file per slice of ``space``; returns the files.

    Slice k sits at ``origin + k * spacing0 * dir0``; rows run along axis 1, columns along axis 2.
    Files get random names and are written in shuffled order so readers must sort by position.
    """
    folder.mkdir(parents=True, exist_ok=True)
    n, rows, cols = (int(v) for v in space.shape)
    if hu is None:
        hu = np.full((n, rows, cols), -1000, np.int16)
    d0, d1, d2 = (np.asarray(d, float) for d in (space.x_orientation, space.y_orientation, space.z_orientation))
    s0, s1, s2 = (float(v) for v in space.spacing)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_uid = generate_uid()
    order = list(range(n))
    if shuffle:
        random.Random(7).shuffle(order)
    files = []
    for k in order:
        meta = FileMetaDataset()
        sop_uid = generate_uid()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = "" if k == drop_uid_of else sop_uid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.PatientName = "Test^Phantom"
        ds.PatientID = "PHANTOM01"
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.StudyDate = "20240101"
        ds.StudyTime = "120000"
        ds.StudyID = "1"
        ds.AccessionNumber = ""
        ds.ReferringPhysicianName = ""
        ds.Modality = "CT"
        ds.Manufacturer = "medmask tests"
        ds.SeriesNumber = 1
        ds.SeriesDescription = description
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = _ds(np.asarray(space.origin, float) + k * s0 * d0)
        ds.ImageOrientationPatient = _ds([*d2, *d1])
        ds.PixelSpacing = _ds([s1, s2])
        ds.SliceThickness = DSfloat(s0, auto_format=True)
        ds.Rows, ds.Columns = rows, cols
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.PixelData = (hu[k].astype(np.int32) + 1024).astype(np.uint16).tobytes()
        path = folder / f"IM{random.Random(series_uid + str(k)).randrange(10**8):08d}"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return files


def dicom_space(space: Space, folder: Path) -> Space:
    """The Space medmask reads back for a series written from ``space`` (DICOM keeps 16 digits)."""
    from medmask.convert.dicom_series import read_dicom_series_header

    return read_dicom_series_header(folder).space


def world(space: Space, index) -> np.ndarray:
    from medmask.core.geometry import index_to_world_affine

    return (index_to_world_affine(space) @ np.array([*index, 1.0]))[:3]


def to_index(space: Space, point) -> np.ndarray:
    from medmask.core.geometry import index_to_world_affine

    return (np.linalg.inv(index_to_world_affine(space)) @ np.array([*point, 1.0]))[:3]


def skip_without_real_series():
    import pytest

    if not REAL_SERIES.is_dir():
        pytest.skip(f"{REAL_SERIES} is absent")
    pytest.importorskip("pylibjpeg")
    return REAL_SERIES
