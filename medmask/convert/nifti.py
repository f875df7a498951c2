"""One NIfTI file <-> one SegmentationMask (folders of files: :mod:`.nifti_folder`).

A multi-label ``.nii(.gz)`` (+ label names, :mod:`.label_names`, or the file's own
label table, :mod:`.nifti_label_table`) becomes one mask, and back.

Geometry: the NIfTI affine (nibabel's resolved ``img.affine``, RAS) maps to a
medmask Space (array axis order, LPS) with no axis swap or flip, see
:mod:`medmask.convert._geometry`. The original header's affine-related fields
(sform/qform rows and codes, quaternion, pixdim, units) and the data dtype are
kept in the entry's ``metadata["nifti"]``, so writing the entry back to NIfTI
gives the very same affine, codes and dtype, bit for bit.
"""
from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from spacetransformer import Space

from ..core.colors import color_for
from ..core.dtypes import smallest_label_dtype
from ..errors import ConversionError, GeometryWarning, MedMaskError, MedMaskWarning
from ..optional import LazyModule, require
from .. import limits
from ._file_errors import check_regular_file, unopenable
from ._geometry import nifti_shape, ras_affine_from_space, space_from_ras_affine, spaces_close
from .label_names import choose_label_names, read_label_names
from .nifti_label_table import label_table_extension, read_label_table
from .nifti_read import (GZIP_ERRORS, InflateLimit, declared_bytes, gunzip, header_from_bytes, image_class, read_bytes,
                         read_header, read_stored, voxels_from_bytes)

nib = LazyModule("nibabel")  # imported on first use: pip install 'medmask[nifti]'

NIFTI_META_KEY = "nifti"
NIFTI_SUFFIXES = (".nii.gz", ".nii")

# dtypes a label NIfTI may have; anything else (complex, rgb...) is refused
_SUPPORTED_KINDS = "buif"


# ------------------------------------------------------------------------------------------
# small helpers


def is_nifti_path(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(NIFTI_SUFFIXES)


def is_nifti_file(path: Path) -> bool:
    """A visible .nii/.nii.gz file: what a conversion writes into a folder (and may replace)."""
    return path.is_file() and is_nifti_path(path) and not path.name.startswith(".")


def nifti_stem(path: str | os.PathLike) -> str:
    """``liver`` for ``.../liver.nii.gz`` or ``.../liver.nii``."""
    name = Path(path).name
    for suf in NIFTI_SUFFIXES:
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return Path(path).stem


def list_nifti_files(folder: str | os.PathLike) -> list[Path]:
    """NIfTI files directly in ``folder``, sorted by name (hidden files skipped)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file() and is_nifti_path(p) and not p.name.startswith("."))


def safe_file_stem(name: str) -> str:
    """An entry name usable as a file name (path separators and control characters replaced)."""
    stem = re.sub(r"[\x00-\x1f/\\]", "_", name).strip()
    if stem in ("", ".", ".."):
        stem = stem.replace(".", "_") or "_"
    return stem


def _load(path: Path, header_only: bool = False) -> nib.Nifti1Image:
    """The image of ``path`` through nibabel's general path (``.gz`` inflated in memory unless ``header_only``).

    The fast path (:mod:`.nifti_read`) leaves unusual and damaged files to this one,
    which also words the errors.
    """
    require("nibabel")  # a missing extra is not a damaged file
    path = Path(path)
    check_regular_file(path, "a NIfTI file")  # not a FIFO, device or /proc file
    try:
        if str(path).lower().endswith(".gz") and not header_only:
            # inflate no more than the header declares: a small file must not inflate to gigabytes
            hdr = read_header(path) or nib.load(str(path)).header  # nibabel's lazy load reads the header only
            limit = _checked_size(hdr, path)
            raw = read_stored(path, limit)
            raw = gunzip(raw, limit)
            img = image_class(raw[:4]).from_bytes(raw)
        else:
            img = nib.load(str(path))
    except MedMaskError:
        raise
    except InflateLimit as exc:
        raise ConversionError(str(exc), path) from None
    except MemoryError:
        raise ConversionError("not enough memory to read it", path) from None
    except Exception as exc:  # nibabel / zlib raise many kinds for a damaged file
        detail = str(exc).replace(f"File {path} ", "").replace(str(path), "the file") or type(exc).__name__
        if isinstance(exc, GZIP_ERRORS):  # zlib's "Error -3 while decompressing data: ..." says little
            detail = f"damaged gzip data: {detail.split(': ', 1)[-1]}"
        raise unopenable(exc, path, "a NIfTI file") or ConversionError(f"not a readable NIfTI file ({detail})",
                                                                       path) from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ConversionError(f"not a NIfTI image ({type(img).__name__})", path)
    return img


def _checked_size(hdr, path: Path) -> int:
    """The bytes the file with header ``hdr`` may inflate to; ConversionError beyond the limits."""
    shape = tuple(int(v) for v in hdr.get_data_shape())
    count = math.prod(max(v, 0) for v in shape) if shape else 0
    if count > limits.MAX_VOXELS:
        raise ConversionError(f"header declares {count} voxels (shape {shape}), more than the limit "
                              f"{limits.MAX_VOXELS} (medmask.limits.MAX_VOXELS)", path)
    size = declared_bytes(hdr)
    limits.check_allocation(size, "inflating the NIfTI", path)
    return size


def read_nifti_header(path: str | os.PathLike):
    """nibabel's header of a NIfTI file; only the header's bytes are read (and inflated) when possible."""
    require("nibabel")
    hdr = read_header(path)
    return hdr if hdr is not None else _load(Path(path), header_only=True).header


def header_record(h) -> dict[str, Any]:
    """The fields of a nibabel NIfTI header ``h`` that decide the affine and data type, JSON-ready and exact.

    float32 header values convert to Python floats exactly, and JSON keeps them exactly.
    """
    return {
        "dtype": str(h.get_data_dtype()),
        "sform_code": int(h["sform_code"]),
        "qform_code": int(h["qform_code"]),
        "srow": [float(v) for key in ("srow_x", "srow_y", "srow_z") for v in h[key]],
        "quatern": [float(h[k]) for k in ("quatern_b", "quatern_c", "quatern_d")],
        "qoffset": [float(h[k]) for k in ("qoffset_x", "qoffset_y", "qoffset_z")],
        "pixdim": [float(v) for v in h["pixdim"][:4]],
        "xyzt_units": int(h["xyzt_units"]),
    }


def _header_from_record(rec: Mapping[str, Any], shape_ijk: tuple[int, ...], dtype: np.dtype) -> nib.Nifti1Header:
    h = nib.Nifti1Header()
    h.set_data_dtype(dtype)
    h.set_data_shape(shape_ijk)
    srow = np.asarray(rec["srow"], dtype=np.float32).reshape(3, 4)
    h["srow_x"], h["srow_y"], h["srow_z"] = srow
    h["sform_code"] = int(rec["sform_code"])
    h["qform_code"] = int(rec["qform_code"])
    for key, value in zip(("quatern_b", "quatern_c", "quatern_d"), rec["quatern"]):
        h[key] = value
    for key, value in zip(("qoffset_x", "qoffset_y", "qoffset_z"), rec["qoffset"]):
        h[key] = value
    pixdim = h["pixdim"].copy()
    pixdim[:4] = rec["pixdim"]
    h["pixdim"] = pixdim
    h["xyzt_units"] = int(rec["xyzt_units"])
    return h


def _valid_record(rec: Any) -> bool:
    try:
        return (isinstance(rec, Mapping) and len(rec["srow"]) == 12 and len(rec["quatern"]) == 3
                and len(rec["qoffset"]) == 3 and len(rec["pixdim"]) == 4 and np.dtype(rec["dtype"]) is not None
                and isinstance(rec["sform_code"], int) and isinstance(rec["qform_code"], int))
    except (KeyError, TypeError, ValueError):
        return False


def _record_space(rec: Mapping[str, Any], shape_ijk: tuple[int, int, int]) -> Space | None:
    """The Space a stored header record describes, or None if it cannot be rebuilt."""
    try:
        h = _header_from_record(rec, shape_ijk, np.dtype(rec["dtype"]))
        return space_from_ras_affine(h.get_best_affine(), shape_ijk)
    except Exception:
        return None


def sform_qform_gap(h, shape_ijk) -> float:
    """Largest distance (mm) between where the sform and the qform of the nibabel header ``h`` put a corner
    voxel; 0 unless both are set."""
    if int(h["sform_code"]) <= 0 or int(h["qform_code"]) <= 0:
        return 0.0
    try:
        s, q = h.get_sform(), h.get_qform()
    except Exception:
        return 0.0
    corners = np.array([[i, j, k, 1.0] for i in (0, shape_ijk[0] - 1) for j in (0, shape_ijk[1] - 1)
                        for k in (0, shape_ijk[2] - 1)]).T
    gap = np.linalg.norm((s @ corners - q @ corners)[:3], axis=0).max()
    return float(gap) if np.isfinite(gap) else float("inf")


def sform_qform_message(gap: float) -> str:
    return (f"sform and qform disagree: voxel positions differ by up to {gap:.3g} mm; medmask (like nibabel) uses "
            f"the sform, ITK and 3D Slicer may use the qform, so the mask can land elsewhere there (export with "
            f"--orthonormalize to write one geometry in both)")


def warn_sform_qform(hdr, space: Space, path) -> float:
    """Warn (GeometryWarning) when the two affines of a header put voxels more than 0.1 voxel apart."""
    gap = sform_qform_gap(hdr, nifti_shape(space))
    if gap > 0.1 * float(min(space.spacing)):
        warnings.warn(f"{path}: {sform_qform_message(gap)}", GeometryWarning, stacklevel=3)
    return gap


def read_nifti(path: str | os.PathLike) -> tuple[np.ndarray, Space, dict[str, Any], Any]:
    """(label array in medmask z,y,x order, Space, header record, nibabel header) of a 3D NIfTI.

    The array is a view of the file's inflated bytes whenever no scaling applies.
    """
    return _read_nifti(Path(path), with_space=True)


def read_nifti_labels(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any], Any]:
    """:func:`read_nifti` without building the Space (the folder scan already built it from the header)."""
    data, _, rec, hdr = _read_nifti(Path(path), with_space=False)
    return data, rec, hdr


def _read_nifti(path: Path, with_space: bool):
    require("nibabel")  # a missing extra is not a damaged file
    fast = _read_fast(path)
    if fast is not None:
        hdr, data = fast
        affine, shape = hdr.get_best_affine(), data.shape  # what nibabel's loader gives as img.affine
    else:  # anything unusual, and the wording of every error
        img = _load(path)
        hdr, affine = img.header, img.affine
        shape = tuple(int(v) for v in img.shape)
        while len(shape) > 3 and shape[-1] == 1:
            shape = shape[:-1]
        if len(shape) != 3:
            raise ConversionError(f"expected a 3D label image, got shape {tuple(img.shape)}", path)
        data = None
    dtype = hdr.get_data_dtype()
    if dtype.kind not in _SUPPORTED_KINDS or dtype.names is not None:
        raise ConversionError(f"data type {dtype} cannot hold labels", path)
    space = space_from_ras_affine(affine, shape, path=path) if with_space else None
    if data is None:
        try:
            data = _voxels(img, shape)
        except Exception as exc:
            raise ConversionError(f"cannot read the voxel data ({exc})", path) from None
    data = _as_labels(data, path)
    return np.ascontiguousarray(data.transpose(2, 1, 0)), space, header_record(hdr), hdr


def _read_fast(path: Path):
    """(nibabel header, voxel view in i, j, k order) read in one go (:mod:`.nifti_read`), or None."""
    try:
        hdr = read_header(path)
        if hdr is None:  # an odd or damaged header: nibabel's way, which words the error
            return None
        buf = read_bytes(path, declared_bytes(hdr))
    except (OSError, MedMaskError):
        return None
    if buf is None:
        return None
    hdr = header_from_bytes(buf)
    data = voxels_from_bytes(buf, hdr) if hdr is not None else None
    return (hdr, data) if data is not None else None


def _voxels(img: nib.Nifti1Image, shape: tuple[int, int, int]) -> np.ndarray:
    """The voxel array (nibabel i, j, k order); a view of the inflated bytes when no scaling applies."""
    proxy = img.dataobj
    buf = getattr(getattr(proxy, "file_like", None), "getbuffer", None)
    slope, inter = getattr(proxy, "slope", 1.0), getattr(proxy, "inter", 0.0)
    if buf is not None:
        dtype = img.get_data_dtype()
        count = math.prod(shape)
        offset = int(proxy.offset)
        raw = buf()
        if min(shape) < 1 or offset + count * dtype.itemsize > len(raw):  # before nibabel allocates it
            raise ValueError(f"the header declares {count * dtype.itemsize} bytes of voxels, the file holds "
                             f"{max(len(raw) - offset, 0)}; a truncated file?")
        if slope == 1 and inter == 0 and getattr(proxy, "order", "F") == "F":
            return np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(shape, order="F")
    return np.asanyarray(proxy).reshape(shape)


def _as_labels(data: np.ndarray, path) -> np.ndarray:
    if data.dtype == bool:
        return data
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise ConversionError("voxel values are not whole numbers; is this a label image?", path)
        if data.size and data.min() < 0:
            raise ConversionError(f"negative label value {data.min():g}", path)
        hi = data.max() if data.size else 0
        if hi > np.iinfo(np.uint32).max:
            raise ConversionError(f"label value {hi:g} is too large", path)
        return data.astype(np.uint32)
    if data.dtype.kind == "i":
        if data.size and data.min() < 0:
            raise ConversionError(f"negative label value {int(data.min())}", path)
        return data.astype(np.uint64) if data.dtype.itemsize > 4 else data.astype(np.dtype(f"u{data.dtype.itemsize}"))
    if data.dtype.kind == "u" and data.dtype.itemsize > 4:
        if data.size and data.max() > np.iinfo(np.uint32).max:
            raise ConversionError(f"label value {int(data.max())} is too large", path)
        return data.astype(np.uint32)
    return data


def _shrink(data: np.ndarray) -> np.ndarray:
    """Smallest unsigned dtype (bool for 0/1 data) that holds ``data``."""
    hi = int(data.max()) if data.size else 0
    try:
        return data.astype(smallest_label_dtype(hi, allow_bool=True), copy=False)
    except ValueError:
        raise ConversionError(f"label value {hi} does not fit 32 bits") from None


# ------------------------------------------------------------------------------------------
# single files


# a label map has few distinct values and is mostly background; an image is neither
MAX_LABEL_VALUES = 1000
MIN_BACKGROUND_MANY_LABELS = 0.2  # with 64+ values, less background than this is an image


def image_like_reason(n_values: int, n_nonzero: int, n_voxels: int) -> str | None:
    """Why a volume looks like an image rather than a label map, or None."""
    if n_values > MAX_LABEL_VALUES:
        return (f"{n_values} distinct values; a label map rarely has more than a few hundred "
                f"(is this the image, not a mask?)")
    background = 1.0 - n_nonzero / n_voxels if n_voxels else 1.0
    if n_values >= 64 and background < MIN_BACKGROUND_MANY_LABELS:
        return (f"{n_values} distinct values and only {background:.0%} of the voxels are 0; a label map is "
                f"mostly background (is this the image, not a mask?)")
    return None


def refuse_image(data: np.ndarray, n_values: int, path, *, force: bool, n_voxels: int | None = None) -> None:
    """ConversionError when ``data`` (or a crop of a volume of ``n_voxels``) looks like an image."""
    if force:
        return
    reason = image_like_reason(n_values, int(np.count_nonzero(data)), int(n_voxels or data.size))
    if reason:
        raise ConversionError(f"looks like an image, not a mask: {reason}; pass force to convert it anyway", path)


def load_nifti_mask(path: str | os.PathLike, labels: Any = None, *, name: str | None = None, force: bool = False):
    """A multi-label (or binary) NIfTI as a SegmentationMask.

    Names come from the file's own label table (TotalSegmentator's), then from
    ``labels`` (see :func:`read_label_names`) for labels the table does not name, else
    ``label_<n>``; a ``labels`` map that contradicts the file's table is an error unless
    ``force``. For a binary file, ``name`` (default: the file name) names label 1. Every
    name of a map is kept, also of labels with no voxels. The table's colours become the
    mask's colours and its date is kept for the way back. A volume that looks like an
    image (see :func:`image_like_reason`) is refused unless ``force``.
    """
    from ..core.segmask import SegmentationMask

    path = Path(path)
    data, space, rec, hdr = read_nifti(path)
    warn_sform_qform(hdr, space, path)
    present = [int(v) for v in np.unique(data) if v]
    refuse_image(data, len(present) + 1, path, force=force)
    table = read_label_table(hdr)
    given = read_label_names(labels, path=path) if labels is not None else None
    names = choose_label_names(table.names if table else None, given, spec=labels, force=force, path=path)
    colors = {}
    if table is not None:
        colors = {n: table.colors[k] for k, n in names.items() if k in table.colors and table.names.get(k) == n}
        if table.date:
            rec = {**rec, "label_table_date": table.date}
    if not names and name is not None and present in ([1], []):
        names = {1: name}
    if not names and labels is None and present in ([1], []) and name is None:
        names = {1: nifti_stem(path)}
    mapping = {}
    for label, n in sorted(names.items()):
        mapping[n] = label
    for label in present:
        if label not in names:
            candidate = f"label_{label}"
            while candidate in mapping:
                candidate += "_"
            mapping[candidate] = label
    data = _shrink(data) if data.dtype.kind in "u" else data
    if data.dtype == bool and any(v != 1 for v in mapping.values()):
        data = data.astype(np.uint8)
    max_label = max(mapping.values(), default=0)
    if max_label > 65535 and data.dtype != np.dtype(np.uint32):
        data = data.astype(np.uint32)  # a name table may list labels the voxels do not (yet) use
    elif max_label > 255 and data.dtype in (np.dtype(bool), np.dtype(np.uint8)):
        data = data.astype(np.uint16)
    try:
        data.flags.writeable = False  # our own temporary: shared, not copied
        return SegmentationMask(data, mapping, space=space, colors=colors, metadata={NIFTI_META_KEY: rec})
    except MedMaskError as exc:
        raise ConversionError(exc.problem, path) from None


def largest_exact_label(dtype: np.dtype) -> int:
    """The largest label value ``dtype`` holds exactly, and every smaller one (2**24 for float32)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 2 ** (np.finfo(dtype).nmant + 1)
    if dtype.kind in "iu":
        return int(np.iinfo(dtype).max)
    return 1  # bool


def _export_array(mask, rec: Mapping[str, Any] | None, dtype) -> tuple[np.ndarray, np.dtype]:
    """The voxels in the data type to write: the asked or stored one, never one that merges labels.

    A stored type too small for the labels is widened (uint16/uint32, float64 for a float
    file: float32 cannot tell 16777216 from 16777217); an explicitly asked one is refused.
    """
    asked = dtype is not None
    if dtype is None:
        dtype = np.dtype(rec["dtype"]) if rec is not None else (np.dtype(np.uint8) if mask.dtype == bool else mask.dtype)
    dtype = np.dtype(dtype)
    data = full_array(mask)
    hi = max([int(data.max()) if data.size else 0, *(int(v) for v in mask.mapping.values())])
    if hi > largest_exact_label(dtype):
        if asked:
            raise ConversionError(f"labels up to {hi} do not fit {dtype} exactly (it holds whole numbers up to "
                                  f"{largest_exact_label(dtype)}); choose a wider dtype")
        if dtype.kind == "f":
            wider = np.dtype(np.float64)
        else:
            wider = next(np.dtype(d) for d in (np.uint16, np.uint32) if hi <= np.iinfo(d).max)
        warnings.warn(f"the stored NIfTI data type {dtype} cannot hold label {hi} exactly; writing {wider}",
                      MedMaskWarning, stacklevel=3)
        dtype = wider
    return data.transpose(2, 1, 0).astype(dtype), dtype


def full_array(mask) -> np.ndarray:
    """The full label volume of ``mask`` without caching it on the mask (keeps memory flat)."""
    box = mask.bbox
    crop = mask.crop_data
    out = np.zeros(tuple(mask.shape), dtype=mask.dtype)
    if box is not None:
        out[tuple(slice(a, b) for a, b in box)] = crop
    return out


def orthonormal_space(space: Space) -> Space:
    """``space`` with the nearest exactly orthonormal axis directions (same handedness, spacing, origin).

    float32 headers (TotalSegmentator's) carry axes a few 1e-4 off perpendicular, which ITK
    refuses ("ITK only supports orthonormal direction cosines"); the voxels move by far
    less than a voxel.
    """
    dirs = np.column_stack([space.x_orientation, space.y_orientation, space.z_orientation]).astype(float)
    u, _, vt = np.linalg.svd(dirs)
    r = u @ vt
    return Space(shape=tuple(space.shape), origin=tuple(float(v) for v in space.origin),
                 spacing=tuple(float(v) for v in space.spacing),
                 x_orientation=tuple(float(v) for v in r[:, 0]), y_orientation=tuple(float(v) for v in r[:, 1]),
                 z_orientation=tuple(float(v) for v in r[:, 2]))


def mask_to_nifti_image(mask, *, dtype=None, label_names: bool = False, orthonormalize: bool = False):
    """A Nifti1Image of ``mask``; the stored original header fields are reused when they fit.

    ``orthonormalize`` writes the nearest orthonormal geometry instead, the same in the
    sform and the qform (codes kept, 1 where the original had none), for ITK and Slicer.
    """
    rec = mask.metadata.get(NIFTI_META_KEY) if isinstance(mask.metadata, Mapping) else None
    date = rec.get("label_table_date") if isinstance(rec, Mapping) else None
    shape_ijk = nifti_shape(mask.space)
    if rec is not None and not (_valid_record(rec) and _fits(rec, mask.space, shape_ijk)):
        rec = None
    data, dtype = _export_array(mask, rec, dtype)
    if orthonormalize:
        affine = ras_affine_from_space(orthonormal_space(mask.space))
        img = nib.Nifti1Image(data, affine)
        img.header.set_data_dtype(dtype)
        scode = int(rec["sform_code"]) if rec is not None and int(rec["sform_code"]) > 0 else 1
        qcode = int(rec["qform_code"]) if rec is not None and int(rec["qform_code"]) > 0 else scode
        img.set_sform(affine, code=scode)
        img.set_qform(affine, code=qcode)
        if rec is not None:
            img.header["xyzt_units"] = int(rec["xyzt_units"])
        else:
            img.header.set_xyzt_units("mm")
    elif rec is not None:
        header = _header_from_record(rec, shape_ijk, dtype)
        img = nib.Nifti1Image(data, None, header=header)
    else:
        affine = ras_affine_from_space(mask.space)
        img = nib.Nifti1Image(data, affine)
        img.header.set_data_dtype(dtype)
        img.set_sform(affine, code=1)
        img.set_qform(affine, code=1)
        img.header.set_xyzt_units("mm")
    if label_names and len(mask.mapping):
        names = {int(label): n for n, label in mask.mapping.items()}
        # a label without a colour of its own gets its organ colour, not the table's white
        colors = {int(label): mask.colors.get(n) or color_for(n) for n, label in mask.mapping.items()}
        img.header.extensions.append(label_table_extension(names, colors, date=date))
    return img


def _fits(rec: Mapping[str, Any], space: Space, shape_ijk) -> bool:
    rspace = _record_space(rec, shape_ijk)
    return rspace is not None and spaces_close(rspace, space)


def save_nifti_mask(mask, path: str | os.PathLike, *, dtype=None, label_names: bool = True,
                    orthonormalize: bool = False) -> Path:
    """Write ``mask`` as one NIfTI (``.nii.gz`` or ``.nii``), atomically.

    With ``label_names`` the names go in a TotalSegmentator-style label table extension.
    """
    path = Path(path)
    _check_nifti_geometry(mask.space, path)
    try:
        img = mask_to_nifti_image(mask, dtype=dtype, label_names=label_names, orthonormalize=orthonormalize)
    except MedMaskError as exc:
        raise ConversionError(exc.problem, path) from None
    except Exception as exc:  # nibabel refuses a header it cannot build
        raise ConversionError(f"cannot be written as NIfTI: {' '.join(str(exc).split())}", path) from None
    _atomic_nib_save(img, path)
    return path


def _check_nifti_geometry(space: Space, path) -> None:
    """NIfTI stores the geometry as float32: refuse what float32 cannot hold instead of writing garbage."""
    f32 = np.finfo(np.float32)
    values = [float(v) for v in (*space.spacing, *space.origin)]
    if not all(np.isfinite(values)):
        raise ConversionError(f"geometry holds a non-finite value (spacing {tuple(space.spacing)}, origin "
                              f"{tuple(space.origin)})", path)
    small = [v for v in space.spacing if abs(float(v)) < f32.tiny]
    if small:
        raise ConversionError(f"spacing {small[0]:g} mm is too small for a NIfTI header (float32 holds at least "
                              f"{f32.tiny:.3g}); the source's geometry looks broken", path)
    big = [v for v in values if abs(v) > f32.max]
    if big:
        raise ConversionError(f"geometry value {big[0]:g} is too large for a NIfTI header (float32)", path)


def _atomic_nib_save(img: nib.Nifti1Image, path: Path) -> None:
    """One NIfTI file through storage.atomic: the same temporaries, fsyncs and errors as every write.

    gzip at level 1, nibabel's own default for ``.nii.gz``.
    """
    import gzip

    from ..storage.atomic import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    raw = img.to_bytes()
    with atomic_write(path) as f:
        if str(path).lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=1, mtime=0) as gz:
                gz.write(raw)
        else:
            f.write(raw)
