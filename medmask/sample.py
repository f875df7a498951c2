"""Sample data: a real CT with its organs (bundled), and a deterministic synthetic phantom.

    >>> ct_path, archive_path = aorta_case()          # real TotalSegmentator case, see below

The real case (``medmask/data/totalseg_aorta/``, Apache-2.0, TotalSegmentator: see the
README.md next to it) is a contrast CT of the heart and aorta, 120 x 126 x 164 voxels of
1.5 mm, int16 HU, stored as ``ct.nrrd`` with exactly the voxels and geometry of the
original ``ct.nii.gz``; ``organs.mska`` holds its 18 TotalSegmentator masks (aorta, its
true and false lumens, ``organ_aorta_T264`` overlap; three entries are empty) and records
``ct.nrrd`` as their scan.

The phantom: a dozen organs, twelve ribs and group entries.

Pure numpy (no Qt, no randomness): the same shape always gives byte-identical
arrays. The geometry is deliberately non-trivial so viewers and converters get
exercised: anisotropic spacing, a non-zero origin and a flipped slice axis
(array axis 0 runs from head to feet, i.e. towards -z in LPS).

    >>> masks = make_phantom()                        # dict name -> SegmentationMask
    >>> masks = make_phantom("phantom.mska")          # also writes an archive

Entries: liver, spleen, kidney_left/right, lung_left/right, heart, aorta,
rib_left_1..6, rib_right_1..6 (one label each), plus the overlapping multi-label
group entries ribs_left, ribs_right and ribs_all (one label per rib).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
from spacetransformer import Space

from .core.colors import color_for

AORTA_DIR = "totalseg_aorta"
AORTA_FILES = {"ct": "ct.nrrd", "archive": "organs.mska", "readme": "README.md"}


def aorta_case() -> tuple[str, str]:
    """(CT path, archive path) of the bundled real case; read-only files inside the package.

    The archive's ``image_reference`` resolves to the CT. Copy both files (keeping their
    names, side by side) before editing the archive.
    """
    from pathlib import Path

    from .errors import MedMaskError

    folder = Path(__file__).resolve().parent / "data" / AORTA_DIR
    ct, archive = folder / AORTA_FILES["ct"], folder / AORTA_FILES["archive"]
    missing = [p.name for p in (ct, archive) if not p.is_file()]
    if missing:
        raise MedMaskError(f"the sample data {missing} is not installed (package data missing from this "
                           f"installation of medmask)", folder)
    return str(ct), str(archive)

# physical extent (mm) along array axes z, y, x; spacing = extent / shape
EXTENT_MM = (240.0, 160.0, 224.0)
DEFAULT_SHAPE = (96, 128, 128)
ORIGIN = (-111.125, -95.5, 180.25)  # LPS mm of voxel (0, 0, 0): head end, right, anterior
N_RIBS = 6
PHANTOM_VERSION = 2  # bump when the shapes change

ORGANS = ("liver", "spleen", "kidney_left", "kidney_right", "lung_left", "lung_right", "heart", "aorta")
RIBS = tuple(f"rib_{side}_{k}" for side in ("left", "right") for k in range(1, N_RIBS + 1))
GROUPS = ("ribs_left", "ribs_right", "ribs_all")
ENTRY_NAMES = ORGANS + RIBS + GROUPS


def phantom_space(shape: Sequence[int] = DEFAULT_SHAPE) -> Space:
    """Space of the phantom, in array axis order (z, y, x).

    Axis 0 points to -z (feet), axis 1 to +y (posterior), axis 2 to +x (left).
    """
    shape = tuple(int(v) for v in shape)
    if len(shape) != 3 or min(shape) < 8:
        raise ValueError(f"phantom shape must be three sizes >= 8, got {shape}")
    spacing = tuple(e / n for e, n in zip(EXTENT_MM, shape))
    return Space(
        shape=shape,
        origin=ORIGIN,
        spacing=spacing,
        x_orientation=(0.0, 0.0, -1.0),
        y_orientation=(0.0, 1.0, 0.0),
        z_orientation=(1.0, 0.0, 0.0),
    )


def _patient_coords(space: Space):
    """Per-axis coordinates (mm) relative to the volume centre: left+, posterior+, superior+."""
    nz, ny, nx = space.shape
    sz, sy, sx = space.spacing
    z = (np.arange(nz, dtype=np.float32) - (nz - 1) / 2) * -sz  # axis 0 goes to the feet
    y = (np.arange(ny, dtype=np.float32) - (ny - 1) / 2) * sy
    x = (np.arange(nx, dtype=np.float32) - (nx - 1) / 2) * sx
    return z[:, None, None], y[None, :, None], x[None, None, :]


def _ellipsoid(c, center, radii) -> np.ndarray:
    z, y, x = c
    (cx, cy, cz), (rx, ry, rz) = center, radii
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2 <= 1.0


def phantom_arrays(shape: Sequence[int] = DEFAULT_SHAPE) -> dict[str, np.ndarray]:
    """Boolean array per organ/rib (no group entries), in array axis order."""
    space = phantom_space(shape)
    c = _patient_coords(space)
    z, y, x = c
    out: dict[str, np.ndarray] = {}
    heart = _ellipsoid(c, (15, -8, 12), (38, 32, 34))
    lung_r = _ellipsoid(c, (-50, 8, 45), (40, 52, 58)) & ~heart
    lung_l = _ellipsoid(c, (50, 8, 45), (37, 52, 58)) & ~heart
    liver = _ellipsoid(c, (-42, 2, -38), (55, 52, 34)) & ~lung_r & ~heart
    liver &= ~_ellipsoid(c, (-20, -40, -60), (30, 20, 25))  # a notch, so it is not a plain ellipsoid
    spleen = _ellipsoid(c, (66, 20, -30), (17, 28, 24)) & ~lung_l
    kidney_l = _ellipsoid(c, (46, 24, -72), (15, 17, 30))
    kidney_r = _ellipsoid(c, (-46, 24, -80), (15, 17, 30)) & ~liver
    aorta = (((x - 10) / 9) ** 2 + ((y - 18) / 9) ** 2 <= 1.0) & (z > -105) & (z < 60) & ~heart
    out.update(liver=liver, spleen=spleen, kidney_left=kidney_l, kidney_right=kidney_r,
               lung_left=lung_l, lung_right=lung_r, heart=heart, aorta=aorta)
    # ribs: elliptic shells around the trunk, sloping down towards the front
    radial = np.sqrt((x / 96.0) ** 2 + ((y - 4) / 70.0) ** 2)
    shell = np.abs(radial - 1.0) < 0.055
    for side, sign in (("left", 1.0), ("right", -1.0)):
        lateral = (x * sign) > 12
        for k in range(1, N_RIBS + 1):
            level = 78.0 - 24.0 * k + 0.18 * y  # higher at the back (y>0), lower in front
            out[f"rib_{side}_{k}"] = shell & lateral & (np.abs(z - level) < 4.5)
    # everything on the same broadcast shape
    full = tuple(int(v) for v in space.shape)
    return {k: np.broadcast_to(v, full).copy() for k, v in out.items()}


def make_phantom(path: str | os.PathLike | None = None, shape: Sequence[int] = DEFAULT_SHAPE):
    """Build the phantom; returns {entry name: SegmentationMask}; writes an archive if ``path``.

    Single organs/ribs are uint8 masks with one label (named like the entry);
    ``ribs_left``/``ribs_right``/``ribs_all`` carry one label per rib and overlap them.
    """
    from .core.segmask import SegmentationMask

    space = phantom_space(shape)
    arrays = phantom_arrays(shape)
    meta = {"source": "medmask synthetic phantom", "phantom_version": PHANTOM_VERSION}
    masks: dict[str, SegmentationMask] = {}
    for name, arr in arrays.items():
        masks[name] = SegmentationMask(arr.astype(np.uint8), {name: 1}, space=space,
                                       colors={name: color_for(name)}, metadata=dict(meta))
    groups = {
        "ribs_left": [r for r in RIBS if "_left_" in r],
        "ribs_right": [r for r in RIBS if "_right_" in r],
        "ribs_all": list(RIBS),
    }
    for gname, members in groups.items():
        arr = np.zeros(tuple(space.shape), dtype=np.uint8)
        mapping = {}
        for label, member in enumerate(members, start=1):
            arr[arrays[member]] = label
            mapping[member] = label
        masks[gname] = SegmentationMask(arr, mapping, space=space, colors={m: color_for(m) for m in members},
                                        metadata={**meta, "group": True})
    masks = {name: masks[name] for name in ENTRY_NAMES}
    if path is not None:
        write_phantom(masks, path)
    return masks


def write_phantom(masks, path: str | os.PathLike) -> str:
    """Write ``masks`` (from make_phantom) as an archive at ``path``; returns the path."""
    from medmask import MaskArchive  # deferred: the arrays themselves need no storage code

    path = os.fspath(path)
    space = next(iter(masks.values())).space
    with MaskArchive(path, mode="w", space=space) as archive:
        for name, mask in masks.items():
            archive.add_segmask(mask, name)
    return path


__all__ = ["aorta_case", "AORTA_DIR", "AORTA_FILES", "make_phantom", "phantom_arrays", "phantom_space", "write_phantom", "ENTRY_NAMES",
           "ORGANS", "RIBS", "GROUPS", "PHANTOM_VERSION"]


def aorta_queue(folder: str | os.PathLike, n: int = 5) -> list[str]:
    """``n`` copies of the real case, ``folder/case_001/organs.mska`` (+ its ``ct.nrrd``) ...: a small
    review queue to try ``medmask review`` on. Existing copies are kept (their decisions too)."""
    import shutil
    from pathlib import Path

    from .storage.atomic import atomic_write

    ct, archive = aorta_case()
    out = []
    for i in range(1, n + 1):
        case = Path(folder) / f"case_{i:03d}"
        case.mkdir(parents=True, exist_ok=True)
        for src in (ct, archive):
            dst = case / os.path.basename(src)
            if not dst.exists():
                with open(src, "rb") as fin, atomic_write(dst) as fout:
                    shutil.copyfileobj(fin, fout)
        out.append(str(case / os.path.basename(archive)))
    return out
