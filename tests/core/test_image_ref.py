"""ImageReference: relative paths, fingerprints, tolerance, JSON, and storage in archives."""
from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from spacetransformer import Space

from medmask import MaskArchive, SegmentationMask
from medmask.core.image_ref import ImageReference, fingerprint_of
from medmask.errors import ArchiveModeError, FormatError, GeometryError, MedMaskError

from tests.conftest import COMPAT, REPO, oblique_space, organ_masks


def test_exported_at_the_top_level():
    import medmask
    assert medmask.ImageReference is ImageReference


def test_path_is_relative_posix_from_the_archive_folder(tmp_path):
    space = oblique_space()
    ref = ImageReference.from_image(tmp_path / "case" / "ct.nii.gz", space, tmp_path / "case" / "out" / "m.mska")
    assert ref.path == "../ct.nii.gz"
    assert ref.resolve(tmp_path / "case" / "out" / "m.mska") == tmp_path / "case" / "ct.nii.gz"
    # moving the whole case keeps the link
    assert ref.resolve(tmp_path / "moved" / "out" / "m.mska") == tmp_path / "moved" / "ct.nii.gz"


def test_relative_input_paths_are_taken_from_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ref = ImageReference.from_image("case/ct.nii.gz", oblique_space(), "case/organs.mska")
    assert ref.path == "ct.nii.gz"
    assert ref.resolve("case/organs.mska") == tmp_path / "case" / "ct.nii.gz"


def test_relocated_points_to_the_same_file_from_another_archive(tmp_path):
    ref = ImageReference.from_image(tmp_path / "case" / "ct.nii.gz", oblique_space(), tmp_path / "case" / "a.mska")
    moved = ref.relocated(tmp_path / "case" / "a.mska", tmp_path / "out" / "sub" / "b.mska")
    assert moved.path == "../../case/ct.nii.gz" and moved.fingerprint == ref.fingerprint
    assert moved.resolve(tmp_path / "out" / "sub" / "b.mska") == tmp_path / "case" / "ct.nii.gz"


def test_absolute_path_is_kept_and_resolved_as_is():
    ref = ImageReference("/data/ct.nii.gz", fingerprint_of(oblique_space()))
    assert ref.resolve("/elsewhere/a.mska") == Path("/data/ct.nii.gz")


def test_fingerprint_is_plain_json_and_round_trips_exactly():
    space = oblique_space()
    ref = ImageReference.from_image("/a/ct.nii.gz", space, "/a/m.mska")
    text = json.dumps(ref.to_json())
    back = ImageReference.from_json(json.loads(text))
    assert back == ref
    assert back.matches(space, tol=0.0)
    s = back.space
    assert tuple(s.shape) == tuple(space.shape) and tuple(s.origin) == tuple(space.origin)
    assert tuple(s.spacing) == tuple(space.spacing) and tuple(s.z_orientation) == tuple(space.z_orientation)
    assert ref.to_json()["fingerprint"]["direction"][1] == list(space.y_orientation)


def _moved(space: Space, **changes) -> Space:
    kw = dict(shape=space.shape, origin=space.origin, spacing=space.spacing, x_orientation=space.x_orientation,
              y_orientation=space.y_orientation, z_orientation=space.z_orientation)
    kw.update(changes)
    return Space(**kw)


def test_matches_within_tolerance_and_says_how_grids_differ():
    space = oblique_space()
    ref = ImageReference.from_image("/a/ct.nii.gz", space, "/a/m.mska")
    # float32 header noise (1e-4 mm) is no difference
    assert ref.matches(_moved(space, origin=tuple(np.asarray(space.origin) + 1e-4)))
    shifted = _moved(space, origin=tuple(np.asarray(space.origin) + (0, 0, 2.0)))
    assert not ref.matches(shifted)
    assert "origin" in ref.describe_mismatch(shifted) and "2 mm" in ref.describe_mismatch(shifted)
    assert ref.matches(shifted, tol=2.01)
    other_shape = _moved(space, shape=(21, 30, 40))
    assert "shape [21, 30, 40] instead of [20, 30, 40]" in ref.describe_mismatch(other_shape)
    finer = _moved(space, spacing=(1.25, 0.8, 0.7))
    assert "spacing" in ref.describe_mismatch(finer)
    flipped = _moved(space, x_orientation=(0.0, 0.0, -1.0))
    msg = ref.describe_mismatch(flipped)
    assert "axis 0 direction" in msg and "180 deg" in msg
    with pytest.raises(GeometryError):
        ref.matches(space, tol=-1)


@pytest.mark.parametrize("bad", [
    None, [], {"path": "ct.nii.gz"}, {"path": "", "fingerprint": {}},
    {"path": "ct.nii.gz", "fingerprint": {"shape": [1, 2], "spacing": [1, 1, 1], "origin": [0, 0, 0],
                                          "direction": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}},
    {"path": "ct.nii.gz", "fingerprint": {"shape": [1, 2, 3], "spacing": [1, 0, 1], "origin": [0, 0, 0],
                                          "direction": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}},
    {"path": "ct.nii.gz", "fingerprint": {"shape": [1, 2, 3], "spacing": [1, 1, 1], "origin": [0, 0, 0],
                                          "direction": [[1, 0, 0], [1, 0, 0], [0, 0, 1]]}},
    {"path": "dir\\ct.nii.gz", "fingerprint": fingerprint_of(oblique_space())},
])
def test_malformed_json_is_a_format_error(bad):
    with pytest.raises(FormatError):
        ImageReference.from_json(bad, "x.mska")


def test_unknown_keys_in_the_stored_object_are_ignored():
    data = {"path": "ct.nii.gz", "fingerprint": {**fingerprint_of(oblique_space()), "future": 1}, "sha": "x"}
    assert ImageReference.from_json(data).path == "ct.nii.gz"


# ---------------------------------------------------------------------------------------------
# in archives

def _ref(tmp_path, space=None) -> ImageReference:
    return ImageReference.from_image(tmp_path / "ct.nii.gz", space or oblique_space(), tmp_path / "a.mska")


def test_archive_stores_reads_changes_and_removes_the_reference(tmp_path):
    path = tmp_path / "a.mska"
    masks = organ_masks()
    ref = _ref(tmp_path)
    with MaskArchive(path, "w") as a:
        a.add_segmasks(masks)
        a.image_reference = ref
    with MaskArchive(path) as a:
        assert a.image_reference == ref
        with pytest.raises(ArchiveModeError):
            a.image_reference = None
    moved = ImageReference("images/ct.nii.gz", ref.fingerprint)
    a = MaskArchive(path, "a")
    a.image_reference = moved  # written at once, like any change outside a with block
    assert MaskArchive(path).image_reference == moved
    assert a.load_segmask("liver").data.sum() == masks["liver"].data.sum()
    a.image_reference = None
    a.close()
    with MaskArchive(path) as b:
        assert b.image_reference is None and b.names == list(masks)


def test_reference_survives_entry_edits_and_is_dropped_with_a_failed_block(tmp_path):
    path = tmp_path / "a.mska"
    masks = organ_masks()
    ref = _ref(tmp_path)
    with MaskArchive(path, "w") as a:
        a.add_segmask(masks["liver"], "liver")
        a.image_reference = ref
    with MaskArchive(path, "a") as a:
        a.add_segmask(masks["tumor"], "tumor")
        a.rename("liver", "hepar")
    assert MaskArchive(path).image_reference == ref
    with pytest.raises(RuntimeError):
        with MaskArchive(path, "a") as a:
            a.image_reference = None
            raise RuntimeError("abort")
    assert MaskArchive(path).image_reference == ref


def test_setting_a_non_reference_is_refused(tmp_path):
    with MaskArchive(tmp_path / "a.mska", "w") as a:
        a.add_segmask(organ_masks()["liver"], "liver")
        with pytest.raises(MedMaskError, match="ImageReference"):
            a.image_reference = "ct.nii.gz"


@pytest.mark.filterwarnings("ignore:.*format version 1 cannot store")
def test_version1_archive_cannot_store_a_reference(tmp_path):
    path = tmp_path / "v1.mska"
    with MaskArchive(path, "w", format_version=1) as a:
        a.add_segmask(organ_masks()["liver"], "liver")
        with pytest.raises(ArchiveModeError, match="format version 1"):
            a.image_reference = _ref(tmp_path)
    with MaskArchive(path, "a") as a:
        assert a.image_reference is None
    with MaskArchive(path, "a", format_version=2) as a:  # upgrading on write is the way
        a.image_reference = _ref(tmp_path)
    assert MaskArchive(path).image_reference == _ref(tmp_path)
    with pytest.warns(UserWarning, match="cannot store the image reference"):  # downgrading says what it drops
        with MaskArchive(path, "a", format_version=1) as a:
            a.rename("liver", "hepar")
    assert MaskArchive(path).image_reference is None


def test_files_without_a_reference_are_unchanged_and_old_files_read(tmp_path):
    for golden in ("golden_v2_archive.mska",):
        with MaskArchive(REPO / "tests" / "data" / golden) as a:
            assert a.image_reference is None and len(a) > 0
    if COMPAT.is_dir():
        with MaskArchive(COMPAT / "archive.mska") as a:
            assert a.image_reference is None
    # an archive written without a reference has no "image" key at all
    from medmask.format import v2
    from medmask.storage.reader import ContainerReader
    path = tmp_path / "plain.mska"
    with MaskArchive(path, "w") as a:
        a.add_segmask(organ_masks()["liver"], "liver")
    r = ContainerReader(path)
    head = r.pread(0, v2.HEADER_SIZE)
    header = v2.unpack_header(head, r.file_size)
    import zstandard
    doc = v2.index_document(r.pread(header.index_offset, header.index_length), header)
    r.close()
    assert "image" not in doc


def test_a_reader_that_ignores_the_key_still_reads_entries(tmp_path):
    """Readers must ignore unknown top-level keys: the entries decode without the reference code."""
    from medmask.format import v2
    from medmask.storage.reader import ContainerReader
    path = tmp_path / "a.mska"
    masks = organ_masks()
    with MaskArchive(path, "w") as a:
        a.add_segmasks(masks)
        a.image_reference = _ref(tmp_path)
    r = ContainerReader(path)
    header = v2.unpack_header(r.pread(0, v2.HEADER_SIZE), r.file_size)
    kind, space, records = v2.decode_index(r.pread(header.index_offset, header.index_length), header)
    assert kind == "archive" and list(records) == list(masks)
    assert np.array_equal(r.load("ribs").data, masks["ribs"].data)
    r.close()
