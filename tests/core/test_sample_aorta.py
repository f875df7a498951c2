"""The bundled real case: organs lie on their CT, the archive finds its scan, the package stays small."""
from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import numpy as np
import pytest

from medmask import MaskArchive
from medmask.convert.image_io import read_image
from medmask.convert.image_link import check_image
from medmask.core.geometry import spaces_equal
from medmask.sample import aorta_case

from tests.conftest import REPO, SHARED

DATA = REPO / "medmask" / "data"
SOURCE = SHARED / "data" / "totalseg_aorta_ct"


@pytest.fixture(scope="module")
def shipped_ct():
    """(array, space) of the shipped CT, read once (bzip2 costs ~0.5 s of CPU per read)."""
    return read_image(aorta_case()[0])


def test_aorta_voxels_of_the_ct_carry_the_aorta_label(shipped_ct):
    ct_path, archive_path = aorta_case()
    ct, space = shipped_ct
    assert ct.dtype == np.int16 and ct.shape == (164, 126, 120)
    with MaskArchive(archive_path) as archive:
        assert spaces_equal(archive.space, space)
        aorta = archive.load_segmask("aorta").data.astype(bool)
        lumen = archive.load_segmask("aorta_true_lumen").data.astype(bool)
        vertebra = archive.load_segmask("vertebrae_T12").data.astype(bool)
        assert len(archive) == 18
    assert aorta.sum() > 50_000
    assert float(ct[aorta].mean()) > 150  # contrast-filled lumen: ~350 HU
    assert float(ct[lumen].mean()) > 150
    assert float(ct[~aorta].mean()) < float(ct[aorta].mean()) - 200
    assert float(ct[vertebra].mean()) > 150  # bone
    # one voxel off in any direction would already lower the contrast a lot
    shifted = np.roll(aorta, 8, axis=2)
    assert float(ct[shifted].mean()) < float(ct[aorta].mean()) - 100


def test_archive_reference_resolves_to_the_shipped_ct_and_matches(shipped_ct):
    ct_path, archive_path = aorta_case()
    with MaskArchive(archive_path) as archive:
        ref = archive.image_reference
    assert ref is not None and ref.path == "ct.nrrd"
    assert ref.resolve(archive_path) == Path(ct_path)
    check = check_image(ref, archive_path)
    assert check.ok, check.problem
    assert ref.matches(shipped_ct[1], tol=0.0)


def test_package_data_is_small_declared_and_attributed():
    files = [p for p in DATA.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 3_000_000
    patterns = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["medmask"]
    for p in files:
        rel = p.relative_to(REPO / "medmask").as_posix()
        assert any(fnmatch.fnmatch(rel, pat) for pat in patterns), f"{rel} is not in package-data"
    readme = (DATA / "totalseg_aorta" / "README.md").read_text()
    assert "Apache-2.0" in readme and "TotalSegmentator" in readme


def test_sample_is_exactly_the_source_case(shipped_ct):
    if not (SOURCE / "ct.nii.gz").is_file():
        pytest.skip(f"source case not present at {SOURCE}")
    from medmask.convert.nifti_folder import read_nifti_folder

    ct_path, archive_path = aorta_case()
    shipped, shipped_space = shipped_ct
    original, original_space = read_image(SOURCE / "ct.nii.gz")
    assert np.array_equal(shipped, original) and spaces_equal(shipped_space, original_space)
    space, items = read_nifti_folder(SOURCE / "segmentations")
    with MaskArchive(archive_path) as archive:
        assert sorted(archive.names) == sorted(name for name, _ in items)
        for name, mask in items:
            assert np.array_equal(archive.load_segmask(name).data, mask.data), name
