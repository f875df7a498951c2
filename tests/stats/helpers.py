"""Direct numpy/nibabel answers the stats code is checked against."""
from __future__ import annotations

import numpy as np

from medmask import MaskArchive, SegmentationMask
from tests.conftest import oblique_space


def world_affine_by_nibabel(mask: SegmentationMask, tmp_path) -> tuple[np.ndarray, np.ndarray]:
    """(LPS affine of the medmask array, array as nibabel reads it back) via a written NIfTI file:
    an independent route to patient coordinates (nibabel's affine, RAS flipped to LPS)."""
    import nibabel as nib
    from medmask.convert.nifti import save_nifti_mask

    path = tmp_path / "probe.nii.gz"
    save_nifti_mask(mask, path)
    img = nib.load(str(path))
    ras_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0])
    # nibabel's array is medmask's transposed (2, 1, 0): fold the transpose into the affine
    perm = np.zeros((4, 4))
    perm[0, 2] = perm[1, 1] = perm[2, 0] = perm[3, 3] = 1.0
    return ras_to_lps @ img.affine @ perm, np.asarray(img.dataobj).transpose(2, 1, 0)


def voxel_world(aff: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return idx @ aff[:3, :3].T + aff[:3, 3]


def corner_box(aff: np.ndarray, region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LPS min/max over the 8 corners of every voxel of ``region``: brute force."""
    idx = np.argwhere(region).astype(float)
    offs = np.array([[i, j, k] for i in (-.5, .5) for j in (-.5, .5) for k in (-.5, .5)])
    pts = (idx[:, None, :] + offs[None]).reshape(-1, 3)
    w = voxel_world(aff, pts)
    return w.min(axis=0), w.max(axis=0)


def synthetic_archive(path, shape=(20, 30, 40), seed=0) -> dict[str, SegmentationMask]:
    """Overlapping, multi-label, empty and blob-shaped entries on an oblique anisotropic grid."""
    from tests.conftest import organ_masks

    masks = organ_masks(shape)
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape)
    blob = ((zz - 10) / 6.0) ** 2 + ((yy - 15) / 9.0) ** 2 + ((xx - 20) / 11.0) ** 2 < 1 + 0.1 * rng.random(shape)
    masks["blob"] = SegmentationMask(blob, {"blob": 1}, space=oblique_space(shape))
    with MaskArchive(path, "w", space=oblique_space(shape)) as archive:
        for name, m in masks.items():
            archive.add_segmask(m, name)
    return masks
