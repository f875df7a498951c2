"""A label map -> one entry per organ: the one-pass boxes and MaskArchive.add_labelmap."""
from __future__ import annotations

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.core.label_boxes import label_boxes
from medmask.errors import GeometryError, LabelError, MedMaskError
from medmask.sample import phantom_space


def _reference_boxes(a: np.ndarray) -> dict:
    """Boxes and counts the slow way: one comparison per value."""
    out = {}
    for v in np.unique(a):
        if v == 0:
            continue
        idx = np.argwhere(a == v)
        out[int(v)] = (tuple((int(lo), int(hi) + 1) for lo, hi in zip(idx.min(0), idx.max(0))), len(idx))
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, bool])
@pytest.mark.parametrize("shape", [(9, 13, 16), (7, 5, 3), (1, 1, 1), (4, 6, 301)])
def test_label_boxes_match_one_comparison_per_label(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    hi = 2 if dtype is bool else {np.uint8: 250, np.uint16: 60000, np.uint32: 2**31}[dtype]
    a = np.zeros(shape, dtype)
    for _ in range(6):  # blobs, split and touching values, some at the volume's edges
        lo = [int(rng.integers(0, n)) for n in shape]
        up = [int(rng.integers(l + 1, n + 1)) for l, n in zip(lo, shape)]
        a[tuple(slice(l, u) for l, u in zip(lo, up))] = rng.integers(1, hi) if dtype is not bool else True
    a[rng.random(shape) < 0.02] = 1 if dtype is bool else 7
    assert label_boxes(a) == _reference_boxes(a)
    assert label_boxes(np.asfortranarray(a)) == _reference_boxes(a)  # not C-ordered: copied once


def test_label_boxes_match_scipy_find_objects():
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(1)
    a = (rng.random((30, 40, 50)) < 0.01).astype(np.uint8) * rng.integers(1, 40, (30, 40, 50)).astype(np.uint8)
    got = label_boxes(a)
    for v, sl in enumerate(ndimage.find_objects(a), start=1):
        if sl is None:
            assert v not in got
        else:
            assert got[v][0] == tuple((s.start, s.stop) for s in sl)
            assert got[v][1] == int((a == v).sum())


def test_label_boxes_of_an_empty_volume():
    assert label_boxes(np.zeros((3, 4, 5), np.uint8)) == {}
    with pytest.raises(ValueError):
        label_boxes(np.zeros((3, 4), np.uint8))


def _labels(space):
    a = np.zeros(tuple(space.shape), np.uint8)
    a[2:10, 3:12, 4:20] = 5  # liver
    a[12:15, 3:6, 3:8] = 2  # kidney_right
    a[12:15, 20:26, 3:8] = 9  # present but not named
    return a


def test_add_labelmap_writes_one_entry_per_name(tmp_path):
    space = phantom_space((20, 32, 28))
    labels = _labels(space)
    names = {"liver": 5, "kidney_right": 2, "spleen": 1}  # spleen: absent
    path = tmp_path / "a.mska"
    with MaskArchive(path, "w", space=space) as archive:
        written = archive.add_labelmap(labels, names, colors={"liver": (1, 0, 0, 1)}, metadata={"model": "x"})
    assert written == ["spleen", "kidney_right", "liver", "label_9"]
    with MaskArchive(path) as archive:
        assert archive.all_names() == written
        for name, value in {**names, "label_9": 9}.items():
            m = archive.load_segmask(name)
            assert m.mapping.to_dict() == {name: 1} and m.metadata["model"] == "x"
            assert np.array_equal(m.data != 0, labels == value), name
            info = archive.entry_info(name)
            assert (info.bbox is None) == (value == 1)
        assert archive.entry_info("liver").bbox == ((2, 10), (3, 12), (4, 20))
        assert archive.load_segmask("liver").colors["liver"] == (1.0, 0.0, 0.0, 1.0)


def test_add_labelmap_of_a_mask_takes_its_names_space_and_colours(tmp_path):
    space = phantom_space((20, 32, 28))
    mask = SegmentationMask(_labels(space), {"liver": 5, "kidney_right": 2, "x": 9}, space=space,
                            colors={"x": (0, 1, 0, 1)})
    with MaskArchive(tmp_path / "b.mska", "w") as archive:
        assert archive.add_labelmap(mask) == ["kidney_right", "liver", "x"]
    with MaskArchive(tmp_path / "b.mska") as archive:
        assert archive.space == space and archive.load_segmask("x").colors["x"] == (0.0, 1.0, 0.0, 1.0)


@pytest.mark.parametrize("names, error", [({"a": 1, "b": 1}, LabelError), ({"a": 0}, LabelError),
                                          ({"a": -3}, LabelError), ({"": 1}, LabelError), ({"a": 1.5}, LabelError)])
def test_add_labelmap_refuses_bad_names_naming_the_file(tmp_path, names, error):
    space = phantom_space((20, 32, 28))
    path = tmp_path / "c.mska"
    with pytest.raises(error) as info:
        with MaskArchive(path, "w", space=space) as archive:
            archive.add_labelmap(_labels(space), names)
    assert str(path) in str(info.value)
    assert not path.exists()  # nothing half written


def test_add_labelmap_refuses_a_wrong_shape_or_dtype(tmp_path):
    space = phantom_space((20, 32, 28))
    with MaskArchive(tmp_path / "d.mska", "w", space=space) as archive:
        with pytest.raises(GeometryError, match="does not match"):
            archive.add_labelmap(np.zeros((3, 3, 3), np.uint8), {"a": 1})
        with pytest.raises(MedMaskError, match="float32 is not supported"):
            archive.add_labelmap(np.zeros(tuple(space.shape), np.float32), {"a": 1})
        with pytest.raises(LabelError, match=">= 0"):
            archive.add_labelmap(np.full(tuple(space.shape), -1, np.int16), {"a": 1})
    with pytest.raises(GeometryError, match="space="):
        with MaskArchive(tmp_path / "e.mska", "w") as archive:
            archive.add_labelmap(np.zeros((3, 3, 3), np.uint8), {"a": 1})


def test_convert_split_needs_a_label_map_and_an_archive(tmp_path):
    from medmask.convert import convert
    from medmask.errors import ConversionError

    space = phantom_space((20, 32, 28))
    src = tmp_path / "ml.msk"
    SegmentationMask(_labels(space), {"liver": 5, "kidney_right": 2}, space=space).save(src)
    with pytest.raises(ConversionError, match="split"):
        convert(src, tmp_path / "out.seg.nrrd", split=True)
    dst = convert(src, tmp_path / "out.mska", split=True)
    with MaskArchive(dst) as archive:
        assert archive.all_names() == ["kidney_right", "liver", "label_9"]
        assert np.array_equal(archive.load_segmask("liver").data, _labels(space) == 5)
