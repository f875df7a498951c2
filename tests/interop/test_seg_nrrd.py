"""medmask <-> 3D Slicer .seg.nrrd, cross-checked with the slicerio package."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

slicerio = pytest.importorskip("slicerio")

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask  # noqa: E402
from medmask.convert import (archive_to_seg_nrrd, convert, mask_to_seg_nrrd, nifti_folder_to_archive,  # noqa: E402
                             read_seg_nrrd, seg_nrrd_to_archive, seg_nrrd_to_mask)
from medmask.convert._geometry import space_from_ras_affine  # noqa: E402
from medmask.core.geometry import index_to_world_affine  # noqa: E402
from medmask.errors import ConversionError  # noqa: E402

from interop_helpers import SHAPE_IJK, blob, make_affine, write_case  # noqa: E402

SLICERIO_DATA = Path(slicerio.__file__).parent / "data"


def _ijk_to_lps(space) -> np.ndarray:
    """medmask's index->LPS affine re-expressed for slicerio's (i, j, k) = (x, y, z) index order."""
    return index_to_world_affine(space)[:, [2, 1, 0, 3]]


def _segment(seg, name):
    return next(s for s in seg["segments"] if s["name"] == name)


def _overlapping_archive(path: Path, kind="oblique"):
    space = space_from_ras_affine(make_affine(kind), SHAPE_IJK)
    zyx = tuple(space.shape)
    liver = blob(zyx, (3, 5, 4), (2.5, 4, 3))
    tumor = blob(zyx, (3, 6, 4), (1.2, 1.5, 1.5))  # inside the liver: must go to another layer
    lobes = np.zeros(zyx, np.uint8)
    lobes[blob(zyx, (7, 12, 9), (2, 3, 2.5))] = 1
    lobes[blob(zyx, (8, 4, 9), (2, 2, 2))] = 2
    with MaskArchive(path, mode="w", space=space) as ar:
        ar.add_segmask(SegmentationMask(liver, {"liver": 1}, space=space, colors={"liver": (0.8, 0.3, 0.2, 1)}), "liver")
        ar.add_segmask(SegmentationMask(tumor, {"tumor": 1}, space=space), "tumor")
        ar.add_segmask(SegmentationMask(lobes, {"lobe_a": 1, "lobe_b": 2}, space=space, metadata={"who": "me"}), "lobes")
        ar.add_segmask(SegmentationMask(np.zeros(zyx, bool), {"nothing": 1}, space=space), "nothing")
    return space, {"liver": liver, "tumor": tumor, "lobes/lobe_a": lobes == 1, "lobes/lobe_b": lobes == 2,
                   "nothing": np.zeros(zyx, bool)}


@pytest.mark.parametrize("kind", ["oblique", "flipped", "permuted"])
def test_slicerio_reads_our_output(tmp_path, kind):
    space, expected = _overlapping_archive(tmp_path / "a.mska", kind)
    archive_to_seg_nrrd(tmp_path / "a.mska", tmp_path / "a.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "a.seg.nrrd"))
    assert [s["name"] for s in seg["segments"]] == list(expected)
    np.testing.assert_allclose(seg["ijkToLPS"], _ijk_to_lps(space), atol=1e-9)
    assert seg["voxels"].ndim == 4  # liver and tumor overlap: two layers
    assert _segment(seg, "liver")["layer"] != _segment(seg, "tumor")["layer"]
    for name, arr in expected.items():
        got = slicerio.segment_mask(seg, _segment(seg, name)["id"])
        assert np.array_equal(got, arr.transpose(2, 1, 0)), name  # slicerio's arrays are (i, j, k)
    np.testing.assert_allclose(_segment(seg, "liver")["color"], [0.8, 0.3, 0.2], atol=1e-6)
    header = (tmp_path / "a.seg.nrrd").read_bytes()[:4000].decode("latin1")
    assert "space: left-posterior-superior" in header
    assert "kinds: list domain domain domain" in header
    assert "Segment3_Extent:=0 -1 0 -1 0 -1" in header or "_Extent:=0 -1 0 -1 0 -1" in header


def test_extent_is_inclusive_ijk(tmp_path):
    space, expected = _overlapping_archive(tmp_path / "a.mska")
    archive_to_seg_nrrd(tmp_path / "a.mska", tmp_path / "a.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "a.seg.nrrd"))
    liver = expected["liver"].transpose(2, 1, 0)
    nz = np.argwhere(liver)
    want = [int(v) for a in range(3) for v in (nz[:, a].min(), nz[:, a].max())]
    assert _segment(seg, "liver")["extent"] == want


def test_non_overlapping_segments_share_one_3d_layer(tmp_path):
    src = tmp_path / "case"
    arrays = write_case(src, "flipped")
    del arrays["tumor"]
    (src / "tumor.nii.gz").unlink()
    nifti_folder_to_archive(src, tmp_path / "c.mska")
    archive_to_seg_nrrd(tmp_path / "c.mska", tmp_path / "c.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "c.seg.nrrd"))
    assert seg["voxels"].ndim == 3
    for name, arr in arrays.items():
        assert np.array_equal(slicerio.segment_mask(seg, _segment(seg, name)["id"]), arr)


def test_archive_round_trip_through_seg_nrrd_is_exact(tmp_path):
    _overlapping_archive(tmp_path / "a.mska", "flipped")
    archive_to_seg_nrrd(tmp_path / "a.mska", tmp_path / "a.seg.nrrd")
    seg_nrrd_to_archive(tmp_path / "a.seg.nrrd", tmp_path / "b.mska")
    with MaskArchive(tmp_path / "a.mska") as a, MaskArchive(tmp_path / "b.mska") as b:
        assert a.all_names() == b.all_names()
        for n in a.all_names():
            ma, mb = a.load_segmask(n), b.load_segmask(n)
            assert ma.same_content(mb), n
            assert ma.colors == mb.colors or n != "liver"
            assert b.entry_info(n).metadata == a.entry_info(n).metadata
        assert b.load_segmask("lobes").metadata == {"who": "me"}


def test_msk_round_trip_through_seg_nrrd(tmp_path):
    space = space_from_ras_affine(make_affine("permuted"), SHAPE_IJK)
    data = np.zeros(tuple(space.shape), np.uint16)
    data[blob(data.shape, (3, 5, 4), (2, 3, 3))] = 300
    data[blob(data.shape, (8, 12, 9), (2, 2, 2))] = 2
    mask = SegmentationMask(data, {"big": 300, "small": 2, "unused": 5}, space=space)
    save_mask(mask, tmp_path / "m.msk")
    convert(tmp_path / "m.msk", tmp_path / "m.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "m.seg.nrrd"))
    assert sorted(s["name"] for s in seg["segments"]) == ["big", "small", "unused"]
    convert(tmp_path / "m.seg.nrrd", tmp_path / "back.msk")
    assert load_mask(tmp_path / "back.msk").same_content(mask)


@pytest.mark.parametrize("fname", ["Segmentation.seg.nrrd", "SegmentationOverlapping.seg.nrrd"])
def test_we_read_slicerio_samples(tmp_path, fname):
    path = SLICERIO_DATA / fname
    if not path.exists():
        pytest.skip(f"{path} not shipped with this slicerio")
    ref = slicerio.read_segmentation(str(path))
    ours = read_seg_nrrd(path)
    np.testing.assert_allclose(_ijk_to_lps(ours.space), ref["ijkToLPS"], atol=1e-9)
    seg_nrrd_to_archive(path, tmp_path / "s.mska")
    with MaskArchive(tmp_path / "s.mska") as ar:
        assert ar.all_names() == [s["name"] for s in ref["segments"]]
        for s in ref["segments"]:
            m = ar.load_segmask(s["name"])
            assert np.array_equal(m.data.transpose(2, 1, 0), slicerio.segment_mask(ref, s["id"])), s["name"]
            if s["colorAutoGenerated"]:  # Slicer's pick stays Slicer's (in the kept fields), not a user colour
                assert s["name"] not in m.colors
                fields = m.metadata["slicer"]["segments"][s["name"]]
                np.testing.assert_allclose([float(v) for v in fields["Color"].split()], s["color"], atol=1e-6)
            else:
                np.testing.assert_allclose(m.colors[s["name"]][:3], s["color"], atol=1e-6)


def test_overlapping_sample_cannot_become_one_msk(tmp_path):
    path = SLICERIO_DATA / "SegmentationOverlapping.seg.nrrd"
    if not path.exists():
        pytest.skip("sample not shipped")
    with pytest.raises(ConversionError, match="overlap"):
        seg_nrrd_to_mask(path)
    mask = seg_nrrd_to_mask(SLICERIO_DATA / "Segmentation.seg.nrrd")
    ref = slicerio.read_segmentation(str(SLICERIO_DATA / "Segmentation.seg.nrrd"))
    for s in ref["segments"]:
        assert np.array_equal(mask.data.transpose(2, 1, 0) == mask.mapping[s["name"]], slicerio.segment_mask(ref, s["id"]))


def test_we_read_what_slicerio_writes(tmp_path):
    aff = np.array([[0, 0, 2.0, 10], [-0.5, 0, 0, 20], [0, 1.5, 0, -30], [0, 0, 0, 1]])  # LPS, permuted axes
    seg = slicerio.create_segmentation((7, 9, 5), aff)
    a = np.zeros((7, 9, 5), bool)
    a[1:4, 2:6, 1:3] = True
    b = np.zeros((7, 9, 5), bool)
    b[2:5, 3:8, 2:4] = True  # overlaps a
    slicerio.add_segment(seg, a, {"name": "first"})
    slicerio.add_segment(seg, b, {"name": "second"})
    slicerio.write_segmentation(str(tmp_path / "w.seg.nrrd"), seg)
    ours = read_seg_nrrd(tmp_path / "w.seg.nrrd")
    np.testing.assert_allclose(_ijk_to_lps(ours.space), aff, atol=1e-12)
    seg_nrrd_to_archive(tmp_path / "w.seg.nrrd", tmp_path / "w.mska")
    with MaskArchive(tmp_path / "w.mska") as ar:
        assert np.array_equal(ar.load_segmask("first").data.transpose(2, 1, 0), a)
        assert np.array_equal(ar.load_segmask("second").data.transpose(2, 1, 0), b)


def test_single_mask_to_seg_names_by_label(tmp_path):
    space = space_from_ras_affine(make_affine("oblique"), SHAPE_IJK)
    data = np.zeros(tuple(space.shape), np.uint8)
    data[2:5, 3:9, 1:4] = 4
    mask_to_seg_nrrd(SegmentationMask(data, {"kidney": 4}, space=space), tmp_path / "k.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "k.seg.nrrd"))
    assert [s["name"] for s in seg["segments"]] == ["kidney"]


def test_corrupt_seg_nrrd_is_a_conversion_error(tmp_path):
    (tmp_path / "bad.seg.nrrd").write_bytes(b"NRRD0004\ntype: what\n\n")
    with pytest.raises(ConversionError, match="bad.seg.nrrd"):
        read_seg_nrrd(tmp_path / "bad.seg.nrrd")
    with pytest.raises(ConversionError, match="no such file"):
        read_seg_nrrd(tmp_path / "missing.seg.nrrd")


def test_totalsegmentator_case_to_slicer(tmp_path, totalseg_dir):
    nifti_folder_to_archive(totalseg_dir, tmp_path / "s.mska")
    archive_to_seg_nrrd(tmp_path / "s.mska", tmp_path / "s.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "s.seg.nrrd"))
    assert len(seg["segments"]) == 117
    with MaskArchive(tmp_path / "s.mska") as ar:
        np.testing.assert_allclose(seg["ijkToLPS"], _ijk_to_lps(ar.space), atol=1e-9)
        for name in ("liver", "colon", "spleen", "femur_right", "gluteus_medius_right"):
            got = slicerio.segment_mask(seg, _segment(seg, name)["id"])
            assert np.array_equal(got, ar.load_segmask(name).data.transpose(2, 1, 0)), name


def test_plain_labelmap_nrrd_becomes_one_entry_per_value(tmp_path):
    import nrrd

    data = np.zeros((4, 5, 6), np.uint8)  # C order: (k, j, i)
    data[1:3, 1:4, 2:5] = 2
    data[3, 4, 5] = 9
    nrrd.write(str(tmp_path / "lm.nrrd"), data, {"space": "left-posterior-superior", "space directions": np.diag([1.0, 2, 3]),
                                                  "space origin": np.zeros(3)}, index_order="C")
    seg_nrrd_to_archive(tmp_path / "lm.nrrd", tmp_path / "lm.mska")
    with MaskArchive(tmp_path / "lm.mska") as ar:
        assert ar.all_names() == ["label_2", "label_9"]
        assert np.array_equal(ar.load_segmask("label_2").data, data == 2)
        np.testing.assert_allclose(ar.space.spacing, [3, 2, 1])
