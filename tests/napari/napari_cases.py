"""Synthetic scans with non-trivial geometry, written as NIfTI the way scanners and nibabel do."""
from __future__ import annotations

import numpy as np


def rotation(axis: int, degrees: float) -> np.ndarray:
    t = np.deg2rad(degrees)
    c, s = np.cos(t), np.sin(t)
    i, j = [a for a in range(3) if a != axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


# RAS affines (nibabel's convention) of three acquisitions: (name, 4x4 affine, shape i, j, k)
def _affine(directions: np.ndarray, spacing, origin) -> np.ndarray:
    a = np.eye(4)
    a[:3, :3] = directions * np.asarray(spacing, float)
    a[:3, 3] = origin
    return a


CASES = {
    # 18 degrees about the head-foot axis, then 7 about left-right: a real oblique
    "oblique": (_affine(rotation(2, 18.0) @ rotation(0, 7.0), (0.9, 1.1, 2.5), (-80.0, 60.5, -40.25)), (40, 36, 24)),
    # axial with flipped rows and slices (LAS-like storage, slices head to foot)
    "flipped": (_affine(np.diag([1.0, -1.0, -1.0]), (1.2, 0.8, 3.0), (20.0, 90.0, 110.0)), (30, 44, 20)),
    # sagittal acquisition: i runs posterior->anterior, j foot->head, k right->left
    "sagittal": (_affine(np.array([[0, 0, -1.0], [1.0, 0, 0], [0, 1.0, 0]]), (0.7, 0.9, 1.6), (45.0, -70.0, -30.0)),
                 (48, 40, 22)),
}


def write_case(folder, name: str):
    """Writes <name>_ct.nii.gz (int16 HU, one bright marker voxel) and <name>_mask.nii.gz (marker = 1).

    Returns (image path, mask path, marker index (i, j, k) in nibabel order, RAS affine).
    """
    import nibabel as nib

    affine, shape = CASES[name]
    ct = np.full(shape, -1000, np.int16)
    ct[4:-4, 4:-4, 3:-3] = 40  # soft tissue body
    marker = (shape[0] // 3, shape[1] // 2 + 1, shape[2] // 3 + 1)
    ct[marker] = 1500
    mask = np.zeros(shape, np.uint8)
    mask[marker] = 1
    img, msk = folder / f"{name}_ct.nii.gz", folder / f"{name}_mask.nii.gz"
    nib.save(nib.Nifti1Image(ct, affine), str(img))
    nib.save(nib.Nifti1Image(mask, affine), str(msk))
    return img, msk, marker, affine


def ras_to_lps(p) -> np.ndarray:
    p = np.asarray(p, float)
    return np.array([-p[0], -p[1], p[2]])
