"""Helpers for the interop tests: synthetic NIfTI cases with oblique / flipped affines and non-cubic shapes."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
TOTALSEG = REPO.parent / "shared/data/totalseg_s0000"


def rotation(ax: float, ay: float, az: float) -> np.ndarray:
    cx, sx, cy, sy, cz, sz = np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay), np.cos(az), np.sin(az)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


def make_affine(kind: str) -> np.ndarray:
    """RAS affines: 'plain', 'oblique' (rotated, anisotropic), 'flipped' (axes reversed, left-handed)."""
    aff = np.eye(4)
    if kind == "plain":
        aff[:3, :3] = np.diag([0.8, 0.9, 2.5])
        aff[:3, 3] = [-100.5, 20.25, 7.0]
    elif kind == "oblique":
        aff[:3, :3] = rotation(0.3, -0.2, 0.7) @ np.diag([0.7, 1.1, 3.0])
        aff[:3, 3] = [12.5, -230.75, 81.125]
    elif kind == "flipped":
        aff[:3, :3] = rotation(0.1, 0.05, -0.4) @ np.diag([-1.25, 0.6, -2.0])
        aff[:3, 3] = [150.0, 99.5, -40.25]
    elif kind == "permuted":  # array axes not aligned with x, y, z in order (e.g. a sagittal scan)
        aff[:3, :3] = np.array([[0, 0, -1.5], [0.75, 0, 0], [0, -0.8, 0]])
        aff[:3, 3] = [30.0, -60.0, 90.0]
    else:
        raise ValueError(kind)
    return aff


SHAPE_IJK = (13, 17, 11)  # non-cubic: a swapped axis cannot go unnoticed


def blob(shape, center, radius) -> np.ndarray:
    idx = np.indices(shape).astype(float)
    d = sum(((idx[a] - center[a]) / radius[a]) ** 2 for a in range(3))
    return d <= 1.0


def write_case(folder: Path, kind: str = "oblique", *, with_empty: bool = True, dtype=np.uint8,
               shape=SHAPE_IJK, sform_code: int = 1, qform_code: int = 1) -> dict[str, np.ndarray]:
    """A folder of binary NIfTI masks (nibabel i,j,k arrays); returns name -> array."""
    folder.mkdir(parents=True, exist_ok=True)
    aff = make_affine(kind)
    arrays = {
        "liver": blob(shape, (4, 5, 3), (3, 4, 2.5)),
        "spleen": blob(shape, (9, 12, 7), (2.5, 3, 2)),
        "tumor": blob(shape, (4, 6, 3), (1.5, 1.5, 1.2)),  # overlaps liver
    }
    if with_empty:
        arrays["empty_organ"] = np.zeros(shape, bool)
    for name, arr in arrays.items():
        img = nib.Nifti1Image(arr.astype(dtype), aff)
        img.header.set_data_dtype(dtype)
        img.set_sform(aff, code=sform_code)
        img.set_qform(aff, code=qform_code)
        nib.save(img, str(folder / f"{name}.nii.gz"))
    return arrays


def write_multilabel(path: Path, kind: str = "oblique", dtype=np.int16, names: dict | None = None,
                     shape=SHAPE_IJK) -> np.ndarray:
    aff = make_affine(kind)
    data = np.zeros(shape, dtype=dtype)
    data[blob(shape, (4, 5, 3), (3, 4, 2.5))] = 1
    data[blob(shape, (9, 12, 7), (2.5, 3, 2))] = 3
    data[0, 0, 0] = 7
    img = nib.Nifti1Image(data, aff)
    img.header.set_data_dtype(dtype)
    if names:
        from medmask.convert.nifti_label_table import label_table_extension

        img.header.extensions.append(label_table_extension(names))
    nib.save(img, str(path))
    return data


