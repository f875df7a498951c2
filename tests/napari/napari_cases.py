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


# The orientation phantom: a body you can tell from its mirror image -----------------------------
# Parts in patient LPS millimetres relative to the body centre (x left+, y posterior+, z superior+),
# half-open boxes (lo, hi) per LPS axis.
BODY = ((-60.0, 60.0), (-40.0, 40.0), (-60.0, 60.0))
PARTS = {
    # on the anterior surface, over the patient's RIGHT half only (x < 0)
    "plate_anterior_right": ((-58.0, -8.0), (-46.0, -34.0), (-50.0, 40.0)),
    # on the posterior surface, a central bar (the spine)
    "plate_posterior": ((-12.0, 12.0), (34.0, 46.0), (-50.0, 40.0)),
    # above the head end, centred
    "marker_superior": ((-12.0, 12.0), (-12.0, 12.0), (48.0, 66.0)),
}
# pure colours, so a screenshot tells the parts apart whatever the shading
PART_COLOURS = {"plate_anterior_right": (1.0, 0.0, 0.0, 1.0), "plate_posterior": (0.0, 1.0, 0.0, 1.0),
                "marker_superior": (0.0, 0.0, 1.0, 1.0)}
PHANTOM_CENTRE = np.array([14.0, -30.0, 120.0])  # LPS mm (an off-centre body: origins matter)


def _lps_grid(directions, spacing):
    """(direction matrix LPS, spacing, shape, origin) of a grid covering the phantom with a margin."""
    d = np.asarray(directions, float)
    spacing = np.asarray(spacing, float)
    lo = np.array([b[0] for b in BODY]) - 12.0
    hi = np.array([b[1] for b in BODY]) + 12.0
    corners = np.array([[a, b, c] for a in (lo[0], hi[0]) for b in (lo[1], hi[1]) for c in (lo[2], hi[2])])
    along = corners @ d  # coordinate of each corner along each grid axis
    start, stop = along.min(axis=0), along.max(axis=0)
    shape = tuple(int(np.ceil((b - a) / s)) + 1 for a, b, s in zip(start, stop, spacing))
    origin = PHANTOM_CENTRE + d @ start
    return d, spacing, shape, origin


# Grids (LPS directions of nibabel's i, j, k): every way a scanner or a converter stores a body
PHANTOM_GRIDS = {
    "axial": (np.eye(3), (2.0, 2.5, 4.0)),                                    # i->L, j->P, k->S
    "flipped": (np.diag([-1.0, -1.0, -1.0]), (2.0, 2.5, 4.0)),                # i->R, j->A, k->I (head first)
    "sagittal": (np.array([[0, 0, 1.0], [-1.0, 0, 0], [0, 1.0, 0]]), (2.5, 3.0, 4.0)),  # i->A, j->S, k->L
    "coronal": (np.array([[1.0, 0, 0], [0, 0, -1.0], [0, -1.0, 0]]), (2.0, 3.0, 4.0)),  # i->L, j->I, k->A
    "oblique": (rotation(2, 18.0) @ rotation(0, 7.0), (2.0, 2.5, 4.0)),
}


def write_phantom_case(folder, grid: str):
    """``<folder>/<grid>/ct.nii.gz`` (body 40 HU, parts 300 HU, air -1000) and ``segmentations/<part>.nii.gz``.

    Every voxel takes the value of the phantom at its centre, so any grid shows the same body.
    Returns (scan path, segmentations folder, {part: LPS centre of the part in mm}).
    """
    import nibabel as nib

    d, spacing, shape, origin = _lps_grid(*PHANTOM_GRIDS[grid])
    idx = np.indices(shape, dtype=float).reshape(3, -1).T
    world = origin + (idx * spacing) @ d.T  # LPS of every voxel centre
    rel = world - PHANTOM_CENTRE

    def inside(box):
        return np.all([(rel[:, a] >= box[a][0]) & (rel[:, a] < box[a][1]) for a in range(3)], axis=0).reshape(shape)

    ct = np.full(shape, -1000, np.int16)
    ct[inside(BODY)] = 40
    affine = np.eye(4)
    affine[:3, :3] = np.diag([-1.0, -1.0, 1.0]) @ d * spacing  # nibabel wants RAS
    affine[:3, 3] = ras_to_lps(origin)
    case = folder / grid
    seg = case / "segmentations"
    seg.mkdir(parents=True)
    centres = {}
    for name, box in PARTS.items():
        part = inside(box)
        assert part.any(), (grid, name)
        ct[part] = 300
        nib.save(nib.Nifti1Image(part.astype(np.uint8), affine), str(seg / f"{name}.nii.gz"))
        centres[name] = PHANTOM_CENTRE + np.array([(a + b) / 2 for a, b in box])
    scan = case / "ct.nii.gz"
    nib.save(nib.Nifti1Image(ct, affine), str(scan))
    return scan, seg, centres


def write_phantom_archive(folder, grid: str):
    """:func:`write_phantom_case` archived like the CLI does (recording the scan), parts in PART_COLOURS.

    Returns (scan path, archive path).
    """
    from medmask import MaskArchive
    from medmask.convert import convert

    scan, seg, _ = write_phantom_case(folder, grid)
    archive = convert(seg, seg.parent / "phantom.mska", image=scan)
    with MaskArchive(archive, "a") as a:
        for name in a.all_names():
            (label,) = a.entry_info(name).mapping
            a.set_attributes(name, colors={label: PART_COLOURS[name]})
    return scan, archive
