"""The display frame: where a voxel of any volume lands in napari's world (no napari, no Qt).

napari slices oblique affines incompletely in 2D, so no layer ever gets a rotation. Instead the
viewer shows a *rotated copy of patient space*:

* A frame is a rotation ``R`` (3x3, orthonormal). Its column ``j`` is the LPS direction of napari
  world axis ``j``. A patient point ``w`` (LPS mm) is shown at ``d = R.T @ w`` and the point under
  the cursor ``d`` is at ``w = R @ d``. No origin is subtracted, so the frame depends on the
  rotation only: volumes that share a rotation share a frame, whatever their origin or crop.
* A volume's own frame (:func:`frame_for`) is its direction matrix with the columns re-ordered and
  re-signed so that world axis 0 points (mostly) inferior, 1 posterior and 2 left (napari axis 0 is
  the slider of the default axial view, head to foot), and ``det R = +1``. For an axis-aligned scan
  napari world coordinates are LPS millimetres ``(-z, y, x)``. The order is right-handed
  (I x P = L), as napari draws its axes in 3D, so the 3D view is the patient, not a mirror image;
  and with napari's default camera the 2D views read like a radiology viewer: axial anterior up and
  the patient's right on the screen's left, coronal superior up, sagittal superior up and anterior
  on the left (dims order (0, 1, 2), (1, 0, 2), (2, 0, 1)).
* A volume is placed in a frame (:func:`placement`) with a transpose of its array axes (a view, no
  copy), a diagonal scale (negative for an axis that runs backwards) and a translate: exact,
  because ``R.T @ D`` is then a signed permutation. A flipped, sagittally or coronally acquired
  grid of the same rotation lands on the same frame. Only a volume that is really rotated against
  the frame (another obliquity) cannot be placed this way (:attr:`Placement.exact` is False); the
  dock then resamples it onto an axis-aligned grid of the frame (:func:`resample_nearest`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from medmask.core.geometry import direction_matrix

__all__ = ["Placement", "TARGETS", "frame_for", "placement", "display_to_patient", "patient_to_display",
           "format_patient", "same_frame", "resample_nearest", "CONVENTIONS"]

CONVENTIONS = ("LPS", "RAS")
# a diagonal placement is exact when the rotation left over moves no voxel of the volume by more
# than this fraction of its smallest spacing (float32 NIfTI headers round directions at ~1e-7)
EXACT_FRACTION = 0.01


@dataclass(frozen=True)
class Placement:
    """How a volume's array is shown in a frame: ``np.transpose(array, axes)`` then scale/translate."""

    axes: tuple[int, int, int]  # layer axis j is array axis axes[j]
    scale: tuple[float, float, float]
    translate: tuple[float, float, float]
    exact: bool  # False: the volume is rotated against the frame, a diagonal placement would be wrong
    error_mm: float  # largest displacement of a voxel of the volume by the diagonal approximation

    def layer_array(self, array: np.ndarray) -> np.ndarray:
        """The array as the layer holds it (a view)."""
        return array if self.axes == (0, 1, 2) else np.transpose(array, self.axes)

    def array_from_layer(self, data: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`layer_array` (a view)."""
        return data if self.axes == (0, 1, 2) else np.transpose(data, np.argsort(self.axes))

    def to_json(self) -> dict:
        return {"axes": list(self.axes), "scale": list(self.scale), "translate": list(self.translate),
                "exact": self.exact}


# world axis j of a frame points (mostly) along TARGETS[j]: inferior, posterior, left (LPS vectors).
# (I, P, L) is right-handed, I x P = L, as napari's 3D view draws its three axes; (S, P, L) would
# show the patient's mirror image in 3D. The 2D views read like a radiology viewer with napari's
# default camera: axial anterior up and patient right on the left, coronal and sagittal superior
# up, sagittal anterior on the left.
TARGETS = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def _assign(d: np.ndarray) -> list[tuple[int, float]]:
    """For world axes I, P, L: (array axis, sign) pointing most along it, the three right-handed.

    I and P take the array axes closest to them; L is the axis left, signed so that I x P = L
    (for any grid that is also the sign that points it left: handedness decides, not a rounding).
    """
    out: list[tuple[int, float]] = []
    used: set[int] = set()
    for target in TARGETS[:2]:
        along = target @ d  # cosine of each array axis with the target direction
        order = np.argsort(-np.abs(along), kind="stable")
        i = int(next(a for a in order if int(a) not in used))
        used.add(i)
        out.append((i, -1.0 if along[i] < 0 else 1.0))
    (i0, s0), (i1, s1) = out
    i2 = ({0, 1, 2} - used).pop()
    out.append((i2, 1.0 if np.linalg.det(np.column_stack([s0 * d[:, i0], s1 * d[:, i1], d[:, i2]])) > 0 else -1.0))
    return out


def frame_for(space) -> np.ndarray:
    """The frame a volume defines: its axes re-ordered (I, P, L first), re-signed, right-handed."""
    d = direction_matrix(space)
    r = np.empty((3, 3))
    for j, (i, sign) in enumerate(_assign(d)):
        r[:, j] = sign * d[:, i] + 0.0  # + 0.0: no -0.0 in the metadata
    return r


def same_frame(a, b, tol: float = 1e-6) -> bool:
    return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), atol=tol))


def placement(space, frame) -> Placement:
    """Transpose, scale and translate that put ``space``'s voxels at their patient position in ``frame``."""
    r = np.asarray(frame, dtype=float)
    d = direction_matrix(space)
    m = r.T @ d  # column i: array axis i in frame coordinates
    spacing = np.asarray(space.spacing, dtype=float)
    origin = np.asarray(space.origin, dtype=float)
    axes, scale = [], []
    used: set[int] = set()
    for j in range(3):
        order = np.argsort(-np.abs(m[j]), kind="stable")
        i = int(next(a for a in order if int(a) not in used))
        used.add(i)
        axes.append(i)
        scale.append(float(spacing[i]) * (-1.0 if m[j, i] < 0 else 1.0))
    approx = np.zeros((3, 3))
    for j, i in enumerate(axes):
        approx[j, i] = 1.0 if scale[j] > 0 else -1.0
    # displacement of the far corner of the volume under the diagonal approximation
    extent = spacing * (np.asarray(space.shape, dtype=float) - 1)
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], float) * extent
    error = float(np.max(np.linalg.norm(corners @ (m - approx).T, axis=1)))
    translate = tuple(float(v) for v in r.T @ origin)
    exact = error <= EXACT_FRACTION * float(spacing.min())
    return Placement(tuple(axes), tuple(scale), translate, exact, error)  # type: ignore[arg-type]


def display_to_patient(point: Sequence[float], frame, convention: str = "LPS") -> np.ndarray:
    """Patient coordinate (mm, ``convention`` LPS or RAS) of a napari world point."""
    w = np.asarray(frame, dtype=float) @ np.asarray(point, dtype=float)[-3:]
    return _convert(w, convention)


def patient_to_display(point: Sequence[float], frame, convention: str = "LPS") -> np.ndarray:
    w = _convert(np.asarray(point, dtype=float), convention)  # RAS <-> LPS is its own inverse
    return np.asarray(frame, dtype=float).T @ w


def _convert(w: np.ndarray, convention: str) -> np.ndarray:
    if convention not in CONVENTIONS:
        raise ValueError(f"patient coordinate convention must be one of {CONVENTIONS}, got {convention!r}")
    return w * np.array([-1.0, -1.0, 1.0]) if convention == "RAS" else w


def format_patient(point: Sequence[float], convention: str = "LPS") -> str:
    """``LPS (12.3, -45.0, 100.5) mm``: the convention's letters name the positive directions."""
    return f"{convention} ({', '.join(f'{v:.1f}' for v in point)}) mm"


def resample_nearest(array: np.ndarray, space, frame, *, fill=0) -> tuple[np.ndarray, Placement, object]:
    """``array`` on an axis-aligned grid of ``frame`` covering it (nearest neighbour; a rotated volume).

    The new grid has the volume's smallest spacing on every axis, so no voxel centre of the result is
    more than half a voxel of the source away from the source voxel it takes its value from.
    Returns (new array, its exact placement in ``frame``, its Space). Works slab by slab: memory is
    the output plus one slab of coordinates.
    """
    from spacetransformer import Space

    r = np.asarray(frame, dtype=float)
    d = direction_matrix(space)
    spacing = np.asarray(space.spacing, dtype=float)
    origin = np.asarray(space.origin, dtype=float)
    shape = np.asarray(space.shape, dtype=float)
    corners = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], float) * (shape - 1)
    world = origin + (corners * spacing) @ d.T
    disp = world @ r  # frame coordinates of the corners
    step = float(spacing.min())
    lo, hi = disp.min(axis=0), disp.max(axis=0)
    out_shape = tuple(int(np.floor((h - l) / step + 1e-6)) + 1 for l, h in zip(lo, hi))
    out = np.full(out_shape, fill, dtype=array.dtype)
    to_index = np.linalg.inv(d * spacing)  # world offset -> source index
    jj, kk = np.meshgrid(np.arange(out_shape[1]), np.arange(out_shape[2]), indexing="ij")
    plane = np.stack([np.zeros_like(jj, float), jj * step, kk * step], axis=-1) + lo
    for i in range(out_shape[0]):
        pts = plane.copy()
        pts[..., 0] = lo[0] + i * step
        src = (pts @ r.T - origin) @ to_index.T
        idx = np.rint(src).astype(np.int64)
        ok = np.all((idx >= 0) & (idx < shape.astype(np.int64)), axis=-1)
        if ok.any():
            sel = idx[ok]
            out[i][ok] = array[sel[:, 0], sel[:, 1], sel[:, 2]]
    new_origin = r @ lo
    new_space = Space(shape=out_shape, origin=tuple(float(v) for v in new_origin), spacing=(step, step, step),
                      x_orientation=tuple(float(v) for v in r[:, 0]), y_orientation=tuple(float(v) for v in r[:, 1]),
                      z_orientation=tuple(float(v) for v in r[:, 2]))
    return out, placement(new_space, r), new_space
