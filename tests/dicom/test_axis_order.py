"""Same voxels, other axis order: DICOM-SEG export, import with a series and back are exact, never refused.

A NIfTI made from a DICOM series by dicom2nifti or dcm2niix stores the rows reversed; dcmqi writes a SEG
of it with its frames reversed too. Checked here against the field's tools: dcmqi (``segimage2itkimage``
reads what medmask wrote; ``itkimage2segimage`` writes what medmask reads) and highdicom (``get_volume``),
every comparison in patient (LPS) space. Series whose row or column cosines are negated catch the
anterior/posterior mirror TotalSegmentator's own SEG writer once made.
"""
from __future__ import annotations

import json
import logging
import subprocess
import warnings

import numpy as np
import pytest
from spacetransformer import Space

pytest.importorskip("highdicom")
nrrd = pytest.importorskip("nrrd")

import highdicom as hd  # noqa: E402
from dicom_helpers import make_series  # noqa: E402
from test_dcmqi import assert_same_world_voxels, dcmqi_tool, segimage2itkimage  # noqa: E402
from test_dicom_seg import grid  # noqa: E402

from medmask import SegmentationMask  # noqa: E402
from medmask.convert._geometry import nrrd_geometry_from_space  # noqa: E402
from medmask.convert.dicom_seg import DicomSegWarning, read_dicom_seg, write_dicom_seg  # noqa: E402
from medmask.convert.dicom_series import read_dicom_series_header  # noqa: E402
from medmask.core.geometry import index_to_world_affine  # noqa: E402
from medmask.core.grid_match import AxisMatch, reorder_mask  # noqa: E402
from medmask.errors import ConversionError  # noqa: E402

import itertools  # noqa: E402

SIGNED_PERMUTATIONS = [AxisMatch(axes, flips) for axes in itertools.permutations((0, 1, 2))
                       for flips in itertools.product((False, True), repeat=3)]
ROWS_REVERSED = AxisMatch((0, 1, 2), (False, True, False))  # dicom2nifti / dcm2niix
IDS = [f"{''.join(map(str, m.axes))}{''.join('r' if f else '-' for f in m.flips)}" for m in SIGNED_PERMUTATIONS]


def _with(space: Space, **change) -> Space:
    kw = dict(shape=space.shape, origin=space.origin, spacing=space.spacing, x_orientation=space.x_orientation,
              y_orientation=space.y_orientation, z_orientation=space.z_orientation)
    return Space(**{**kw, **change})


def negated(space: Space, row: bool, column: bool) -> Space:
    """The grid with the DICOM row cosine (medmask axis 2) and/or column cosine (axis 1) negated."""
    y, z = np.asarray(space.y_orientation), np.asarray(space.z_orientation)
    return _with(space, y_orientation=tuple(-y if column else y), z_orientation=tuple(-z if row else z))


def truth(space: Space) -> list[tuple[str, SegmentationMask]]:
    """Asymmetric masks on the series grid: any mirror or swap of an axis moves voxels."""
    n = space.shape
    liver = np.zeros(n, np.uint8)
    liver[1:6, 2:9, 3:8] = 1
    liver[2, 9:12, 1:3] = 1  # a tail: front/back, left/right and up/down all differ
    lobes = np.zeros(n, np.uint16)
    lobes[1:3, 2:10, 3:9] = 7
    lobes[3:6, 2:6, 3:9] = 9  # overlaps the liver
    tumor = np.zeros(n, bool)
    tumor[4, 10:12, 8:11] = True
    return [("liver", SegmentationMask(liver, {"liver": 1}, space=space, colors={"liver": (0.8, 0.5, 0.4, 1.0)})),
            ("lobes", SegmentationMask(lobes, {"upper": 7, "lower": 9}, space=space)),
            ("tumor", SegmentationMask(tumor, {"tumor": 1}, space=space))]


def segment_arrays(items) -> dict[str, np.ndarray]:
    """Segment label -> bool array, as medmask's export names the segments."""
    out = {}
    for entry, mask in items:
        for label, value in mask.mapping.items():
            name = entry if len(mask.mapping) == 1 else f"{entry}/{label}"
            out[name] = mask.data == value if mask.dtype != bool else mask.data
    return out


def write(items, space, out, series, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DicomSegWarning)
        write_dicom_seg(items, space, out, series=series, manual=True, **kw)
    return out


def highdicom_segments(path) -> dict[str, tuple[np.ndarray, Space]]:
    """Every segment as highdicom's ``get_volume`` reads it, with the Space of highdicom's affine."""
    seg = hd.seg.segread(str(path))
    vol = seg.get_volume(combine_segments=False)
    aff = np.asarray(vol.affine, float)
    spacing = np.linalg.norm(aff[:3, :3], axis=0)
    dirs = aff[:3, :3] / spacing
    space = Space(shape=tuple(int(v) for v in vol.spatial_shape), origin=tuple(aff[:3, 3]), spacing=tuple(spacing),
                  x_orientation=tuple(dirs[:, 0]), y_orientation=tuple(dirs[:, 1]), z_orientation=tuple(dirs[:, 2]))
    labels = {int(d.SegmentNumber): str(d.SegmentLabel) for d in seg.SegmentSequence}
    numbers = [int(v) for v in vol.get_channel_values(vol.channel_descriptors[0])]
    return {labels[n]: (vol.array[..., i] > 0, space) for i, n in enumerate(numbers)}


@pytest.fixture(scope="module")
def oblique_series(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ct") / "ct"
    make_series(folder, grid())
    return read_dicom_series_header(folder)


@pytest.mark.parametrize("m", SIGNED_PERMUTATIONS, ids=IDS)
def test_masks_in_any_axis_order_export_to_the_series_exactly(tmp_path, oblique_series, m, caplog):
    series = oblique_series
    want = truth(series.space)
    moved = m.space(series.space)  # the masks' grid: the series' voxels in another order
    items = [(n, reorder_mask(mask, m, moved)) for n, mask in want]
    out = tmp_path / "o.seg.dcm"
    with caplog.at_level(logging.INFO, logger="medmask"):
        write(items, moved, out, series)
    infos = [r for r in caplog.records if "another axis order" in r.getMessage()]
    assert len(infos) == (0 if m.identity else 1) and all(r.levelno == logging.INFO for r in infos)
    # read onto the series: the truth, array for array
    space, back = read_dicom_seg(out, series=series.folder)
    assert space == series.space
    for (_, a), (_, b) in zip(want, back):
        assert a.mapping == b.mapping and np.array_equal(a.data, b.data)
    # read alone: medmask's own description gives the masks back in their own order
    space, back = read_dicom_seg(out)
    assert space == moved
    for (_, a), (_, b) in zip(items, back):
        assert np.array_equal(a.data, b.data)
    # highdicom's volume of the SEG: the same voxels in patient space
    theirs = highdicom_segments(out)
    mine = segment_arrays(items)
    assert set(theirs) == set(mine)
    for name, arr in mine.items():
        data, their_space = theirs[name]
        assert_same_world_voxels(data, their_space, arr, moved)
        assert_same_world_voxels(arr, moved, data, their_space)


@pytest.mark.slow
@pytest.mark.parametrize("m", SIGNED_PERMUTATIONS, ids=IDS)
def test_dcmqi_reads_the_export_of_any_axis_order_voxel_for_voxel(tmp_path, oblique_series, m):
    series = oblique_series
    moved = m.space(series.space)
    items = [(n, reorder_mask(mask, m, moved)) for n, mask in truth(series.space)]
    out = write(items, moved, tmp_path / "o.seg.dcm", series)
    theirs = segimage2itkimage(out, tmp_path / "dcmqi")
    mine = segment_arrays(items)
    assert set(theirs) == set(mine)
    for name, arr in mine.items():
        data, their_space, _ = theirs[name]
        assert_same_world_voxels(data, their_space, arr, moved)
        assert_same_world_voxels(arr, moved, data, their_space)


@pytest.mark.parametrize("row, column", [(True, False), (False, True), (True, True)],
                         ids=["row-cosine-negated", "column-cosine-negated", "both-negated"])
@pytest.mark.parametrize("m", [AxisMatch(), ROWS_REVERSED, AxisMatch((0, 2, 1), (True, False, True))],
                         ids=["same-order", "rows-reversed", "transposed-and-reversed"])
def test_no_mirror_on_series_with_negated_cosines(tmp_path, m, row, column):
    """The mirror trap: a series whose row or column cosine points the other way; dcmqi and highdicom agree."""
    folder = tmp_path / "ct"
    make_series(folder, negated(grid(), row, column))
    series = read_dicom_series_header(folder)
    moved = m.space(series.space)
    items = [(n, reorder_mask(mask, m, moved)) for n, mask in truth(series.space)]
    out = write(items, moved, tmp_path / "o.seg.dcm", series)
    mine = segment_arrays(items)
    for reader in (lambda: {k: v[:2] for k, v in segimage2itkimage(out, tmp_path / "dcmqi").items()},
                   lambda: highdicom_segments(out)):
        theirs = reader()
        assert set(theirs) == set(mine)
        for name, arr in mine.items():
            data, their_space = theirs[name]
            assert_same_world_voxels(data, their_space, arr, moved)
            assert_same_world_voxels(arr, moved, data, their_space)
    # the tail of the liver (front of slice 2 on the series grid) is where it was, in mm
    tail = index_to_world_affine(series.space) @ np.array([2, 10, 2, 1.0])
    data, their_space = highdicom_segments(out)["liver"]
    idx = np.round(np.linalg.inv(index_to_world_affine(their_space)) @ tail).astype(int)[:3]
    assert data[tuple(idx)]


def dcmqi_seg_of(labels, space: Space | None, folder, tmp_path, name="dcmqi.seg.dcm"):
    """dcmqi ``itkimage2segimage``: a label volume on ``space`` (any axis order of the series), or a label
    image file (``space`` None), as a SEG of the series."""
    image = labels
    if space is not None:
        image = tmp_path / "labels.nrrd"
        directions, origin = nrrd_geometry_from_space(space)
        nrrd.write(str(image), labels, {"space": "left-posterior-superior", "space directions": directions,
                   "space origin": origin, "kinds": ["domain"] * 3}, index_order="C")
    code = {"CodingSchemeDesignator": "SCT", "CodeValue": "85756007", "CodeMeaning": "Tissue"}
    meta = {"ContentCreatorName": "Reader^One", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
            "SeriesDescription": "by dcmqi", "SeriesNumber": "300", "InstanceNumber": "1",
            "segmentAttributes": [[
                {"labelID": v, "SegmentLabel": f"organ{v}", "SegmentAlgorithmType": "MANUAL",
                 "SegmentedPropertyCategoryCodeSequence": code, "SegmentedPropertyTypeCodeSequence": code,
                 "recommendedDisplayRGBValue": [20 * v, 200, 30]} for v in (1, 2)]]}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    out = tmp_path / name
    proc = subprocess.run([dcmqi_tool("itkimage2segimage"), "--inputImageList", str(image),
                           "--inputDICOMDirectory", str(folder), "--outputDICOM", str(out),
                           "--inputMetadata", str(tmp_path / "meta.json")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


@pytest.mark.parametrize("row, column", [(False, False), (False, True), (True, True)],
                         ids=["plain", "column-cosine-negated", "both-negated"])
@pytest.mark.parametrize("m", [ROWS_REVERSED, AxisMatch((0, 1, 2), (True, True, False)),
                               AxisMatch((0, 2, 1), (False, False, True))],
                         ids=["rows-reversed", "slices-and-rows-reversed", "rows-and-columns-swapped"])
def test_a_dcmqi_seg_of_reordered_voxels_imports_onto_its_series_and_exports_back(tmp_path, m, row, column, caplog):
    folder = tmp_path / "ct"
    make_series(folder, negated(grid(), row, column))
    series = read_dicom_series_header(folder)
    labels = np.zeros(series.space.shape, np.uint16)  # on the series grid
    labels[1:6, 2:9, 3:8] = 1
    labels[2, 9:12, 1:3] = 1
    labels[5:7, 10:13, 8:11] = 2
    moved = m.space(series.space)
    seg = dcmqi_seg_of(np.ascontiguousarray(m.reorder(labels)), moved, folder, tmp_path)
    # onto the series: array-equal to the labels, with one info line
    with caplog.at_level(logging.INFO, logger="medmask"):
        space, items = read_dicom_seg(seg, series=folder)
    assert space == series.space
    assert [r.levelno for r in caplog.records if "another axis order" in r.getMessage()] == [logging.INFO]
    got = dict(items)
    for v in (1, 2):
        assert np.array_equal(got[f"organ{v}"].data, labels == v)
    # on the SEG's own grid, then back to its own series: dcmqi reads the same voxels
    own_space, own = read_dicom_seg(seg)
    out = write(own, own_space, tmp_path / "back.seg.dcm", series)
    theirs = segimage2itkimage(out, tmp_path / "dcmqi")
    for v in (1, 2):
        data, their_space, _ = theirs[f"organ{v}"]
        assert_same_world_voxels(data, their_space, labels == v, series.space)
        assert_same_world_voxels(labels == v, series.space, data, their_space)
    space, back = read_dicom_seg(out, series=folder)
    assert all(np.array_equal(dict(back)[f"organ{v}"].data, labels == v) for v in (1, 2))


def test_other_grids_are_still_refused_saying_how(tmp_path, oblique_series):
    """Shifted half a voxel, other spacing, rotated 2 deg, or reversed without moving: refused as before."""
    series = oblique_series
    s = ROWS_REVERSED.space(series.space)
    c, si = np.cos(np.radians(2)), np.sin(np.radians(2))
    r = np.array([[c, -si, 0], [si, c, 0], [0, 0, 1]])
    cases = [
        (_with(s, origin=tuple(np.add(s.origin, np.multiply(s.z_orientation, 0.35)))), r"frames are misplaced"),
        (_with(s, spacing=(2.5, 0.85, 0.7)), r"row spacing is 0\.85 mm, the series' 0\.8 mm"),
        (_with(s, **{k: tuple(r @ np.asarray(getattr(s, k))) for k in ("x_orientation", "y_orientation",
                                                                       "z_orientation")}), r"deg from the series'"),
        (_with(series.space, x_orientation=tuple(-np.asarray(series.space.x_orientation))), "slice order is reversed"),
    ]
    for space, message in cases:
        m = np.zeros(space.shape, np.uint8)
        m[2:4, 2:4, 2:4] = 1
        with pytest.raises(ConversionError, match="not on the grid of the series.*" + message + ".*Resample"):
            write([("a", SegmentationMask(m, {"a": 1}, space=space))], space, tmp_path / "o.dcm", series)
        assert not (tmp_path / "o.dcm").exists()
    # import: a SEG whose frames do not lie on the grid it is put on
    seg = write([("a", SegmentationMask(np.ones(series.space.shape, np.uint8), {"a": 1}, space=series.space))],
                series.space, tmp_path / "ok.dcm", series)
    wider = _with(series.space, spacing=(2.5, 0.9, 0.7))
    with pytest.raises(ConversionError, match="not oriented or spaced like the target grid"):
        read_dicom_seg(seg, space=ROWS_REVERSED.space(wider))


# ------------------------------------------------------------------------------------------------
# the real CT series and a NIfTI of it as dicom2nifti writes one (what TotalSegmentator segments)


def nifti_space(img) -> Space:
    """The Space of a nibabel image in nibabel's own (i, j, k) array order: LPS from the affine, no medmask code."""
    lps = np.diag([-1.0, -1.0, 1.0]) @ img.affine[:3]
    spacing = np.linalg.norm(lps[:, :3], axis=0)
    dirs = lps[:, :3] / spacing
    return Space(shape=tuple(int(v) for v in img.shape[:3]), origin=tuple(lps[:, 3]), spacing=tuple(spacing),
                 x_orientation=tuple(dirs[:, 0]), y_orientation=tuple(dirs[:, 1]), z_orientation=tuple(dirs[:, 2]))


def dicom2nifti_like(folder, out):
    """Labels (1 body, 2 bone) of the series as a NIfTI the way dicom2nifti writes it: reoriented to LAS.

    Built from the DICOM tags with pydicom and nibabel only: slices sorted along the normal, pixels
    (column, row), affine from ImageOrientation/Position and PixelSpacing, then nibabel's reorientation.
    """
    import nibabel as nib
    import pydicom

    dss = [pydicom.dcmread(f) for f in sorted(folder.iterdir()) if f.name.startswith("CT.")]
    row, col = (np.array(dss[0].ImageOrientationPatient[i:i + 3], float) for i in (0, 3))
    normal = np.cross(row, col)
    dss.sort(key=lambda d: float(normal @ np.array(d.ImagePositionPatient, float)))
    hu = np.stack([d.pixel_array.T * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss], axis=-1)
    p0, p1 = (np.array(d.ImagePositionPatient, float) for d in (dss[0], dss[-1]))
    ps = [float(v) for v in dss[0].PixelSpacing]
    lps = np.eye(4)
    lps[:3, :4] = np.column_stack([row * ps[1], col * ps[0], (p1 - p0) / (len(dss) - 1), p0])
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps
    labels = np.where(hu > 300, 2, np.where(hu > -500, 1, 0)).astype(np.uint8)
    img = nib.Nifti1Image(labels, ras)
    img = img.as_reoriented(nib.orientations.ornt_transform(nib.orientations.io_orientation(ras),
                                                            nib.orientations.axcodes2ornt("LAS")))
    nib.save(img, str(out))
    return np.asarray(img.dataobj), nifti_space(img)


@pytest.mark.slow
def test_real_series_and_its_dicom2nifti_nifti_go_both_ways_without_resampling(tmp_path):
    """The issue's three refusals, as a user meets them on the real CT: now exact, each with one info line."""
    from dicom_helpers import skip_without_real_series
    from test_dicom_cli import run

    from medmask import MaskArchive

    folder = skip_without_real_series()
    nii = tmp_path / "seg.nii.gz"
    labels, lab_space = dicom2nifti_like(folder, nii)
    series = read_dicom_series_header(folder)
    # nibabel's (i, j, k) = the series' (column, row, slice), rows reversed
    assert np.asarray(lab_space.y_orientation) @ np.asarray(series.space.y_orientation) == pytest.approx(-1)
    want = {"label_1": labels == 1, "label_2": labels == 2}

    def same_as_nifti(data, space, name):
        assert_same_world_voxels(data, space, want[name], lab_space)
        assert_same_world_voxels(want[name], lab_space, data, space)

    # 1. the archive of the NIfTI exports to the series (rows reversed: reordered, not refused)
    run("convert", nii, tmp_path / "seg.mska")
    proc = run("convert", tmp_path / "seg.mska", tmp_path / "seg.dcm", "--series", folder, "--manual")
    assert "another axis order (rows reversed); reordered exactly" in proc.stderr and "warning" not in proc.stderr
    for name, (data, space, _) in segimage2itkimage(tmp_path / "seg.dcm", tmp_path / "dcmqi1").items():
        same_as_nifti(data, space, name.split("/")[-1])
    # 2. the series is recorded as the scan of the NIfTI's masks
    proc = run("convert", nii, tmp_path / "x.mska", "--image", folder)
    assert "another axis order (rows reversed)" in proc.stderr and "warning" not in proc.stderr
    with MaskArchive(tmp_path / "x.mska") as a:
        assert a.image_reference.resolve(tmp_path / "x.mska") == folder
    # 3. dcmqi's SEG of the NIfTI on the series: imported onto the series, and exported back to it
    seg = dcmqi_seg_of(nii, None, folder, tmp_path)
    proc = run("convert", seg, tmp_path / "d.mska", "--series", folder)
    assert "another axis order" in proc.stderr and "warning" not in proc.stderr
    with MaskArchive(tmp_path / "d.mska") as a:
        assert a.space == series.space
        for v in (1, 2):
            same_as_nifti(np.asarray(a.load_segmask(f"organ{v}").data), a.space, f"label_{v}")
    run("convert", seg, tmp_path / "own.mska")  # on the SEG's own grid
    for src in ("d.mska", "own.mska"):
        out = tmp_path / f"{src}.dcm"
        run("convert", tmp_path / src, out, "--series", folder, "--manual")
        for name, (data, space, _) in segimage2itkimage(out, tmp_path / f"dcmqi-{src}").items():
            same_as_nifti(data, space, f"label_{name[-1]}")


@pytest.mark.slow
def test_dcm2niix_nifti_of_the_real_series_is_the_same_voxels(tmp_path):
    """The real tool: dcm2niix's NIfTI of the CT (rows reversed), masks made on it, exported to the series,
    read back by dcmqi, imported onto the series and measured on the NIfTI scan by `stats`."""
    import shutil
    import sys
    from pathlib import Path

    import nibabel as nib
    from dicom_helpers import skip_without_real_series
    from test_dicom_cli import run

    import medmask
    from medmask.core.grid_match import match

    folder = skip_without_real_series()
    tool = next((str(p) for p in (Path(sys.executable).parent / "dcm2niix", shutil.which("dcm2niix"))
                 if p and Path(p).exists()), None)
    if tool is None:
        pytest.skip("dcm2niix is not installed (pip install dcm2niix)")
    out = tmp_path / "nifti"
    out.mkdir()
    proc = subprocess.run([tool, "-z", "y", "-f", "ct", "-o", str(out), str(folder)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ct = out / "ct.nii.gz"
    img = nib.load(str(ct))
    hu = img.get_fdata()
    series = read_dicom_series_header(folder)
    from medmask.convert.image_io import read_image_header

    assert match(read_image_header(ct), series.space) == ROWS_REVERSED  # what dcm2niix does to an axial series
    body = (hu > -500).astype(np.uint8)
    nib.save(nib.Nifti1Image(body, img.affine), str(tmp_path / "body.nii.gz"))
    body_space = nifti_space(img)
    proc = run("convert", tmp_path / "body.nii.gz", tmp_path / "body.mska", "--image", folder)
    assert "rows reversed" in proc.stderr and "warning" not in proc.stderr
    run("convert", tmp_path / "body.mska", tmp_path / "body.dcm", "--series", folder, "--manual")
    (name, (data, space, _)), = segimage2itkimage(tmp_path / "body.dcm", tmp_path / "dcmqi").items()
    assert_same_world_voxels(data, space, body > 0, body_space)
    assert_same_world_voxels(body > 0, body_space, data, space)
    # onto the series, then measured on dcm2niix's NIfTI: the scan is read in the series' order
    run("convert", tmp_path / "body.dcm", tmp_path / "onseries.mska", "--series", folder)
    row, = medmask.compute_stats(tmp_path / "onseries.mska", image=ct)
    assert row["voxels"] == int(body.sum())
    assert row["mean"] == pytest.approx(float(hu[body > 0].mean()), rel=1e-9)
