"""Issue 18.3: terminology carried into .seg.nrrd, plain label-map .nrrd, TotalSegmentator's combine order."""
from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest

from medmask import MaskArchive, load_mask
from medmask.convert import convert
from medmask.core.totalseg import CLASS_MAPS
from medmask.errors import ConversionError

from interop_helpers import SHAPE_IJK, blob, make_affine, write_case
from test_cli import assert_one_line_error, run

slicerio = pytest.importorskip("slicerio")


def _ras_affine_to_lps_ijk(aff):
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    return flip @ aff


def _totalseg_folder(folder, kind="oblique"):
    """Per-organ files named like TotalSegmentator's, with overlaps: rib_right_12 lies inside sacrum's block."""
    folder.mkdir(parents=True, exist_ok=True)
    aff = make_affine(kind)
    arrays = {"liver": blob(SHAPE_IJK, (4, 5, 3), (3, 4, 2.5)),
              "spleen": blob(SHAPE_IJK, (9, 12, 7), (2.5, 3, 2)),
              "sacrum": blob(SHAPE_IJK, (8, 6, 5), (3, 3, 3)),
              "rib_right_12": blob(SHAPE_IJK, (8, 6, 5), (1.5, 1.5, 1.5))}
    for name, arr in arrays.items():
        nib.save(nib.Nifti1Image(arr.astype(np.uint8), aff), str(folder / f"{name}.nii.gz"))
    return arrays


def _totalseg_combine(arrays):
    """TotalSegmentator's combine_masks_to_multilabel_file: class-map order, later classes overwrite."""
    out = np.zeros(SHAPE_IJK, np.uint8)
    for value, name in sorted(CLASS_MAPS["total"].items()):
        if name in arrays:
            out[arrays[name] > 0.5] = value
    return out


def test_seg_nrrd_carries_terminology_slicerio_reads(tmp_path):
    write_case(tmp_path / "case", with_empty=False)  # liver, spleen, tumor
    convert(tmp_path / "case", tmp_path / "a.mska")
    convert(tmp_path / "a.mska", tmp_path / "a.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "a.seg.nrrd"), skip_voxels=True)
    terms = {s["name"]: s.get("terminology") for s in seg["segments"]}
    assert terms["liver"]["type"] == ["SCT", "10200004", "Liver"]
    assert terms["liver"]["category"] == ["SCT", "123037004", "Anatomical Structure"]
    assert terms["spleen"]["type"][1] == "78961009"
    assert terms["tumor"] is None  # no code medmask knows: none invented
    # and back: the archive is the one written (the derived terminology is not kept as a Slicer edit)
    convert(tmp_path / "a.seg.nrrd", tmp_path / "b.mska")
    with MaskArchive(tmp_path / "a.mska") as a, MaskArchive(tmp_path / "b.mska") as b:
        for name in a.all_names():
            assert b.load_segmask(name).metadata == a.load_segmask(name).metadata


def test_seg_nrrd_terminology_modifier_and_multilabel(tmp_path):
    src = tmp_path / "ml.nii.gz"
    data = np.zeros(SHAPE_IJK, np.uint8)
    data[1:4, 1:4, 1:4] = 2  # kidney_right
    data[6:9, 6:9, 6:9] = 3  # kidney_left
    nib.save(nib.Nifti1Image(data, make_affine("flipped")), str(src))
    convert(src, tmp_path / "k.msk", labels="total")
    convert(tmp_path / "k.msk", tmp_path / "k.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "k.seg.nrrd"), skip_voxels=True)
    terms = {s["name"]: s["terminology"] for s in seg["segments"]}
    assert terms["kidney_right"]["type"][2] == "Kidney" and terms["kidney_right"]["typeModifier"][2] == "Right"
    assert terms["kidney_left"]["typeModifier"] == ["SCT", "7771000", "Left"]


def test_slicer_terminology_is_kept_not_replaced(tmp_path):
    aff = np.eye(4)
    seg = slicerio.create_segmentation((7, 9, 5), aff)
    a = np.zeros((7, 9, 5), np.uint8)
    a[1:3, 2:5, 1:3] = 1
    own = {"category": ["SCT", "85756007", "Tissue"], "type": ["SCT", "10200004", "Liver"],
           "contextName": "My context", "anatomicContextName": "My anatomy"}
    slicerio.add_segment(seg, a, {"name": "liver", "terminology": own})
    slicerio.write_segmentation(str(tmp_path / "w.seg.nrrd"), seg)
    convert(tmp_path / "w.seg.nrrd", tmp_path / "w.mska")
    convert(tmp_path / "w.mska", tmp_path / "back.seg.nrrd")
    back = slicerio.read_segmentation(str(tmp_path / "back.seg.nrrd"), skip_voxels=True)
    (segment,) = back["segments"]
    assert segment["terminology"]["contextName"] == "My context"
    assert segment["terminology"]["category"] == own["category"]


def test_plain_nrrd_is_a_label_map_simpleitk_reads_exactly(tmp_path):
    sitk = pytest.importorskip("SimpleITK")
    for kind in ("oblique", "flipped", "permuted"):
        src = tmp_path / f"{kind}.nii.gz"
        data = np.zeros(SHAPE_IJK, np.uint16)
        data[blob(SHAPE_IJK, (4, 5, 3), (3, 4, 2.5))] = 5
        data[blob(SHAPE_IJK, (9, 12, 7), (2.5, 3, 2))] = 300
        aff = make_affine(kind)
        nib.save(nib.Nifti1Image(data, aff), str(src))
        out = tmp_path / f"{kind}.nrrd"
        run("convert", src, out)
        img = sitk.ReadImage(str(out))
        assert img.GetDimension() == 3 and img.GetNumberOfComponentsPerPixel() == 1
        arr = sitk.GetArrayFromImage(img)  # (k, j, i)
        assert np.array_equal(arr.transpose(2, 1, 0), data)
        # geometry: SimpleITK's LPS index->world equals nibabel's RAS affine, flipped to LPS
        lps = _ras_affine_to_lps_ijk(aff)
        direction = np.array(img.GetDirection()).reshape(3, 3) * np.array(img.GetSpacing())
        np.testing.assert_allclose(direction, lps[:3, :3], atol=1e-9)
        np.testing.assert_allclose(img.GetOrigin(), lps[:3, 3], atol=1e-9)


def test_plain_nrrd_refuses_overlaps_and_points_to_seg_nrrd(tmp_path):
    write_case(tmp_path / "case", with_empty=False)  # tumor overlaps liver
    run("convert", tmp_path / "case", tmp_path / "a.mska")
    proc = run("convert", tmp_path / "a.mska", tmp_path / "a.nrrd", ok=False)
    assert_one_line_error(proc, "overlap", ".seg.nrrd")
    assert not (tmp_path / "a.nrrd").exists()
    run("convert", tmp_path / "a.mska", tmp_path / "a.seg.nrrd")  # the hint works


@pytest.mark.parametrize("overlap", ["overwrite", "keep"])
def test_combining_follows_class_map_order(tmp_path, overlap):
    arrays = _totalseg_folder(tmp_path / "seg")
    run("convert", tmp_path / "seg", tmp_path / "s.mska")
    out = tmp_path / f"ml_{overlap}.nii.gz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        convert(tmp_path / "s.mska", out, labels="total", overlap=overlap)
    got = np.asarray(nib.load(str(out)).dataobj)
    if overlap == "overwrite":  # exactly TotalSegmentator's own combined file
        assert np.array_equal(got, _totalseg_combine(arrays))
        assert (got == 115).any()  # rib_right_12 (115) is painted over sacrum (25), not dropped
    else:  # the smaller label value keeps a contested voxel
        want = np.zeros(SHAPE_IJK, np.uint8)
        for value, name in sorted(CLASS_MAPS["total"].items(), reverse=True):
            if name in arrays:
                want[arrays[name] > 0.5] = value
        assert np.array_equal(got, want) and not (got == 115).any()


def test_s0000_combined_equals_totalsegmentators(tmp_path, totalseg_dir):
    arrays = {p.name[:-7]: np.asarray(nib.load(str(p)).dataobj) for p in sorted(totalseg_dir.glob("*.nii.gz"))}
    run("convert", totalseg_dir, tmp_path / "s.mska")
    run("convert", tmp_path / "s.mska", tmp_path / "ml.nii.gz", "--labels", "total", "--overlap", "overwrite")
    got = np.asarray(nib.load(str(tmp_path / "ml.nii.gz")).dataobj)
    want = np.zeros(next(iter(arrays.values())).shape, np.uint8)
    for value, name in sorted(CLASS_MAPS["total"].items()):
        if name in arrays:
            want[arrays[name] > 0.5] = value
    assert np.array_equal(got, want)
    assert (got == 115).any()  # rib_right_12 kept


def test_python_api_overlap_message_names_seg_nrrd(tmp_path):
    write_case(tmp_path / "case", with_empty=False)
    convert(tmp_path / "case", tmp_path / "a.mska")
    with pytest.raises(ConversionError, match=r"\.seg\.nrrd"):
        convert(tmp_path / "a.mska", tmp_path / "a.msk")
    assert load_mask  # the API refuses as the CLI does


def test_plain_nrrd_round_trip_with_an_itksnap_label_file(tmp_path):
    """ITK-SNAP's pair - a label-map .nrrd and its label description .txt - in and out."""
    src = tmp_path / "ml.nii.gz"
    data = np.zeros(SHAPE_IJK, np.uint8)
    data[1:4, 1:4, 1:4] = 1
    data[6:9, 6:9, 6:9] = 5
    nib.save(nib.Nifti1Image(data, make_affine("oblique")), str(src))
    names = tmp_path / "names.json"
    names.write_text('{"1": "liver", "5": "spleen", "9": "unused"}')
    run("convert", src, tmp_path / "ml.nrrd", "--labels", names, "--labels-out", tmp_path / "ml_labels.txt")
    run("convert", tmp_path / "ml.nrrd", tmp_path / "back.msk", "--labels", tmp_path / "ml_labels.txt")
    back = load_mask(tmp_path / "back.msk")
    assert back.mapping.to_dict() == {"liver": 1, "spleen": 5, "unused": 9}
    assert np.array_equal(back.data.transpose(2, 1, 0), data)
    # colours written to the ITK-SNAP file come back with the names
    assert set(back.colors) == {"liver", "spleen", "unused"}
