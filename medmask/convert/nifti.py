"""NIfTI <-> medmask.

* a folder of binary masks (TotalSegmentator's ``segmentations/``) <-> one ``.mska``
  (one entry per file, named after the file; empty masks kept as empty entries);
* one multi-label ``.nii(.gz)`` (+ label names) <-> one ``.msk``.

Geometry: the NIfTI affine (nibabel's resolved ``img.affine``, RAS) maps to a
medmask Space (array axis order, LPS) with no axis swap or flip, see
:mod:`medmask.convert._geometry`. The original header's affine-related fields
(sform/qform rows and codes, quaternion, pixdim, units) and the data dtype are
kept in the entry's ``metadata["nifti"]``, so writing the entry back to NIfTI
gives the very same affine, codes and dtype, bit for bit.
"""
from __future__ import annotations

import csv
import io
import json
import os
import re
import zlib
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping
from xml.sax.saxutils import escape

import nibabel as nib
import numpy as np
from spacetransformer import Space

from ..errors import ConversionError, MedMaskError
from ._geometry import nifti_shape, ras_affine_from_space, space_from_ras_affine, spaces_close
from .totalseg import class_map

NIFTI_META_KEY = "nifti"
NIFTI_SUFFIXES = (".nii.gz", ".nii")

# dtypes a label NIfTI may have; anything else (complex, rgb...) is refused
_SUPPORTED_KINDS = "buif"


# ------------------------------------------------------------------------------------------
# small helpers


def is_nifti_path(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(NIFTI_SUFFIXES)


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


try:  # zlib-ng (extra "fast") inflates TotalSegmentator's masks ~10x faster than zlib, same results
    from zlib_ng import zlib_ng as _inflater
except ImportError:  # pragma: no cover - depends on the installation
    _inflater = zlib


def _gunzip(raw: bytes) -> bytes:
    """All members of a gzip stream, in one call (much faster than streaming through gzip.GzipFile)."""
    parts = []
    while raw:
        d = _inflater.decompressobj(31)
        parts.append(d.decompress(raw))
        parts.append(d.flush())
        if not d.eof:
            raise zlib.error("truncated gzip stream")
        raw = d.unused_data.lstrip(b"\x00")
    parts = [p for p in parts if p]
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _load(path: Path, header_only: bool = False) -> nib.Nifti1Image:
    """The image of ``path``; ``.gz`` files are inflated in memory in one go (unless ``header_only``)."""
    path = Path(path)
    try:
        if str(path).lower().endswith(".gz") and not header_only:
            with open(path, "rb") as fh:
                raw = fh.read()
            img = nib.Nifti1Image.from_bytes(_gunzip(raw))
        else:
            img = nib.load(str(path))
    except FileNotFoundError:
        raise ConversionError("no such file", path) from None
    except IsADirectoryError:
        raise ConversionError("is a folder, not a NIfTI file", path) from None
    except PermissionError as exc:
        raise ConversionError(f"cannot read ({exc.strerror})", path) from None
    except Exception as exc:  # nibabel / zlib raise many kinds for a damaged file
        detail = str(exc).replace(f"File {path} ", "").replace(str(path), "the file")
        raise ConversionError(f"not a readable NIfTI file ({detail})", path) from None
    if not isinstance(img, (nib.Nifti1Image, nib.Nifti2Image)):
        raise ConversionError(f"not a NIfTI image ({type(img).__name__})", path)
    return img


def header_record(img: nib.Nifti1Image) -> dict[str, Any]:
    """The header fields that decide the affine and data type, JSON-ready and exact.

    float32 header values convert to Python floats exactly, and JSON keeps them exactly.
    """
    h = img.header
    return {
        "dtype": str(img.get_data_dtype()),
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


def read_nifti(path: str | os.PathLike) -> tuple[np.ndarray, Space, dict[str, Any], nib.Nifti1Image]:
    """(label array in medmask z,y,x order, Space, header record, image) of a 3D NIfTI."""
    path = Path(path)
    img = _load(path)
    shape = tuple(int(v) for v in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise ConversionError(f"expected a 3D label image, got shape {tuple(img.shape)}", path)
    dtype = img.get_data_dtype()
    if dtype.kind not in _SUPPORTED_KINDS or dtype.names is not None:
        raise ConversionError(f"data type {dtype} cannot hold labels", path)
    space = space_from_ras_affine(img.affine, shape, path=path)
    try:
        data = _voxels(img, shape)
    except Exception as exc:
        raise ConversionError(f"cannot read the voxel data ({exc})", path) from None
    data = _as_labels(data, path)
    return np.ascontiguousarray(data.transpose(2, 1, 0)), space, header_record(img), img


def _voxels(img: nib.Nifti1Image, shape: tuple[int, int, int]) -> np.ndarray:
    """The voxel array (nibabel i, j, k order); a view of the inflated bytes when no scaling applies."""
    proxy = img.dataobj
    buf = getattr(getattr(proxy, "file_like", None), "getbuffer", None)
    slope, inter = getattr(proxy, "slope", 1.0), getattr(proxy, "inter", 0.0)
    if buf is not None and slope == 1 and inter == 0 and getattr(proxy, "order", "F") == "F":
        dtype = img.get_data_dtype()
        count = int(np.prod(shape))
        offset = int(proxy.offset)
        raw = buf()
        if offset + count * dtype.itemsize <= len(raw):
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
    if hi <= 1:
        return data.astype(bool, copy=False)
    for dt in (np.uint8, np.uint16, np.uint32):
        if hi <= np.iinfo(dt).max:
            return data.astype(dt, copy=False)
    raise ConversionError(f"label value {hi} does not fit 32 bits")


# ------------------------------------------------------------------------------------------
# label names


def read_label_names(spec: Any, *, path=None) -> dict[int, str]:
    """Label value -> name from a dict, a JSON/CSV/TSV/TXT file or a TotalSegmentator map name.

    * ``dict``: ``{1: "liver"}`` or ``{"liver": 1}`` (either direction);
    * ``"total"`` / ``"totalseg"`` / ``"total_v1"``: TotalSegmentator's class map;
    * ``*.json``: such a dict, or ``{"labels": {...}}``;
    * ``*.csv`` / ``*.tsv``: rows ``label,name`` (or ``name,label``), header row optional;
    * ``*.txt``: one name per line, label 1, 2, 3...
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return _normalize_names(spec, path)
    if isinstance(spec, (list, tuple)):
        return {i + 1: str(n) for i, n in enumerate(spec)}
    if isinstance(spec, str) and not os.path.exists(spec):
        known = class_map(spec)
        if known is not None:
            return known
    p = Path(spec)
    if not p.is_file():
        raise ConversionError(f"label names {str(spec)!r}: no such file, and not a known class map "
                              f"(try 'total' or 'total_v1')", path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConversionError(f"cannot read label names ({exc})", p) from None
    suffix = p.suffix.lower()
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConversionError(f"invalid JSON ({exc})", p) from None
        if isinstance(data, dict) and isinstance(data.get("labels"), (dict, list)):
            data = data["labels"]
        if isinstance(data, list):
            return {i + 1: str(n) for i, n in enumerate(data)}
        if not isinstance(data, dict):
            raise ConversionError("label names JSON must be an object {label: name}", p)
        return _normalize_names(data, p)
    if suffix in (".csv", ".tsv"):
        rows = [r for r in csv.reader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
                if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#")]
        pairs = {}
        for row in rows:
            cells = [c.strip() for c in row]
            if len(cells) < 2:
                raise ConversionError(f"CSV row {row!r} needs two columns: label and name", p)
            a, b = cells[0], cells[1]
            if a.isdigit():
                pairs[int(a)] = b
            elif b.isdigit():
                pairs[int(b)] = a
            elif not pairs:  # header row
                continue
            else:
                raise ConversionError(f"CSV row {row!r} has no integer label", p)
        return _normalize_names(pairs, p)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return {i + 1: n for i, n in enumerate(lines)}


def _normalize_names(mapping: Mapping, path) -> dict[int, str]:
    out: dict[int, str] = {}
    for k, v in mapping.items():
        if isinstance(k, (int, np.integer)) or (isinstance(k, str) and k.strip().isdigit()):
            label, name = int(k), v
        elif isinstance(v, (int, np.integer)) or (isinstance(v, str) and v.strip().isdigit()):
            label, name = int(v), k
        else:
            raise ConversionError(f"label names: cannot tell the label in {k!r}: {v!r}", path)
        if label <= 0:
            raise ConversionError(f"label names: label must be positive, got {label}", path)
        if not isinstance(name, str) or not name:
            raise ConversionError(f"label names: name of label {label} must be a non-empty string", path)
        out[label] = name
    dup = [n for n, c in Counter(out.values()).items() if c > 1]
    if dup:
        raise ConversionError(f"label names: {dup} name more than one label", path)
    return out


def embedded_label_names(img: nib.Nifti1Image) -> dict[int, str]:
    """Names in a TotalSegmentator-style XML label table extension (empty when there is none)."""
    out: dict[int, str] = {}
    for ext in getattr(img.header, "extensions", []):
        try:
            content = ext.get_content()
            text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        except Exception:
            continue
        if "<LabelTable" not in text:
            continue
        try:
            root = ET.fromstring(text.strip().rstrip("\x00").strip())
        except ET.ParseError:
            continue
        for el in root.iter("Label"):
            try:
                out[int(el.get("Key"))] = (el.text or "").strip()
            except (TypeError, ValueError):
                continue
        return {k: v for k, v in out.items() if k > 0 and v}
    return out


def _label_table_extension(names: Mapping[int, str], colors: Mapping[int, tuple] | None = None) -> nib.nifti1.Nifti1Extension:
    """A label table in the XML layout TotalSegmentator writes (readable by its loader and ours)."""
    rows = []
    for label, name in sorted(names.items()):
        r, g, b, a = (colors or {}).get(label, (1.0, 1.0, 1.0, 1.0))
        rows.append(f'<Label Key="{int(label)}" Red="{r:g}" Green="{g:g}" Blue="{b:g}" Alpha="{a:g}">'
                    f"<![CDATA[{name.replace(']]>', ']] >')}]]></Label>")
    xml = ('<?xml version="1.0" encoding="UTF-8"?><CaretExtension><VolumeInformation Index="0"><LabelTable>\n'
           + "\n".join(rows) + "\n</LabelTable><VolumeType><![CDATA[Label]]></VolumeType>"
           "</VolumeInformation></CaretExtension>\n")
    return nib.nifti1.Nifti1Extension(0, xml.encode("utf-8"))


# ------------------------------------------------------------------------------------------
# single files


def load_nifti_mask(path: str | os.PathLike, labels: Any = None, *, name: str | None = None):
    """A multi-label (or binary) NIfTI as a SegmentationMask.

    ``labels`` gives names (see :func:`read_label_names`); without it the names come
    from a TotalSegmentator label table in the file, else ``label_<n>``. For a binary
    file, ``name`` (default: the file name) names label 1. Every name of an explicit
    map is kept, also of labels with no voxels.
    """
    from ..core.segmask import SegmentationMask

    path = Path(path)
    data, space, rec, img = read_nifti(path)
    present = [int(v) for v in np.unique(data) if v]
    names = read_label_names(labels, path=path) if labels is not None else embedded_label_names(img)
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
        return SegmentationMask(data, mapping, space=space, metadata={NIFTI_META_KEY: rec})
    except MedMaskError as exc:
        raise ConversionError(exc.problem, path) from None


def _export_array(mask, rec: Mapping[str, Any] | None, dtype) -> tuple[np.ndarray, np.dtype]:
    if dtype is None:
        dtype = np.dtype(rec["dtype"]) if rec is not None else (np.dtype(np.uint8) if mask.dtype == bool else mask.dtype)
    dtype = np.dtype(dtype)
    data = full_array(mask)
    hi = int(data.max()) if data.size else 0
    if dtype.kind in "iu" and hi > np.iinfo(dtype).max:
        dtype = np.dtype(np.uint16) if hi <= 65535 else np.dtype(np.uint32)
    return data.transpose(2, 1, 0).astype(dtype), dtype


def full_array(mask) -> np.ndarray:
    """The full label volume of ``mask`` without caching it on the mask (keeps memory flat)."""
    box = mask.bbox
    crop = mask.crop_data
    out = np.zeros(tuple(mask.shape), dtype=mask.dtype)
    if box is not None:
        out[tuple(slice(a, b) for a, b in box)] = crop
    return out


def mask_to_nifti_image(mask, *, dtype=None, label_names: bool = False) -> nib.Nifti1Image:
    """A Nifti1Image of ``mask``; the stored original header fields are reused when they fit."""
    rec = mask.metadata.get(NIFTI_META_KEY) if isinstance(mask.metadata, Mapping) else None
    shape_ijk = nifti_shape(mask.space)
    if rec is not None and not (_valid_record(rec) and _fits(rec, mask.space, shape_ijk)):
        rec = None
    data, dtype = _export_array(mask, rec, dtype)
    if rec is not None:
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
        colors = {int(mask.mapping[n]): c for n, c in mask.colors.items() if n in mask.mapping}
        img.header.extensions.append(_label_table_extension(names, colors))
    return img


def _fits(rec: Mapping[str, Any], space: Space, shape_ijk) -> bool:
    rspace = _record_space(rec, shape_ijk)
    return rspace is not None and spaces_close(rspace, space)


def save_nifti_mask(mask, path: str | os.PathLike, *, dtype=None, label_names: bool = True) -> Path:
    """Write ``mask`` as one NIfTI (``.nii.gz`` or ``.nii``), atomically.

    With ``label_names`` the names go in a TotalSegmentator-style label table extension.
    """
    path = Path(path)
    img = mask_to_nifti_image(mask, dtype=dtype, label_names=label_names)
    _atomic_nib_save(img, path)
    return path


def _atomic_nib_save(img: nib.Nifti1Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".nii.gz" if str(path).lower().endswith(".gz") else ".nii"
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")
    try:
        nib.save(img, str(tmp))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------
# folders <-> archives


def _progress(iterable, enabled: bool, desc: str, total: int | None = None):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, unit="file", leave=False)


def _header_space(path: Path) -> tuple[Space, dict[str, Any]]:
    img = _load(path, header_only=True)
    shape = tuple(int(v) for v in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3:
        raise ConversionError(f"expected a 3D label image, got shape {tuple(img.shape)}", path)
    return space_from_ras_affine(img.affine, shape, path=path), header_record(img)


def scan_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1) -> tuple[Space, list[Path]]:
    """(archive Space, files) of a folder of label NIfTIs; reads headers only.

    All files must share one grid. Header affines that differ only by float noise
    (every corner voxel within ``voxel_tolerance`` of a voxel, as TotalSegmentator's
    float32 headers do) are accepted: the archive takes the most common affine and each
    entry keeps its own header fields, for an exact way back.
    """
    src_dir = Path(src_dir)
    if not src_dir.is_dir():
        raise ConversionError("not a folder" if src_dir.exists() else "no such folder", src_dir)
    files = list_nifti_files(src_dir)
    if not files:
        raise ConversionError("folder holds no .nii/.nii.gz files", src_dir)
    spaces = [(f, _header_space(f)[0]) for f in files]
    keys = Counter(json.dumps(_space_key(s)) for _, s in spaces)
    best = keys.most_common(1)[0][0]
    ref = next(s for _, s in spaces if json.dumps(_space_key(s)) == best)
    seen: dict[str, Path] = {}
    for f, space in spaces:
        if tuple(space.shape) != tuple(ref.shape):
            raise ConversionError(f"shape {nifti_shape(space)} differs from the other files' {nifti_shape(ref)}", f)
        if not spaces_close(space, ref, voxel_tolerance):
            raise ConversionError("geometry (affine) differs from the other files in the folder", f)
        name = nifti_stem(f)
        if name in seen:
            raise ConversionError(f"{seen[name].name} and {f.name} give the same entry name {name!r}", f)
        seen[name] = f
    return ref, files


def _fast_bbox(data: np.ndarray):
    """Half-open bbox of the non-zero voxels without a full-size temporary (None if empty)."""
    from ..core.geometry import compute_bbox

    if data.dtype.kind not in "bu":
        return compute_bbox(data)
    box = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        proj = np.flatnonzero(data.max(axis=other)) if data.size else np.array([], int)
        if proj.size == 0:
            return None
        box.append((int(proj[0]), int(proj[-1]) + 1))
    return tuple(box)


def binary_file_mask(path: str | os.PathLike, space: Space):
    """One file of a mask folder as a crop-backed SegmentationMask on ``space``.

    Label 1 is named after the file; a file holding one other value v keeps v; a file
    holding several values gets ``<name>_<v>`` names. Only the bounding-box crop is kept.
    """
    from ..core.geometry import bbox_slices, compute_bbox
    from ..core.segmask import SegmentationMask

    path = Path(path)
    name = nifti_stem(path)
    data, fspace, rec, _img = read_nifti(path)
    if tuple(fspace.shape) != tuple(space.shape):
        raise ConversionError(f"shape {nifti_shape(fspace)} differs from {nifti_shape(space)}", path)
    bbox = _fast_bbox(data)
    crop = np.ascontiguousarray(data[bbox_slices(bbox)]) if bbox is not None else None
    present: list[int] = []
    if crop is not None:
        if crop.dtype == bool or int(crop.max()) <= 1:
            present = [1]
        elif crop.dtype == np.uint8:
            present = [int(v) for v in np.flatnonzero(np.bincount(crop.ravel())) if v]
        else:
            present = [int(v) for v in np.unique(crop) if v]
    if present in ([], [1]):
        mapping, dtype = {name: 1}, np.dtype(bool)
    elif len(present) == 1:
        mapping, dtype = {name: present[0]}, None
    else:
        mapping, dtype = {f"{name}_{v}": v for v in present}, None
    if dtype is None:
        hi = max(present)
        dtype = next(np.dtype(d) for d in (np.uint8, np.uint16, np.uint32) if hi <= np.iinfo(d).max)
    if crop is not None:
        crop = crop.astype(dtype, copy=False)
    try:
        return name, SegmentationMask.from_crop(crop, bbox, mapping, space, dtype, metadata={NIFTI_META_KEY: rec})
    except MedMaskError as exc:
        raise ConversionError(exc.problem, path) from None


def iter_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1, progress: bool = False):
    """(space, iterator of (entry name, mask)) for a folder of binary masks; one file in memory at a time."""
    space, files = scan_nifti_folder(src_dir, voxel_tolerance=voxel_tolerance)

    def gen():
        for f in _progress(files, progress, f"{Path(src_dir).name}", total=len(files)):
            yield binary_file_mask(f, space)

    return space, gen()


def read_nifti_folder(src_dir: str | os.PathLike, *, voxel_tolerance: float = 0.1, progress: bool = False):
    """(space, [(entry name, mask)]) of a folder of binary masks (see :func:`scan_nifti_folder`)."""
    space, it = iter_nifti_folder(src_dir, voxel_tolerance=voxel_tolerance, progress=progress)
    return space, list(it)


def _space_key(space: Space) -> list:
    from ..core.geometry import space_to_dict

    d = space_to_dict(space)
    return [d[k] for k in sorted(d)]


def nifti_folder_to_archive(src_dir: str | os.PathLike, dst: str | os.PathLike, *, overwrite: bool = True,
                            voxel_tolerance: float = 0.1, progress: bool = False) -> Path:
    """Folder of binary ``.nii.gz`` masks -> one ``.mska`` (written atomically)."""
    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise ConversionError("already exists", dst)
    space, masks = iter_nifti_folder(src_dir, voxel_tolerance=voxel_tolerance, progress=progress)
    write_archive(dst, space, masks)
    return dst


def write_archive(dst: Path, space: Space, masks: Iterable[tuple[str, Any]]) -> None:
    """Write (name, mask) pairs to a fresh archive at ``dst`` in one atomic commit.

    Nothing appears under ``dst`` until every entry is encoded: a crash leaves the old
    file (or none), never a partial one, which is what makes batch runs resumable.
    """
    from .. import MaskArchive

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    it = iter(masks)
    first = next(it, None)
    if first is None:
        with MaskArchive(dst, mode="w", space=space):
            return
    # no space given: MaskArchive writes nothing until the block ends (it takes the masks' space)
    with MaskArchive(dst, mode="w") as archive:
        archive.add_segmask(first[1], first[0])
        for name, mask in it:
            archive.add_segmask(mask, name)


def archive_to_nifti_folder(src: str | os.PathLike, dst_dir: str | os.PathLike, *, names: Iterable[str] | None = None,
                            progress: bool = False, suffix: str = ".nii.gz") -> list[Path]:
    """Every entry (or those in ``names``) of a ``.mska`` -> ``dst_dir/<entry>.nii.gz``."""
    from .. import MaskArchive

    dst_dir = Path(dst_dir)
    dst_dir.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    with MaskArchive(src, mode="r") as archive:
        wanted = list(names) if names is not None else list(archive.all_names())
        used: set[str] = set()
        for name in _progress(wanted, progress, f"writing {dst_dir.name}", total=len(wanted)):
            mask = archive.load_segmask(name)
            stem = safe_file_stem(name)
            while stem.lower() in used:
                stem += "_"
            used.add(stem.lower())
            plain = mask.mapping.to_dict() == {name: 1}
            out.append(save_nifti_mask(mask, dst_dir / f"{stem}{suffix}", label_names=not plain))
    return out
