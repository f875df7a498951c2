"""Multi-label files in napari: every organ of a label map is a row, and label NIfTIs open as labels.

The generated case is what TotalSegmentator ``--ml`` writes: one uint8 label map whose XML label
table names more classes than are present, beside the ``ct.nii.gz`` it was made on, on an
oblique grid with reversed axes (``napari_cases.CASES["flipped"]``-like).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from medmask import MaskArchive
from medmask.convert import convert
from medmask.core.colors import color_for

OUT = Path(__file__).resolve().parents[2] / "out"  # screenshots (git-ignored)
AORTA = Path("/work/shared/data/totalseg_aorta_ct")
S0000 = Path("/work/shared/data/totalseg_s0000")

# TotalSegmentator names; 4 and 8 have no voxels (absent organs still get a row, empty)
TABLE = {1: "spleen", 2: "kidney_right", 3: "kidney_left", 4: "gallbladder", 5: "liver",
         6: "rib_left_1", 7: "rib_left_2", 8: "rib_left_3", 9: "aorta"}
SHAPE = (40, 34, 22)  # i, j, k (nibabel order)
COLORS = {k: tuple(round(c, 4) for c in color_for(n)) for k, n in TABLE.items()}  # the table's own colours


def _affine():
    from napari_cases import _affine as affine_of, rotation

    return affine_of(rotation(2, 18.0) @ np.diag([1.0, -1.0, -1.0]), (0.9, 1.2, 2.5), (-60.0, 80.5, 30.25))


def _label_map() -> np.ndarray:
    lab = np.zeros(SHAPE, np.uint8)
    lab[4:18, 5:20, 3:12] = 5  # liver
    lab[22:27, 8:14, 4:9] = 1  # spleen
    lab[6:10, 22:28, 10:15] = 2  # kidney_right
    lab[28:33, 22:28, 10:15] = 3  # kidney_left
    lab[17:21, 12:16, 6:10] = 3  # kidney_left touching the liver (a neighbour in the same label map)
    lab[30:36, 3:5, 14:18] = 6
    lab[30:36, 6:8, 14:18] = 7
    lab[19:21, 25:32, 2:20] = 9
    return lab


def write_ml_case(folder: Path) -> tuple[Path, Path, np.ndarray]:
    """(seg.nii.gz with an embedded label table, ct.nii.gz on the same grid, label map i,j,k)."""
    import nibabel as nib

    from medmask.convert.nifti_label_table import label_table_extension

    folder.mkdir(parents=True, exist_ok=True)
    lab = _label_map()
    img = nib.Nifti1Image(lab, _affine())
    img.header.extensions.append(label_table_extension(TABLE, COLORS))
    seg = folder / "seg.nii.gz"
    nib.save(img, str(seg))
    ct = np.full(SHAPE, -1000, np.int16)
    ct[1:-1, 1:-1, 1:-1] = 30  # body
    ct[lab > 0] = 90  # organs
    ct[np.isin(lab, (6, 7))] = 700  # ribs: bone, so the CT window applies
    nib.save(nib.Nifti1Image(ct, _affine()), str(folder / "ct.nii.gz"))
    return seg, folder / "ct.nii.gz", lab


@pytest.fixture
def ml_case(tmp_path):
    return write_ml_case(tmp_path / "case")


def _dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    return widget


def _drawn(widget, row: str) -> bool:
    s = widget.session
    if row in s.layers:
        return bool(s.layers[row].visible)
    title = s.model[row].title
    values = [v for v in range(1, len(s.composite.combos)) if title in s.composite.names_at(v) and s.composite.counts[v]]
    return bool((s.composite_layer.colormap.map(np.array(values))[:, 3] > 0).any()) if values else False


def _screenshot(viewer, qtbot, name: str) -> Path:
    OUT.mkdir(exist_ok=True)
    qtbot.wait(100)
    path = OUT / name
    viewer.screenshot(str(path), canvas_only=False)
    assert path.stat().st_size > 10_000
    return path


def _world_of(widget, idx_zyx):
    """napari world (display) position of a voxel of the session's grid (medmask z, y, x index)."""
    from medmask.core.geometry import index_to_world_affine

    s = widget.session
    world = (index_to_world_affine(s.space) @ np.r_[np.asarray(idx_zyx, float), 1.0])[:3]
    return np.asarray(s.frame).T @ world


# ----------------------------------------------------------------------------------------------
# 19.2: a multi-label entry lists, toggles, hovers and edits organ by organ

def test_multilabel_entry_lists_every_organ_as_a_row(make_napari_viewer, ml_case, tmp_path):
    seg, _, lab = ml_case
    archive = convert(seg, tmp_path / "ml.mska", image=False)
    with MaskArchive(archive) as a:
        assert a.all_names() == ["seg"] and len(a.entry_info("seg").mapping) == len(TABLE)  # one entry
    viewer = make_napari_viewer()
    w = _dock(viewer)
    viewer.open(str(archive), plugin="medmask")
    m = w.model
    assert sorted(m.entries) == sorted(TABLE.values())  # a row per organ, named like it
    for value, name in TABLE.items():
        row = m[name]
        assert (row.entry_name, row.label, row.value) == ("seg", name, value)
        assert row.voxels == int(np.count_nonzero(lab == value))
        assert row.volume_ml == pytest.approx(row.voxels * 0.9 * 1.2 * 2.5 / 1000)
    assert m["gallbladder"].empty and m["rib_left_3"].empty
    top = [w.tree.topLevelItem(i).text(0) for i in range(w.tree.topLevelItemCount())]
    assert "kidney_left/_right" in top and "rib_left_*" in top  # grouped across labels as entries are
    assert w.item_for("rib_left_*").childCount() == 3
    assert "1 entry, 9 organs" in w.title.text()
    w.search.setText("kidney")
    assert [w.tree.topLevelItem(i).text(0) for i in range(w.tree.topLevelItemCount())] == ["kidney_left/_right"]


def test_multilabel_toggle_show_hide_all_and_hover_per_organ(make_napari_viewer, ml_case, tmp_path, qtbot):
    seg, _, lab = ml_case
    archive = convert(seg, tmp_path / "ml.mska", image=False)
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 850)
    w = _dock(viewer)
    viewer.open(str(archive), plugin="medmask")
    present = [n for v, n in TABLE.items() if (lab == v).any()]
    assert all(_drawn(w, n) for n in present)
    data_before = w.session.composite_layer.data
    w.set_entry_visible("liver", False)  # one organ of the one entry
    assert not _drawn(w, "liver") and all(_drawn(w, n) for n in present if n != "liver")
    # the hover names the organ under the cursor, hidden ones in brackets
    zyx_liver = np.argwhere(np.transpose(lab, (2, 1, 0)) == 5)[0]
    zyx_kidney = np.argwhere(np.transpose(lab, (2, 1, 0)) == 3)[0]
    assert w.session.names_at(_world_of(w, zyx_kidney)) == ["kidney_left"]
    assert w.session.names_at(_world_of(w, zyx_liver)) == ["(liver)"]
    viewer.dims.set_point(0, _world_of(w, zyx_liver)[0])
    shot = _screenshot(viewer, qtbot, "multilabel_liver_unticked.png")
    assert shot.exists()
    w.hide_all()
    assert not any(_drawn(w, n) for n in present)
    w.show_all()
    assert all(_drawn(w, n) for n in present)
    w.set_group_visible("kidney_left/_right", False)
    assert not _drawn(w, "kidney_left") and not _drawn(w, "kidney_right") and _drawn(w, "spleen")
    assert w.session.composite_layer.data is data_before and len(viewer.layers) == 1


def _layer_index(layer, zyx):
    axes = [int(v) for v in layer.metadata["medmask"]["axes"]]
    offset = [int(v) for v in layer.metadata["medmask"]["offset"]]
    return tuple(int(zyx[a]) - offset[a] for a in axes)


def test_editing_one_organ_writes_back_into_its_entry_only(make_napari_viewer, ml_case, tmp_path):
    seg, _, lab = ml_case
    archive = convert(seg, tmp_path / "ml.mska", image=False)
    orig = np.transpose(lab, (2, 1, 0))  # medmask z, y, x
    with MaskArchive(archive) as a:
        assert np.array_equal(a.load_segmask("seg").data, orig)
    viewer = make_napari_viewer()
    w = _dock(viewer)
    viewer.open(str(archive), plugin="medmask")
    layer = w.edit("kidney_left")
    assert layer.name == "kidney_left" and w.session.layers["kidney_left"] is not None
    assert set(np.unique(layer.data)) == {0, 3} and int((np.asarray(layer.data) == 3).sum()) == int((orig == 3).sum())
    assert layer.selected_label == 3 and not _drawn(w, "kidney_left") or "kidney_left" in w.session.layers
    layer.mode = "paint"  # grows to the full volume, as picking the brush does
    kid = np.argwhere(orig == 3)
    erase = kid[0]  # a kidney voxel taken away
    onto_liver = np.argwhere((orig == 5))[-1]  # painted over the liver: stays liver (another organ's voxel)
    background = np.argwhere(orig == 0)[len(np.argwhere(orig == 0)) // 2]  # painted where nothing was
    for zyx, value in ((erase, 0), (onto_liver, 3), (background, 3)):
        data = layer.data
        data[_layer_index(layer, zyx)] = value
        layer.data = data  # what a paint stroke ends with
    assert w.model["kidney_left"].dirty
    assert w.save() == ["kidney_left"]
    expected = orig.copy()
    expected[tuple(erase)] = 0
    expected[tuple(background)] = 3
    with MaskArchive(archive) as a:
        assert a.all_names() == ["seg"]
        got = a.load_segmask("seg")
        assert got.mapping.to_dict() == {n: v for v, n in TABLE.items()}
        assert np.array_equal(got.data, expected)  # voxel for voxel
        for v in TABLE:
            if v != 3:
                assert np.array_equal(got.data == v, orig == v), TABLE[v]  # every other organ untouched
    assert w.model["kidney_left"].voxels == int((expected == 3).sum()) and not w.model["kidney_left"].dirty
    # reopened in a fresh viewer: the same voxels
    viewer2 = make_napari_viewer()
    w2 = _dock(viewer2)
    viewer2.open(str(archive), plugin="medmask")
    assert w2.model["kidney_left"].voxels == int((expected == 3).sum())
    assert w2.model["liver"].voxels == int((orig == 5).sum())


def test_split_writes_one_entry_per_label_checked_against_nibabel(ml_case, tmp_path):
    import nibabel as nib

    from medmask.cli import main

    seg, _, _ = ml_case
    dst = tmp_path / "split.mska"
    assert main(["convert", str(seg), str(dst), "--split", "-q"]) == 0
    img = nib.load(str(seg))
    ref = np.asarray(img.dataobj)
    with MaskArchive(dst) as a:
        assert a.all_names() == list(TABLE.values())
        for v, name in TABLE.items():
            m = a.load_segmask(name)
            assert m.mapping.to_dict() == {name: 1}
            assert np.array_equal(np.transpose(m.data, (2, 1, 0)) != 0, ref == v), name
            np.testing.assert_allclose(m.colors[name], COLORS[v], atol=1e-6)
        np.testing.assert_allclose(_ras_affine(a.space), img.affine, atol=1e-5)


def _ras_affine(space):
    from medmask.core.geometry import index_to_world_affine

    lps = index_to_world_affine(space)
    ijk = lps[:, [2, 1, 0, 3]]  # columns i, j, k: nibabel order
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ ijk


# ----------------------------------------------------------------------------------------------
# 19.3: label NIfTIs open as labels, scans as images

def test_label_nifti_with_table_opens_as_labels_over_its_ct(make_napari_viewer, ml_case, qtbot):
    seg, ct, lab = ml_case
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 850)
    w = _dock(viewer)
    viewer.open(str(seg), plugin="medmask")
    assert [type(l).__name__ for l in viewer.layers] == ["Image", "Labels"]
    scan, organs = viewer.layers
    assert scan.metadata["medmask"]["path"] == str(ct) and organs.name == "seg.nii.gz"
    assert w.session.path == str(seg) and sorted(w.model.entries) == sorted(TABLE.values())
    assert w.model["liver"].voxels == int((lab == 5).sum())
    # the organs lie on the CT voxel for voxel
    zyx = np.argwhere(np.transpose(lab, (2, 1, 0)) == 5)[0]
    pos = _world_of(w, zyx)
    assert organs.get_value(pos, world=True) and scan.get_value(pos, world=True) == 90
    assert w.session.names_at(pos) == ["liver"]
    w.set_entry_visible("spleen", False)
    viewer.dims.set_point(0, pos[0])
    _screenshot(viewer, qtbot, "label_nifti_dropped_as_labels.png")
    # read-only: an edit is refused with a message that says what to do
    layer = w.edit("liver")
    layer.data = np.where(np.asarray(layer.data) > 0, 0, np.asarray(layer.data))
    assert w.save() == [] and "medmask convert seg.nii.gz organs.mska" in w.status.text()


def test_scan_stays_an_image_and_binary_mask_becomes_labels(make_napari_viewer, ml_case, tmp_path):
    import nibabel as nib

    seg, ct, lab = ml_case
    liver = tmp_path / "case" / "segmentations" / "liver.nii.gz"
    liver.parent.mkdir()
    nib.save(nib.Nifti1Image((lab == 5).astype(np.uint8), _affine()), str(liver))
    mr = tmp_path / "mr.nii.gz"  # an MR: whole numbers >= 0, hundreds of values over the grid
    rng = np.random.default_rng(0)
    nib.save(nib.Nifti1Image(rng.integers(0, 900, SHAPE).astype(np.uint16), _affine()), str(mr))
    viewer = make_napari_viewer()
    w = _dock(viewer)
    (ct_layer,) = viewer.open(str(ct), plugin="medmask")
    assert type(ct_layer).__name__ == "Image"
    (mr_layer,) = viewer.open(str(mr), plugin="medmask")
    assert type(mr_layer).__name__ == "Image"
    layers = viewer.open(str(liver), plugin="medmask")  # segmentations/../ct.nii.gz is already open
    assert type(layers[-1]).__name__ == "Labels" and list(w.model.entries) == ["liver"]
    assert w.model["liver"].voxels == int((lab == 5).sum())


def test_override_opens_a_label_file_as_an_image(make_napari_viewer, ml_case, monkeypatch):
    seg, _, _ = ml_case
    monkeypatch.setenv("NAPARI_MEDMASK_OPEN_AS", "image")
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(seg), plugin="medmask")
    assert type(layer).__name__ == "Image"


def test_generated_mask_folder_opens_as_one_set_of_organs(make_napari_viewer, ml_case):
    import nibabel as nib

    seg, ct, lab = ml_case
    folder = seg.parent / "segmentations"
    folder.mkdir()
    for v, name in TABLE.items():
        nib.save(nib.Nifti1Image((lab == v).astype(np.uint8), _affine()), str(folder / f"{name}.nii.gz"))
    viewer = make_napari_viewer()
    w = _dock(viewer)
    viewer.open(str(folder), plugin="medmask")
    assert [type(l).__name__ for l in viewer.layers] == ["Image", "Labels"]
    assert viewer.layers[0].metadata["medmask"]["path"] == str(ct)
    assert sorted(w.model.entries) == sorted(TABLE.values()) and w.model["gallbladder"].empty
    assert all(w.model[n].voxels == int((lab == v).sum()) for v, n in TABLE.items())


@pytest.mark.skipif(not S0000.is_dir(), reason="real TotalSegmentator s0000 case not present")
def test_real_ml_label_map_one_organ_unticked(make_napari_viewer, tmp_path, qtbot):
    """s0000's 117 masks as the one ``--ml`` label map TotalSegmentator writes, then as a .mska entry."""
    import warnings

    ml = tmp_path / "s0000_ml.nii.gz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few voxels two masks share stay with the first
        convert(S0000, ml, labels="total", overlap="keep")
    archive = convert(ml, tmp_path / "s0000_ml.mska", image=False)
    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 850)
    w = _dock(viewer)
    viewer.open(str(archive), plugin="medmask")
    assert len(w.model) == 117 and {r.entry_name for r in w.model} == {"s0000_ml"}
    present = [r.name for r in w.model if not r.empty]
    assert len(present) >= 20 and all(_drawn(w, n) for n in present)
    organ = max(present, key=lambda n: w.model[n].voxels)
    w.set_entry_visible(organ, False)
    assert not _drawn(w, organ) and all(_drawn(w, n) for n in present if n != organ)
    with MaskArchive(archive) as a:
        m = a.load_segmask("s0000_ml")
        zyx = np.argwhere(m.crop_data == m.mapping[organ]).mean(axis=0).round().astype(int)
        zyx += [b for b, _ in m.bbox]
    viewer.dims.set_point(0, _world_of(w, zyx)[0])
    w.search.setText("")
    _screenshot(viewer, qtbot, "multilabel_s0000_one_organ_unticked.png")


@pytest.mark.skipif(not (AORTA / "segmentations").is_dir(), reason="real TotalSegmentator aorta case not present")
def test_real_totalsegmentator_folder_opens_over_its_ct(make_napari_viewer, qtbot):
    from medmask.convert.nifti import read_nifti

    viewer = make_napari_viewer(show=True)
    viewer.window.resize(1400, 850)
    w = _dock(viewer)
    viewer.open(str(AORTA / "segmentations"), plugin="medmask")
    assert [type(l).__name__ for l in viewer.layers] == ["Image", "Labels"]
    assert viewer.layers[0].metadata["medmask"]["path"] == str(AORTA / "ct.nii.gz")
    files = sorted(p for p in os.listdir(AORTA / "segmentations") if p.endswith(".nii.gz"))
    assert {r.entry_name for r in w.model} == {f[: -len(".nii.gz")] for f in files}
    aorta, _, _, _ = read_nifti(AORTA / "segmentations" / "aorta.nii.gz")
    assert w.model["aorta"].voxels == int(np.count_nonzero(aorta))
    zyx = np.argwhere(aorta).mean(axis=0).round().astype(int)
    viewer.dims.set_point(0, _world_of(w, zyx)[0])
    _screenshot(viewer, qtbot, "label_folder_dropped_as_labels.png")


def test_reader_gives_layer_data_only_for_label_files(ml_case, tmp_path, monkeypatch):
    import napari

    from napari_medmask._reader import get_reader

    monkeypatch.setattr(napari, "current_viewer", lambda: pytest.fail("the reader looked for a viewer"))
    seg, ct, lab = ml_case
    (scan, organs) = get_reader(str(seg))(str(seg))
    assert scan[2] == "image" and scan[1]["metadata"]["medmask"]["brought_by"] == str(seg)
    assert organs[2] == "labels" and organs[1]["metadata"]["medmask"]["kind"] == "composite"
    assert organs[1]["metadata"]["medmask"]["archive"] == str(seg)
    items = organs[1]["metadata"]["medmask"]["composite"]["items"]  # [entry, label, value, colour, voxels]
    assert {i[1]: i[4] for i in items} == {n: int((lab == v).sum()) for v, n in TABLE.items()}  # organs, by label
    titles = {i[1] for i in items if i[4]}
    slicer = tmp_path / "seg.seg.nrrd"  # a 3D Slicer segmentation: its segments are the organs
    convert(seg, slicer)
    (layer,) = get_reader(str(slicer))(str(slicer))
    assert layer[2] == "labels"
    items = layer[1]["metadata"]["medmask"]["composite"]["items"]
    assert titles <= {i[1] or i[0] for i in items} <= set(TABLE.values())  # Slicer keeps empty segments too


def test_scan_or_segmentation_rule():
    from napari_medmask.label_source import looks_like_labels

    rng = np.random.default_rng(3)
    lab = _label_map()
    assert looks_like_labels(lab) and looks_like_labels(lab == 5) and looks_like_labels(lab.astype(np.float32))
    assert looks_like_labels(np.zeros(SHAPE, np.uint8))  # an empty mask
    ct = np.where(lab > 0, 60, -1000).astype(np.int16)
    assert not looks_like_labels(ct)  # negative HU
    mr8 = np.zeros(SHAPE, np.uint8)  # an 8-bit MR: black background, tissue grey values vary voxel to voxel
    mr8[lab > 0] = rng.integers(40, 200, int((lab > 0).sum()))
    assert not looks_like_labels(mr8)
    mr16 = rng.integers(0, 900, SHAPE).astype(np.uint16)  # hundreds of values over the whole grid
    assert not looks_like_labels(mr16)
    assert not looks_like_labels(lab + 0.5)  # not whole numbers


def test_plain_nrrd_label_volume_opens_as_labels(ml_case, tmp_path):
    import nrrd

    from napari_medmask import label_source
    from napari_medmask._reader import get_reader

    _, _, lab = ml_case
    path = tmp_path / "labels.nrrd"
    nrrd.write(str(path), lab, {"space": "left-posterior-superior", "space directions": np.diag([0.9, 1.2, 2.5]),
                                "space origin": [1.0, 2.0, 3.0]})
    (layer,) = get_reader(str(path))(str(path))
    assert layer[2] == "labels"
    label_source._CACHE.clear()  # the dock reading it again, after the reader's copy was dropped
    source = label_source.open_label_source(path)
    mask = source.load_segmask("labels")
    assert mask.mapping.to_dict() == {f"label_{v}": v for v in np.unique(lab) if v}
    assert np.array_equal(np.transpose(np.asarray(mask.data), (2, 1, 0)), lab)
