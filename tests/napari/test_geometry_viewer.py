"""Scans and masks in one viewer: the same voxel lands on the same world point; the status bar says
where it is in the patient (checked against nibabel's affine) and which organs are there."""
from __future__ import annotations

import os

import re
from pathlib import Path

import numpy as np
import pytest

from napari_cases import CASES, ras_to_lps, write_case

AORTA = Path(__file__).resolve().parents[3] / "shared" / "data" / "totalseg_aorta_ct"


def _dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    return widget


def _archive_from_nifti(folder: Path, masks: dict[str, Path], out: Path) -> Path:
    """An archive made like the CLI does it (medmask.convert.convert over a folder of masks)."""
    import shutil

    from medmask.convert import convert

    seg = folder / "segmentations"
    seg.mkdir(exist_ok=True)
    for name, path in masks.items():
        shutil.copyfile(path, seg / f"{name}.nii.gz")
    convert(seg, out)
    return out


def _status_at(viewer, point) -> str:
    viewer.mouse_over_canvas = True
    viewer.cursor.position = tuple(float(v) for v in point)
    viewer.update_status_from_cursor()  # what napari's status thread does after a mouse move
    status = viewer.status
    return status["coordinates"] if isinstance(status, dict) else str(status)


def _numbers(text: str, convention: str = "LPS") -> np.ndarray:
    m = re.search(convention + r" \(([-\d.]+), ([-\d.]+), ([-\d.]+)\) mm", text)
    assert m, text
    return np.array([float(v) for v in m.groups()])


@pytest.mark.parametrize("case", sorted(CASES))
def test_marker_voxel_of_scan_and_mask_meet_and_status_is_nibabel_affine(case, make_napari_viewer, tmp_path):
    img, msk, marker, affine = write_case(tmp_path, case)
    archive = _archive_from_nifti(tmp_path, {"marker": msk}, tmp_path / f"{case}.mska")
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    (scan,) = viewer.open(str(img), plugin="medmask")
    (organs,) = viewer.open(str(archive), plugin="medmask")
    assert widget.session is not None and widget.frame is not None
    # the marker: nibabel (i, j, k) is medmask array (k, j, i); the layer holds the array transposed
    array_index = np.array(marker[::-1])
    for layer in (scan, organs):
        axes = layer.metadata["medmask"]["axes"]
        assert np.all(np.abs(layer.scale) > 0) and np.asarray(layer.affine.rotate).round(12).tolist() == np.eye(3).tolist()
        layer_index = array_index[axes]
        world = layer.data_to_world(layer_index)
        if layer is scan:
            scan_world = world
        else:
            np.testing.assert_allclose(world, scan_world, atol=1e-9)  # voxel-exact overlay
    viewer.dims.set_point(0, scan_world[0])
    assert scan.get_value(scan_world, world=True) == 1500
    assert organs.get_value(scan_world, world=True) != 0
    text = _status_at(viewer, scan_world)
    expected = ras_to_lps(affine @ np.r_[marker, 1.0])
    np.testing.assert_allclose(_numbers(text), expected, atol=0.051)
    assert text.endswith(": marker"), text
    widget.coords_box.setCurrentText("RAS")
    ras = _numbers(_status_at(viewer, scan_world), "RAS")
    np.testing.assert_allclose(ras, (affine @ np.r_[marker, 1.0])[:3], atol=0.051)


def test_scan_on_a_rotated_grid_overlays_within_half_a_voxel(make_napari_viewer, tmp_path):
    """The mask's grid defines the frame; a scan rotated against it is resampled, never sliced obliquely."""
    import nibabel as nib

    from napari_cases import rotation

    img, msk, marker, affine = write_case(tmp_path, "flipped")
    archive = _archive_from_nifti(tmp_path, {"marker": msk}, tmp_path / "a.mska")
    # the same body scanned 12 degrees rotated: the marker at the same patient point
    rot = np.eye(4)
    rot[:3, :3] = rotation(2, 12.0)
    centre = affine @ np.r_[marker, 1.0]
    moved = rot.copy()
    moved[:3, 3] = centre[:3] - rot[:3, :3] @ centre[:3]
    aff2 = moved @ affine
    ct = np.full(CASES["flipped"][1], -1000, np.int16)
    ct[marker] = 1500
    img2 = tmp_path / "rotated_ct.nii.gz"
    nib.save(nib.Nifti1Image(ct, aff2), str(img2))
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    viewer.open(str(archive), plugin="medmask")
    (scan,) = viewer.open(str(img2), plugin="medmask")
    assert scan.metadata["medmask"].get("resampled_from")
    assert np.allclose(scan.affine.rotate, np.eye(3))
    hot = np.argwhere(np.asarray(scan.data) == 1500)
    assert len(hot) >= 1
    where = widget.frame @ scan.data_to_world(hot.mean(axis=0))
    assert np.linalg.norm(where - ras_to_lps(centre)) <= 0.5 * np.linalg.norm([1.2, 0.8, 3.0]), where


@pytest.mark.skipif(not AORTA.exists(), reason="../shared/data/totalseg_aorta_ct not available")
def test_aorta_voxels_of_the_ct_carry_the_aorta_label(make_napari_viewer, tmp_path):
    import nibabel as nib

    from medmask.convert import convert

    archive = tmp_path / "aorta.mska"
    convert(AORTA / "segmentations", archive)
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    # convert recorded <case>/ct.nii.gz (TotalSegmentator's layout): opening the archive brings it under the organs
    ct, organs = viewer.open(str(archive), plugin="medmask")
    assert ct.metadata["medmask"]["kind"] == "image"
    assert os.path.samefile(ct.metadata["medmask"]["path"], AORTA / "ct.nii.gz")
    aorta = np.asanyarray(nib.load(str(AORTA / "segmentations" / "aorta.nii.gz")).dataobj) > 0
    hu = np.asanyarray(nib.load(str(AORTA / "ct.nii.gz")).dataobj)
    ijk = np.argwhere(aorta)
    centroid = ijk[np.argmin(np.linalg.norm(ijk - ijk.mean(axis=0), axis=1))]  # the aorta voxel nearest its centroid
    rng = np.random.default_rng(1)
    picks = np.vstack([centroid, ijk[rng.choice(len(ijk), 40, replace=False)]])
    ct_axes = ct.metadata["medmask"]["axes"]
    for p in picks:
        world = ct.data_to_world(np.array(p[::-1])[ct_axes])
        viewer.dims.set_point(0, world[0])
        assert ct.get_value(world, world=True) == hu[tuple(p)]
        names = widget.session.names_at(world)
        assert any(n.strip("()") == "aorta" for n in names), (p, names)
    # the voxels the viewer labels aorta are contrast-filled blood (median ~350 HU), not fat or air
    assert np.median([hu[tuple(p)] for p in picks]) > 200
