"""A scan holding the masks' voxels in another axis order (a dicom2nifti NIfTI of the series: rows reversed)
opens under the organs, placed voxel-exactly, and the dock's scan check says so without a warning (no Qt)."""
from __future__ import annotations

import nibabel as nib
import numpy as np

from medmask import MaskArchive
from medmask.convert import convert
from medmask.convert.image_link import image_reference_for
from napari_medmask._reader import read_archive_path
from napari_medmask.image_link import ImageLink

from napari_cases import CASES

ROWS_REVERSED = np.array([[0, 1], [1, -1], [2, 1]])  # nibabel's j axis (medmask's rows) stored backwards


def _case(tmp_path):
    """organs.mska (one marker mask) recording ct_las.nii.gz: the scan of its voxels, rows reversed."""
    affine, shape = CASES["oblique"]
    rng = np.random.default_rng(3)
    ct = rng.integers(-1000, 1000, size=shape).astype(np.int16)
    mask = np.zeros(shape, np.uint8)
    mask[5:9, 3:20, 2:6] = 1  # off-centre in every axis: a mirror would show
    seg = tmp_path / "segmentations"
    seg.mkdir()
    nib.save(nib.Nifti1Image(mask, affine), str(seg / "marker.nii.gz"))
    scan = tmp_path / "ct_las.nii.gz"
    nib.save(nib.Nifti1Image(ct, affine).as_reoriented(ROWS_REVERSED), str(scan))
    archive = tmp_path / "organs.mska"
    convert(seg, archive)
    with MaskArchive(archive, "a") as a:
        a.image_reference = image_reference_for(scan, archive, a.space)
        space = a.space
    return archive, scan, ct, mask, space


def _world(layer, index):
    """napari world coordinates of layer voxel indices (rows of ``index``)."""
    kwargs = layer[1]
    return np.asarray(kwargs["translate"], float) + np.asarray(index, float) * np.asarray(kwargs["scale"], float)


def test_the_recorded_scan_opens_under_the_organs_voxel_for_voxel(tmp_path):
    archive, scan, ct, mask, _ = _case(tmp_path)
    layers = read_archive_path(str(archive))
    assert [t for _, _, t in layers] == ["image", "labels"]
    scan_layer, organ_layer = layers
    scan_data = np.asarray(scan_layer[0])
    organ = np.asarray(organ_layer[0])
    hits = np.argwhere(organ > 0)
    assert len(hits) == int(mask.sum())
    # every organ voxel lands on a scan voxel centre holding the CT value of that voxel
    idx = (_world(organ_layer, hits) - np.asarray(scan_layer[1]["translate"])) / np.asarray(scan_layer[1]["scale"])
    assert np.abs(idx - np.round(idx)).max() < 1e-3
    got = scan_data[tuple(np.round(idx).astype(int).T)]
    # random CT values: a mirrored or shifted overlay would pick other ones
    assert np.array_equal(np.sort(got), np.sort(ct[mask > 0]))


def test_choosing_that_scan_in_the_dock_says_it_is_shown_exactly(tmp_path):
    archive, scan, _, _, space = _case(tmp_path)
    link = ImageLink("missing", None, "ct_las.nii.gz").with_choice(scan, space)
    assert link.state == "ok"
    assert "another axis order (rows reversed): shown exactly" in link.note
    assert "another grid" not in link.note
