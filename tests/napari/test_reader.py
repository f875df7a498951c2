"""Reader: pure (layer data only); archives, masks and scans land at their patient position."""
from __future__ import annotations

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from medmask.core.colors import color_for
from medmask.core.geometry import index_to_world_affine, space_to_dict
from medmask.sample import phantom_space
from napari_medmask._layers import CT_WINDOW
from napari_medmask.frame import display_to_patient

from napari_cases import write_case


def test_get_reader_claims_medmask_files_volumes_and_mask_folders_only(tmp_path):
    from napari_medmask._reader import get_reader, read_archive_path, read_labels_path, read_mask_path, read_volume_path

    assert get_reader("a/organs.mska") is read_archive_path
    assert get_reader("a/liver.MSK") is read_mask_path
    for scan in ("a/ct.nii.gz", "a/ct.nii", "a/mr.nrrd", "a/mr.nhdr"):  # scan or segmentation: decided on reading
        assert get_reader(scan) is read_volume_path, scan
    assert get_reader("a/seg.seg.nrrd") is read_labels_path and get_reader("a/x.png") is None
    assert get_reader(["a.mska", "b.mska"]) is None
    assert get_reader(str(tmp_path)) is None  # an empty folder (or a DICOM one) is not ours
    (tmp_path / "liver.nii.gz").write_bytes(b"")
    assert get_reader(str(tmp_path)) is read_labels_path


def test_reader_returns_layer_data_and_touches_no_viewer(phantom_master, monkeypatch):
    import napari

    from napari_medmask._reader import read_archive_path

    monkeypatch.setattr(napari, "current_viewer", lambda: pytest.fail("the reader looked for a viewer"))
    (data, kwargs, kind), = read_archive_path(str(phantom_master))
    assert kind == "labels" and data.shape == tuple(MaskArchive(phantom_master).space.shape)
    meta = kwargs["metadata"]["medmask"]
    assert meta["kind"] == "composite" and meta["archive"] == str(phantom_master.resolve())


def test_archive_opens_as_one_composite_layer_at_patient_position(make_napari_viewer, phantom_master):
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(phantom_master), plugin=None)  # auto-detected
    assert layer.name == "phantom.mska" and layer.__class__.__name__ == "Labels"
    with MaskArchive(phantom_master) as archive:
        space = archive.space
        liver = archive.load_segmask("liver")
    meta = layer.metadata["medmask"]
    assert meta["space"] == space_to_dict(space) and meta["kind"] == "composite"
    np.testing.assert_allclose(layer.scale, [2.5, 1.25, 1.75])  # slices head to foot, along the frame's I axis
    frame = np.asarray(meta["frame"])
    idx = np.argwhere(liver.crop_data)[0] + [a for a, _ in liver.bbox]
    world = (index_to_world_affine(space) @ np.r_[idx, 1.0])[:3]
    d = frame.T @ world
    viewer.dims.set_point(0, d[0])
    value = layer.get_value(d, world=True)
    assert "liver" in layer.features.loc[layer.features["index"] == value, "name"].item()
    np.testing.assert_allclose(display_to_patient(layer.data_to_world(np.array(idx)), frame), world, atol=1e-9)
    np.testing.assert_allclose(layer.colormap.map(np.array([value]))[0], color_for("liver"), atol=1e-6)


def test_single_mask_file(make_napari_viewer, tmp_path):
    space = phantom_space((24, 20, 16))
    arr = np.zeros((24, 20, 16), np.uint8)
    arr[3:9, 4:10, 5:8] = 1
    arr[12:15, 2:4, 2:4] = 2
    mask = SegmentationMask(arr, {"tumour": 1, "liver": 2}, space=space, colors={"tumour": (1, 0, 0, 1)})
    path = tmp_path / "case.msk"
    save_mask(mask, path)
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="medmask")
    assert layer.name == "case"
    axes = layer.metadata["medmask"]["axes"]
    np.testing.assert_array_equal(np.transpose(layer.data, np.argsort(axes)), arr)
    assert set(layer.features["name"]) == {"background", "tumour", "liver"}
    np.testing.assert_allclose(layer.colormap.map(np.array([1]))[0], (1, 0, 0, 1))
    assert load_mask(path).same_content(mask)


def test_bad_files_raise_one_medmask_error_naming_the_file(tmp_path, phantom_master):
    from medmask.errors import MedMaskError
    from napari_medmask._reader import get_reader

    garbage = tmp_path / "garbage.mska"
    garbage.write_bytes(b"this is not an archive" * 10)
    truncated = tmp_path / "truncated.mska"
    truncated.write_bytes(phantom_master.read_bytes()[:-200])
    wrong_kind = tmp_path / "archive_named.msk"
    wrong_kind.write_bytes(phantom_master.read_bytes())
    for path in (garbage, truncated, wrong_kind):
        with pytest.raises(MedMaskError, match=path.name):
            get_reader(str(path))(str(path))


def test_ct_opens_with_soft_tissue_window_in_grey(make_napari_viewer, tmp_path):
    img, _, marker, affine = write_case(tmp_path, "flipped")
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(img), plugin="medmask")
    assert layer.__class__.__name__ == "Image" and layer.name == "flipped_ct"
    assert tuple(layer.contrast_limits) == CT_WINDOW == (-160.0, 240.0)
    assert layer.colormap.name == "gray"
    assert layer.metadata["medmask"]["modality"] == "ct"


def test_mr_opens_with_auto_contrast(make_napari_viewer, tmp_path):
    import nibabel as nib

    rng = np.random.default_rng(0)
    mr = rng.gamma(2.0, 150.0, size=(30, 30, 12)).astype(np.float32)
    path = tmp_path / "t1.nii"
    nib.save(nib.Nifti1Image(mr, np.diag([0.8, 0.8, 3.0, 1.0])), str(path))
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(path), plugin="medmask")
    lo, hi = layer.contrast_limits
    assert layer.metadata["medmask"]["modality"] == "mr"
    assert np.percentile(mr, 0.1) <= lo < np.percentile(mr, 5) and np.percentile(mr, 95) < hi <= mr.max()


def test_image_layer_is_a_view_of_the_one_array_read(tmp_path, monkeypatch):
    """No extra copy: the layer data shares memory with what medmask's image reader returned."""
    import napari_medmask._reader as reader

    img, *_ = write_case(tmp_path, "sagittal")
    got = {}
    real = reader.read_image

    def spy(path):
        got["array"], space = real(path)
        return got["array"], space

    monkeypatch.setattr(reader, "read_image", spy)
    (data, kwargs, kind), = reader.read_image_path(str(img))
    assert kind == "image" and np.shares_memory(data, got["array"]) and data.size == got["array"].size
