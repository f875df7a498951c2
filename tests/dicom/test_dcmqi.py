"""Independent checks with dcmqi, the reference DICOM-SEG converter (its ITK-based command line tools).

Our SEG -> dcmqi ``segimage2itkimage`` -> NRRD per segment: every segment equal voxel by voxel,
compared in world (LPS) coordinates. dcmqi ``itkimage2segimage`` -> SEG -> medmask: the same.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highdicom")
nrrd = pytest.importorskip("nrrd")

from dicom_helpers import make_series, skip_without_real_series  # noqa: E402
from test_dicom_seg import grid, masks  # noqa: E402

from medmask import SegmentationMask  # noqa: E402
from medmask.convert._geometry import nrrd_geometry_from_space, space_from_nrrd_geometry  # noqa: E402
from medmask.convert.dicom_seg import DicomSegWarning, read_dicom_seg, write_dicom_seg  # noqa: E402
from medmask.convert.dicom_series import read_dicom_series, read_dicom_series_header  # noqa: E402
from medmask.core.geometry import index_to_world_affine  # noqa: E402


def dcmqi_tool(name: str) -> str:
    for candidate in (Path(sys.executable).parent / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.skip(f"dcmqi's {name} is not installed (pip install dcmqi)")


def read_itk_nrrd(path: Path):
    data, header = nrrd.read(str(path), index_order="C")
    space = space_from_nrrd_geometry(header["space directions"], header["space origin"], header["sizes"],
                                     space_name=header.get("space", "left-posterior-superior"))
    return data, space


def assert_same_world_voxels(data_a, space_a, data_b, space_b):
    """The non-zero voxels of a and of b are the same points in LPS (each maps onto the other's lattice)."""
    to_b = np.linalg.inv(index_to_world_affine(space_b)) @ index_to_world_affine(space_a)
    hits = np.argwhere(data_a)
    assert len(hits) == int(np.count_nonzero(data_b)) > 0
    idx = hits @ to_b[:3, :3].T + to_b[:3, 3]
    rounded = np.round(idx)
    assert np.abs(idx - rounded).max() < 0.05, "the grids do not share a lattice"
    rounded = rounded.astype(int)
    assert (rounded >= 0).all() and (rounded < np.asarray(data_b.shape)).all()
    assert data_b[tuple(rounded.T)].all()


def segimage2itkimage(seg: Path, out: Path) -> dict[str, tuple[np.ndarray, object]]:
    out.mkdir()
    proc = subprocess.run([dcmqi_tool("segimage2itkimage"), "--inputDICOM", str(seg), "--outputDirectory", str(out),
                           "-t", "nrrd"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    meta = json.loads((out / "meta.json").read_text())
    result = {}
    for i, group in enumerate(meta["segmentAttributes"], start=1):
        data, space = read_itk_nrrd(out / f"{i}.nrrd")
        for attrs in group:
            result[attrs["SegmentLabel"]] = (data == attrs["labelID"], space, attrs)
    return result


def test_dcmqi_reads_our_seg_voxel_for_voxel(tmp_path):
    folder = tmp_path / "ct"
    make_series(folder, grid())
    series = read_dicom_series_header(folder)
    items = masks(series.space)
    seg = tmp_path / "o.seg.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DicomSegWarning)
        write_dicom_seg(items, series.space, seg, series=series, algorithm="net:1")
    theirs = segimage2itkimage(seg, tmp_path / "dcmqi")
    expected = {"liver": items[0][1].data > 0, "upper": items[1][1].data == 7,  # SegmentLabel: the label's name
                "lower": items[1][1].data == 9, "tumor": items[2][1].data > 0}
    assert set(theirs) == set(expected)
    for name, want in expected.items():
        data, space, attrs = theirs[name]
        assert_same_world_voxels(data, space, want, series.space)
        assert_same_world_voxels(want, series.space, data, space)
    assert theirs["liver"][2]["SegmentedPropertyTypeCodeSequence"]["CodeValue"] == "10200004"
    assert theirs["liver"][2]["recommendedDisplayRGBValue"] == [204, 128, 102]


def test_dcmqi_reads_our_seg_of_the_real_ct(tmp_path):
    folder = skip_without_real_series()
    hu, space = read_dicom_series(folder)
    body, bone = hu > -500, hu > 300
    seg = tmp_path / "ct.seg.dcm"
    write_dicom_seg([("body", SegmentationMask(body, {"body": 1}, space=space)),
                     ("bone", SegmentationMask(bone, {"bone": 1}, space=space))], space, seg, series=folder)
    theirs = segimage2itkimage(seg, tmp_path / "dcmqi")
    for name, want in (("body", body), ("bone", bone)):
        data, their_space, _ = theirs[name]
        assert_same_world_voxels(data, their_space, want, space)
        assert_same_world_voxels(want, space, data, their_space)


def test_we_import_a_seg_dcmqi_wrote(tmp_path):
    folder = tmp_path / "ct"
    make_series(folder, grid())
    series = read_dicom_series_header(folder)
    labels = np.zeros(series.space.shape, np.uint16)
    labels[1:6, 2:10, 3:9] = 1
    labels[5:7, 10:13, 1:4] = 2
    directions, origin = nrrd_geometry_from_space(series.space)
    nrrd.write(str(tmp_path / "labels.nrrd"), labels, {"space": "left-posterior-superior",
               "space directions": directions, "space origin": origin, "kinds": ["domain"] * 3}, index_order="C")
    code = {"CodingSchemeDesignator": "SCT", "CodeValue": "85756007", "CodeMeaning": "Tissue"}
    meta = {"ContentCreatorName": "Reader^One", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
            "SeriesDescription": "by dcmqi", "SeriesNumber": "300", "InstanceNumber": "1",
            "segmentAttributes": [[
                {"labelID": 1, "SegmentLabel": "liver", "SegmentAlgorithmType": "MANUAL",
                 "SegmentedPropertyCategoryCodeSequence": code,
                 "SegmentedPropertyTypeCodeSequence": {"CodingSchemeDesignator": "SCT", "CodeValue": "10200004",
                                                       "CodeMeaning": "Liver"},
                 "recommendedDisplayRGBValue": [221, 130, 101]},
                {"labelID": 2, "SegmentLabel": "lesion", "SegmentAlgorithmType": "MANUAL",
                 "SegmentedPropertyCategoryCodeSequence": code, "SegmentedPropertyTypeCodeSequence": code,
                 "recommendedDisplayRGBValue": [20, 200, 30]}]]}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / "dcmqi.seg.dcm"
    proc = subprocess.run([dcmqi_tool("itkimage2segimage"), "--inputImageList", str(tmp_path / "labels.nrrd"),
                           "--inputDICOMDirectory", str(folder), "--outputDICOM", str(out),
                           "--inputMetadata", str(tmp_path / "meta.json")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    space, items = read_dicom_seg(out)  # the SEG's own grid, from its plane positions
    got = dict(items)
    assert list(got) == ["liver", "lesion"]
    for value, name in ((1, "liver"), (2, "lesion")):
        want = labels == value
        assert_same_world_voxels(got[name].data, space, want, series.space)
        assert_same_world_voxels(want, series.space, got[name].data, space)
    assert got["liver"].metadata["dicom"]["type"] == ["SCT", "10200004", "Liver"]
    np.testing.assert_allclose(np.array(got["lesion"].colors["lesion"][:3]) * 255, (20, 200, 30), atol=3)
    space2, items2 = read_dicom_seg(out, series=folder)  # on the CT's grid: array-equal
    assert space2 == series.space
    assert np.array_equal(dict(items2)["liver"].data, labels == 1)
