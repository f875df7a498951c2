"""Read a DICOM image series (a folder, or one file of it) into medmask's array order and Space.

Convention (the same as :func:`medmask.convert.image_io.read_image`): the array is
``(slice, row, column)``; array axis 0 runs along the slice normal
``row_cosines x column_cosines`` in increasing position, axis 1 along the column
direction cosines ``ImageOrientationPatient[3:6]`` (down the rows, spacing
``PixelSpacing[0]``), axis 2 along the row direction cosines
``ImageOrientationPatient[0:3]`` (spacing ``PixelSpacing[1]``); ``origin`` is the
``ImagePositionPatient`` of the first slice. DICOM patient coordinates are LPS, like medmask's.

pydicom reads the files; compressed pixel data (JPEG 2000, JPEG-LS...) needs its
decoder plugins (``pip install medmask[dicom]`` brings pylibjpeg with openjpeg).
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from spacetransformer import Space

from ..errors import ConversionError
from ._file_errors import check_regular_file, check_scan_folder

# slice positions may deviate from a regular lattice by this fraction of the slice spacing
SLICE_SPACING_TOL = 0.01
# |difference| of direction cosines between slices that still counts as the same orientation
ORIENTATION_TOL = 1e-4


def _pydicom():
    try:
        import pydicom
    except ImportError:  # pragma: no cover - the dicom extra is missing
        raise ConversionError("reading DICOM needs pydicom: pip install 'medmask[dicom]'") from None
    return pydicom


@dataclass
class DicomSeries:
    """The headers of one image series, sorted by slice position, and its Space."""

    files: list[Path]
    datasets: list[Any]  # pydicom Datasets without pixel data, same order as ``files``
    space: Space
    folder: Path
    series_instance_uid: str
    description: str = ""
    modality: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def sop_instance_uids(self) -> list[str]:
        return [str(ds.get("SOPInstanceUID", "") or "") for ds in self.datasets]

    def read_pixels(self) -> np.ndarray:
        """The voxel values (modality LUT applied: Hounsfield units for CT), shape ``space.shape``."""
        return _read_pixels(self)


def is_dicom_file(path: str | os.PathLike) -> bool:
    """True when ``path`` starts like a DICOM Part 10 file (preamble + ``DICM``)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a device never end
            return False
        with open(path, "rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _candidate_files(folder: Path) -> list[Path]:
    out = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name.upper() == "DICOMDIR":
            continue
        if entry.is_file() and is_dicom_file(entry.path):
            out.append(Path(entry.path))
    return out


def _read_header(path: Path):
    pydicom = _pydicom()
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:  # InvalidDicomError, truncated files...
        raise ConversionError(f"not a readable DICOM file ({exc})", path) from None


def _floats(ds, keyword: str, n: int, path) -> np.ndarray:
    value = ds.get(keyword)
    try:
        arr = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        raise ConversionError(f"{keyword} is missing or not numeric ({value!r})", path) from None
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise ConversionError(f"{keyword} must be {n} finite numbers, got {value!r}", path)
    return arr


def read_dicom_series_header(path: str | os.PathLike) -> DicomSeries:
    """Headers and geometry of the series in folder ``path``, or of the series file ``path`` belongs to.

    A folder holding several series is refused (the message lists them): pass one file
    of the wanted series instead. Non-DICOM files in the folder are ignored.
    """
    path = Path(path)
    if not path.exists():
        raise ConversionError("no such file or folder", path)
    wanted_uid = None
    if path.is_dir():
        check_scan_folder(path)  # not /proc or /sys
        folder = path
    else:
        check_regular_file(path, "a DICOM file")
        first = _read_header(path)
        wanted_uid = str(first.get("SeriesInstanceUID", "") or "")
        folder = path.parent
        if int(first.get("NumberOfFrames", 1) or 1) > 1:
            raise ConversionError("multi-frame (enhanced) images are not supported yet; export the series "
                                  "as one file per slice", path)
    files = _candidate_files(folder)
    if not files:
        raise ConversionError("holds no DICOM files", folder)
    by_series: dict[str, list[tuple[Path, Any]]] = {}
    for f in files:
        ds = _read_header(f)
        if "ImagePositionPatient" not in ds:
            continue  # SEG, SR, presentation states...: not slices of an image series
        by_series.setdefault(str(ds.get("SeriesInstanceUID", "") or ""), []).append((f, ds))
    if wanted_uid is not None:
        if wanted_uid not in by_series:
            raise ConversionError("is not a slice of an image series (no ImagePositionPatient)", path)
        members = by_series[wanted_uid]
    else:
        if not by_series:
            raise ConversionError("holds no image slices (no file has an ImagePositionPatient)", folder)
        if len(by_series) > 1:
            desc = "; ".join(
                f"{uid or '<no SeriesInstanceUID>'} ({len(m)} files, "
                f"{str(m[0][1].get('SeriesDescription', '') or '').strip() or 'no description'})"
                for uid, m in by_series.items())
            raise ConversionError(f"holds {len(by_series)} series: {desc}; pass one file of the series you want",
                                  folder)
        members = next(iter(by_series.values()))
    return _assemble(members, folder, wanted_uid or next(iter(by_series)))


def check_grid_size(shape: tuple[int, ...], itemsize: int, what: str, path) -> None:
    """ConversionError/LimitError naming ``path`` before a grid of ``shape`` is allocated: a header's
    Rows/Columns or a frame's position must not decide alone how much memory is taken."""
    from .. import limits

    n = int(np.prod(np.asarray(shape, dtype=object)))  # Python ints: no overflow
    if n > limits.MAX_VOXELS:
        raise ConversionError(f"{what} of shape {tuple(int(v) for v in shape)} has {n} voxels, more than the limit "
                              f"{limits.MAX_VOXELS} (medmask.limits.MAX_VOXELS)", path)
    limits.check_allocation(n * itemsize, f"the {tuple(int(v) for v in shape)} {what}", path)


def _assemble(members: list[tuple[Path, Any]], folder: Path, uid: str) -> DicomSeries:
    first_path, first = members[0]
    iop0 = _floats(first, "ImageOrientationPatient", 6, first_path)
    row_dir, col_dir = iop0[:3], iop0[3:]
    ps0 = _floats(first, "PixelSpacing", 2, first_path)
    rows, cols = int(first.get("Rows", 0) or 0), int(first.get("Columns", 0) or 0)
    if rows <= 0 or cols <= 0:
        raise ConversionError(f"Rows/Columns missing or zero ({rows}x{cols})", first_path)
    if abs(np.linalg.norm(row_dir) - 1) > 1e-3 or abs(np.linalg.norm(col_dir) - 1) > 1e-3 \
            or abs(float(row_dir @ col_dir)) > 1e-3:
        raise ConversionError(f"ImageOrientationPatient {iop0.tolist()} is not two perpendicular unit vectors",
                              first_path)
    normal = np.cross(row_dir, col_dir)
    positions = []
    for f, ds in members:
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise ConversionError("multi-frame (enhanced) images are not supported yet", f)
        iop = _floats(ds, "ImageOrientationPatient", 6, f)
        if np.abs(iop - iop0).max() > ORIENTATION_TOL:
            raise ConversionError(f"ImageOrientationPatient {iop.tolist()} differs from {first_path.name}'s "
                                  f"{iop0.tolist()}: not one volume", f)
        ps = _floats(ds, "PixelSpacing", 2, f)
        if np.abs(ps - ps0).max() > 1e-6 * max(ps0):
            raise ConversionError(f"PixelSpacing {ps.tolist()} differs from {first_path.name}'s {ps0.tolist()}", f)
        if (int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)) != (rows, cols):
            raise ConversionError(f"size {ds.get('Rows')}x{ds.get('Columns')} differs from {first_path.name}'s "
                                  f"{rows}x{cols}", f)
        positions.append(_floats(ds, "ImagePositionPatient", 3, f))
    pos = np.array(positions)
    order = np.argsort(pos @ normal, kind="stable")
    members = [members[i] for i in order]
    pos = pos[order]
    along = pos @ normal
    n = len(members)
    if n > 1:
        gaps = np.diff(along)
        dup = np.flatnonzero(gaps < 1e-6 * max(ps0))
        if dup.size:
            a, b = members[dup[0]][0].name, members[dup[0] + 1][0].name
            raise ConversionError(f"{a} and {b} lie at the same slice position {along[dup[0]]:.4f} mm: "
                                  f"two acquisitions mixed in one series?", folder)
        spacing = float((along[-1] - along[0]) / (n - 1))
        off = np.abs(gaps - spacing)
        if off.max() > SLICE_SPACING_TOL * spacing:
            k = int(np.argmax(off))
            raise ConversionError(
                f"slices are not evenly spaced: {members[k][0].name} -> {members[k + 1][0].name} is "
                f"{gaps[k]:.4f} mm, the series averages {spacing:.4f} mm (a missing slice?)", folder)
        # gantry tilt: the slice origins do not move along the normal
        drift = pos - pos[0] - np.outer(along - along[0], normal)
        if np.linalg.norm(drift, axis=1).max() > 0.1 * min(ps0):
            raise ConversionError(
                "slice positions do not move along the slice normal (gantry tilt or sheared volume, "
                f"{np.linalg.norm(drift, axis=1).max():.3f} mm off): resample the series first", folder)
    else:
        spacing = float(first.get("SpacingBetweenSlices") or first.get("SliceThickness") or 1.0)
    check_grid_size((n, rows, cols), 1, "series grid (slices x Rows x Columns)", folder)
    space = Space(shape=(n, rows, cols), origin=tuple(float(v) for v in pos[0]),
                  spacing=(spacing, float(ps0[0]), float(ps0[1])),
                  x_orientation=tuple(float(v) for v in normal),
                  y_orientation=tuple(float(v) for v in col_dir),
                  z_orientation=tuple(float(v) for v in row_dir))
    return DicomSeries(files=[m[0] for m in members], datasets=[m[1] for m in members], space=space,
                       folder=folder, series_instance_uid=uid,
                       description=str(first.get("SeriesDescription", "") or ""),
                       modality=str(first.get("Modality", "") or ""))


def _rescale(ds) -> tuple[float, float]:
    try:
        return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)
    except (TypeError, ValueError):
        return 1.0, 0.0


def _output_dtype(series: DicomSeries) -> np.dtype:
    """int16 when every slice's rescale keeps integers within int16 (CT in HU), else float32."""
    ds = series.datasets[0]
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    for d in series.datasets:
        slope, inter = _rescale(d)
        if slope != int(slope) or inter != int(inter):
            return np.dtype(np.float32)
        ends = sorted((lo * slope + inter, hi * slope + inter))
        if ends[0] < np.iinfo(np.int16).min or ends[1] > np.iinfo(np.int16).max:
            # a CT stored unsigned 12-bit plus intercept -1024 still fits; a full 16-bit range may not
            return np.dtype(np.int32)
    return np.dtype(np.int16)


def _read_pixels(series: DicomSeries) -> np.ndarray:
    pydicom = _pydicom()
    dtype = _output_dtype(series)
    check_grid_size(tuple(series.space.shape), dtype.itemsize, "series volume", series.folder)
    out = np.empty(tuple(series.space.shape), dtype=dtype)
    for k, f in enumerate(series.files):
        ds = None
        try:
            ds = pydicom.dcmread(f)
            pixels = ds.pixel_array
        except Exception as exc:
            hint = ""
            ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
            if ts is not None and getattr(ts, "is_compressed", False):
                hint = f" (compressed as {ts.name}: pip install 'medmask[dicom]' for pylibjpeg decoders)"
            raise ConversionError(f"pixel data cannot be decoded: {exc}{hint}", f) from None
        if pixels.shape != out.shape[1:]:
            raise ConversionError(f"pixel data shape {pixels.shape} is not Rows x Columns {out.shape[1:]}", f)
        slope, inter = _rescale(ds)
        if slope == 1 and inter == 0:
            out[k] = pixels
        elif out.dtype.kind == "f":
            np.multiply(pixels, slope, out=out[k], casting="unsafe")
            out[k] += inter
        else:
            out[k] = pixels.astype(np.int32) * int(slope) + int(inter)
    if out.dtype == np.int32 and out.size and out.min() >= -32768 and out.max() <= 32767:
        return out.astype(np.int16)  # declared 16-bit range, HU values that fit: half the memory
    return out


def read_dicom_series(path: str | os.PathLike) -> tuple[np.ndarray, Space]:
    """(voxel array in medmask axis order, Space) of a DICOM series folder or one of its files.

    The array holds modality values (Hounsfield units for CT): int16 when they fit, else float32.
    """
    series = read_dicom_series_header(path)
    return series.read_pixels(), series.space


def _is_image_slice(path: Path) -> bool:
    try:
        ds = _pydicom().dcmread(path, stop_before_pixels=True,
                                specific_tags=["ImagePositionPatient", "SOPClassUID"])
    except Exception:
        return False
    return "ImagePositionPatient" in ds


def looks_like_dicom_series(path: str | os.PathLike) -> bool:
    """Cheap test for readers: an image slice, or a folder whose first few files include one."""
    p = Path(path)
    if p.is_file():
        return is_dicom_file(p) and _is_image_slice(p)
    if p.is_dir():
        try:
            names = sorted(os.listdir(p))[:16]
        except OSError:
            return False
        return any(is_dicom_file(p / n) and _is_image_slice(p / n) for n in names if not n.startswith("."))
    return False


__all__ = ["DicomSeries", "read_dicom_series", "read_dicom_series_header", "is_dicom_file",
           "looks_like_dicom_series"]
