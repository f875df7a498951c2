"""Which scan an archive's masks were drawn on: a relative path plus a geometry fingerprint.

The masks of an archive are useless for review without the image they segment, and a
path alone is not enough: files get moved, re-exported or resampled. The reference
therefore stores where the image was (relative to the archive's folder, so a case folder
can be moved or copied as a whole) and what its grid was (shape, spacing, origin,
direction), so a viewer can tell "the scan is missing" from "this is not the scan".

Pure logic: no file is opened here. Reading an image header to build or check a
reference lives in :mod:`medmask.convert.image_io`.

    >>> ref = ImageReference.from_image("case/ct.nii.gz", ct_space, "case/organs.mska")
    >>> ref.path                       # 'ct.nii.gz'
    >>> ref.resolve("case/organs.mska")  # Path('case/ct.nii.gz')
    >>> ref.matches(space_of_the_file_found_there)
"""
from __future__ import annotations

import math
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, Mapping

import numpy as np
from spacetransformer import Space

from ..errors import FormatError, GeometryError

FINGERPRINT_KEYS = ("shape", "spacing", "origin", "direction")
# default tolerance: a tenth of the smallest voxel, the float noise of float32 NIfTI headers
# (TotalSegmentator's masks and CT differ by ~1e-4 mm) is far below it, a real shift is not
DEFAULT_VOXEL_FRACTION = 0.1


def fingerprint_of(space: Space) -> dict[str, Any]:
    """Plain-JSON geometry of ``space`` in medmask's array axis order (LPS, mm).

    ``direction[a]`` is the LPS unit vector of array axis ``a`` (spacetransformer's
    ``x|y|z_orientation`` for ``a = 0|1|2``).
    """
    return {
        "shape": [int(v) for v in space.shape],
        "spacing": [float(v) for v in space.spacing],
        "origin": [float(v) for v in space.origin],
        "direction": [[float(v) for v in o] for o in (space.x_orientation, space.y_orientation, space.z_orientation)],
    }


def space_of_fingerprint(fp: Mapping[str, Any]) -> Space:
    """The Space a fingerprint describes (inverse of :func:`fingerprint_of`)."""
    d = fp["direction"]
    return Space(shape=tuple(fp["shape"]), spacing=tuple(fp["spacing"]), origin=tuple(fp["origin"]),
                 x_orientation=tuple(d[0]), y_orientation=tuple(d[1]), z_orientation=tuple(d[2]))


def _archive_dir(archive_path: str | os.PathLike) -> str:
    return os.path.dirname(os.path.abspath(os.fspath(archive_path)))


def _path_from(archive_path: str | os.PathLike, image_path: str | os.PathLike) -> str:
    """POSIX path of ``image_path`` relative to the archive's folder (absolute if none exists)."""
    image = os.path.abspath(os.fspath(image_path))
    try:
        return Path(os.path.relpath(image, _archive_dir(archive_path))).as_posix()
    except ValueError:  # Windows: another drive, no relative path exists
        return Path(image).as_posix()


def _is_absolute(path: str) -> bool:
    return PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute()


@dataclass(frozen=True)
class ImageReference:
    """Where the scan of an archive's masks lies and which grid it has.

    ``path``: POSIX path relative to the archive's folder (absolute only when no relative
    path exists, e.g. another drive on Windows). ``fingerprint``: see :func:`fingerprint_of`.
    """

    path: str
    fingerprint: dict = field(hash=False)

    def __post_init__(self):
        _check_path(self.path)
        object.__setattr__(self, "fingerprint", _check_fingerprint(self.fingerprint))

    # building ------------------------------------------------------------------------------
    @classmethod
    def from_image(cls, image_path: str | os.PathLike, space: Space,
                   archive_path: str | os.PathLike) -> "ImageReference":
        """Reference to ``image_path`` (of geometry ``space``) as seen from ``archive_path``.

        Paths are made absolute against the current folder but symlinks are kept, so the
        reference follows the folder layout the user sees.
        """
        return cls(_path_from(archive_path, image_path), fingerprint_of(space))

    def relocated(self, old_archive: str | os.PathLike, new_archive: str | os.PathLike) -> "ImageReference":
        """The same image seen from an archive written elsewhere (a copy, an extract)."""
        return ImageReference(_path_from(new_archive, self.resolve(old_archive)), self.fingerprint)

    # using -----------------------------------------------------------------------------------
    def resolve(self, archive_path: str | os.PathLike) -> Path:
        """The image's path for an archive at ``archive_path`` (not checked for existence)."""
        if _is_absolute(self.path):
            return Path(self.path)
        return Path(os.path.normpath(os.path.join(_archive_dir(archive_path), *self.path.split("/"))))

    @property
    def space(self) -> Space:
        """The image's grid as a Space."""
        return space_of_fingerprint(self.fingerprint)

    def differences(self, space: Space, tol: float | None = None, *, ours: str = "the recorded") -> list[str]:
        """How ``space`` differs from the recorded grid, one sentence each; [] if it matches.

        ``tol``: largest allowed displacement in mm of any corner voxel between the two
        grids (default: a tenth of the smallest voxel spacing). The shape must be equal.
        ``ours`` names the recorded grid in the sentences.
        """
        fp = self.fingerprint
        other = fingerprint_of(space)
        if tol is None:
            tol = DEFAULT_VOXEL_FRACTION * min(min(fp["spacing"]), min(other["spacing"]))
        if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol >= 0):
            raise GeometryError(f"tolerance must be a finite number of mm >= 0, got {tol!r}")
        out: list[str] = []
        if fp["shape"] != other["shape"]:
            out.append(f"shape {other['shape']} instead of {fp['shape']}")
            # corners cannot be compared one to one; still say what else moved
        sp_a, sp_b = np.asarray(fp["spacing"]), np.asarray(other["spacing"])
        if not np.allclose(sp_a, sp_b, rtol=1e-4, atol=0):
            out.append(f"spacing {_fmt(sp_b)} mm instead of {_fmt(sp_a)} mm")
        shift = float(np.linalg.norm(np.asarray(fp["origin"]) - np.asarray(other["origin"])))
        if shift > tol:
            out.append(f"origin {_fmt(other['origin'])} is {shift:.3g} mm from {ours} {_fmt(fp['origin'])}")
        angles = [_angle_deg(a, b) for a, b in zip(fp["direction"], other["direction"])]
        if max(angles) > 1e-3:
            worst = int(np.argmax(angles))
            out.append(f"axis {worst} direction {_fmt(other['direction'][worst])} is {angles[worst]:.3g} deg "
                       f"from {ours} {_fmt(fp['direction'][worst])}")
        if fp["shape"] == other["shape"]:
            corner = _max_corner_distance(fp, other)
            if corner > tol:
                if not out:
                    out.append("the grids differ")
                out.append(f"corner voxels are up to {corner:.3g} mm apart (tolerance {tol:.3g} mm)")
            else:
                out = []  # within tolerance as a whole: per-field float noise is no difference
        return out

    def matches(self, space: Space, tol: float | None = None) -> bool:
        """True if ``space`` is the recorded grid within ``tol`` mm (see :meth:`differences`)."""
        return not self.differences(space, tol)

    def describe_mismatch(self, space: Space, tol: float | None = None) -> str:
        """One message for a user: '' when it matches."""
        diffs = self.differences(space, tol)
        return "; ".join(diffs)

    # JSON ------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "fingerprint": {k: self.fingerprint[k] for k in FINGERPRINT_KEYS}}

    @classmethod
    def from_json(cls, data: Any, path: str | os.PathLike | None = None) -> "ImageReference":
        """Parse a stored reference; FormatError (naming ``path``, the archive) if malformed.

        Keys this version does not know are ignored, so later versions can add some.
        """
        if not isinstance(data, dict):
            raise FormatError(f"image reference must be a JSON object, got {type(data).__name__}", path)
        try:
            return cls(data.get("path"), data.get("fingerprint"))
        except GeometryError as exc:
            raise FormatError(f"image reference: {exc.problem}", path) from None


def _fmt(values) -> str:
    return "[" + ", ".join(f"{float(v):.6g}" for v in values) + "]"


def _angle_deg(a, b) -> float:
    c = float(np.clip(np.dot(np.asarray(a, float), np.asarray(b, float)), -1.0, 1.0))
    return math.degrees(math.acos(c))


def _max_corner_distance(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    def affine(fp):
        cols = np.asarray(fp["direction"], float).T * np.asarray(fp["spacing"], float)
        return cols, np.asarray(fp["origin"], float)

    n = [s - 1 for s in a["shape"]]
    corners = np.array([[i, j, k] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])], float).T
    (ma, oa), (mb, ob) = affine(a), affine(b)
    return float(np.linalg.norm((ma @ corners + oa[:, None]) - (mb @ corners + ob[:, None]), axis=0).max())


def _check_path(path: Any) -> None:
    if not isinstance(path, str) or not path or "\x00" in path or len(path) > 4096:
        raise GeometryError(f"image path must be a non-empty string, got {path!r:.100}")
    if "\\" in path and not PureWindowsPath(path).is_absolute():
        raise GeometryError(f"image path must use '/' separators, got {path!r}")
    if posixpath.normpath(path) in (".", "/"):
        raise GeometryError(f"image path {path!r} names a folder, not a file")


def _numbers(value: Any, n: int, what: str, positive: bool = False, integer: bool = False) -> list:
    ok_type = (lambda v: isinstance(v, int) and not isinstance(v, bool)) if integer else \
        (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
    if (not isinstance(value, list) or len(value) != n or not all(ok_type(v) for v in value)
            or not all(math.isfinite(v) for v in value) or (positive and not all(v > 0 for v in value))):
        raise GeometryError(f"fingerprint {what} must be {n} {'positive ' if positive else ''}"
                            f"{'integers' if integer else 'finite numbers'}, got {value!r:.120}")
    return [int(v) for v in value] if integer else [float(v) for v in value]


def _check_fingerprint(fp: Any) -> dict[str, Any]:
    if not isinstance(fp, Mapping):
        raise GeometryError(f"fingerprint must be an object with {list(FINGERPRINT_KEYS)}, got {fp!r:.100}")
    missing = [k for k in FINGERPRINT_KEYS if k not in fp]
    if missing:
        raise GeometryError(f"fingerprint lacks {missing}")
    d = fp["direction"]
    if not isinstance(d, list) or len(d) != 3:
        raise GeometryError(f"fingerprint direction must be three 3-vectors, got {d!r:.120}")
    direction = [_numbers(v, 3, f"direction[{i}]") for i, v in enumerate(d)]
    m = np.asarray(direction)
    if np.abs(m @ m.T - np.eye(3)).max() > 1e-3:
        raise GeometryError(f"fingerprint direction {direction} is not three perpendicular unit vectors")
    return {
        "shape": _numbers(fp["shape"], 3, "shape", positive=True, integer=True),
        "spacing": _numbers(fp["spacing"], 3, "spacing", positive=True),
        "origin": _numbers(fp["origin"], 3, "origin"),
        "direction": direction,
    }


__all__ = ["ImageReference", "fingerprint_of", "space_of_fingerprint", "FINGERPRINT_KEYS"]
