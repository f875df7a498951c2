"""Writer: a Labels layer -> .msk with exact geometry."""
from __future__ import annotations

import numpy as np
import pytest

from medmask import MaskArchive, load_mask
from medmask.core.geometry import space_to_dict


def test_cropped_archive_layer_roundtrips_exactly(make_napari_viewer, small_archive, tmp_path, edit_layer):
    viewer = make_napari_viewer()
    layer = edit_layer(viewer, small_archive, "kidney_left")
    viewer.layers.selection = {layer}
    out = tmp_path / "kidney.msk"
    written = viewer.layers.save(str(out), selected=True, plugin="medmask")
    assert written == [str(out)]
    saved = load_mask(out)
    with MaskArchive(small_archive) as archive:
        original = archive.load_segmask("kidney_left")
        space = archive.space
    assert space_to_dict(saved.space) == space_to_dict(space)  # full geometry, not the crop's
    assert saved.same_content(original)
    assert saved.colors["kidney_left"] == original.colors["kidney_left"]


def test_painted_layer_roundtrip_keeps_new_label(make_napari_viewer, small_archive, tmp_path, edit_layer):
    viewer = make_napari_viewer()
    layer = edit_layer(viewer, small_archive, "liver")
    data = layer.data
    data[0, 0, 0] = 7  # a label the mapping does not know (padding voxel)
    out = tmp_path / "liver_edit.msk"
    viewer.layers.selection = {layer}
    viewer.layers.save(str(out), selected=True, plugin="medmask")
    saved = load_mask(out)
    assert saved.mapping["liver"] == 1 and saved.mapping["label_7"] == 7
    off = layer.metadata["medmask"]["offset"]
    assert saved.data[tuple(off)] == 7


@pytest.mark.parametrize("scale", [(2.0, 0.5, 0.75), (-3.0, 1.0, -1.5)])
def test_plain_labels_layer_geometry_from_scale_translate(make_napari_viewer, tmp_path, scale):
    viewer = make_napari_viewer()
    arr = np.zeros((6, 7, 8), np.uint16)
    arr[1:3, 2:5, 3:4] = 300
    translate = (10.0, -20.0, 5.5)
    layer = viewer.add_labels(arr, scale=scale, translate=translate, name="blob")
    layer.features = {"index": [0, 300], "name": ["background", "lesion"]}
    out = tmp_path / "blob.msk"
    viewer.layers.selection = {layer}
    viewer.layers.save(str(out), selected=True, plugin="medmask")
    saved = load_mask(out)
    assert saved.mapping.to_dict() == {"lesion": 300}
    np.testing.assert_array_equal(saved.data, arr)
    np.testing.assert_allclose(saved.space.spacing, np.abs(scale))
    # napari world = (I, P, L) in LPS mm, as for an axis-aligned scan the plugin shows
    np.testing.assert_allclose(saved.space.origin, [translate[2], translate[1], -translate[0]])
    np.testing.assert_allclose(saved.space.x_orientation, [0, 0, -np.sign(scale[0])])
    np.testing.assert_allclose(saved.space.z_orientation, [np.sign(scale[2]), 0, 0])
    # reading it back puts it at the same place
    (again,) = viewer.open(str(out), plugin="medmask")
    np.testing.assert_allclose(again.scale, scale)
    np.testing.assert_allclose(again.translate, translate)


def test_writer_reports_unwritable_location(make_napari_viewer, small_archive, tmp_path, edit_layer):
    viewer = make_napari_viewer()
    layer = edit_layer(viewer, small_archive, "liver")
    before = layer.data.copy()
    viewer.layers.selection = {layer}
    with pytest.raises(Exception) as info:
        viewer.layers.save(str(tmp_path / "no_such_dir" / "liver.msk"), selected=True, plugin="medmask")
    assert "no_such_dir" in str(info.value) or "no_such_dir" in repr(info.value.__cause__)
    np.testing.assert_array_equal(layer.data, before)


def test_composite_layer_is_not_saved_as_a_mask(make_napari_viewer, small_archive, tmp_path):
    from napari_medmask._writer import write_labels

    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(small_archive), plugin="medmask")
    with pytest.raises(ValueError, match="Edit"):
        write_labels(str(tmp_path / "x.msk"), layer.data, {"metadata": layer.metadata, "name": layer.name})
    assert not (tmp_path / "x.msk").exists()
