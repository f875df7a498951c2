"""DICOM Segmentation (DICOM-SEG) export and import.

Export builds the SEG with highdicom from the CT series it was drawn on (so every frame
references its source instance); medmask adds one private element (creator ``MEDMASK``)
holding the exact Space, entry names, label values, colours and metadata as JSON, so
``.mska -> SEG -> .mska`` is exact (DICOM's decimal strings and CIELab colours are not).
Other readers ignore that element; medmask itself only trusts it when it agrees with the
SEG's own segments and plane positions.

Import reads any SEG (BINARY, FRACTIONAL, LABELMAP) with pydicom: each segment becomes
an entry, its name, colour, codes and other attributes go to the entry's metadata, and
the geometry comes from the plane positions (or from a reference grid passed in).
"""
from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from spacetransformer import Space

from ..errors import ConversionError, MedMaskError
from .dicom_codes import SegmentCodes, codes_for, codes_from_json
from .. import limits
from ._file_errors import check_regular_file
from .dicom_series import DicomSeries, check_grid_size, read_dicom_series_header

log = logging.getLogger("medmask")

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
PRIVATE_GROUP = 0x0071
PRIVATE_CREATOR = "MEDMASK"
PRIVATE_ELEMENT = 0x01
PRIVATE_VERSION = 1
SEGMENTATION_TYPES = ("binary", "labelmap")


class DicomSegWarning(UserWarning):
    """Something of the masks did not go into the SEG (empty segments, long labels...)."""


def _hd():
    try:
        import highdicom
        import pydicom  # noqa: F401
    except ImportError:  # pragma: no cover
        raise ConversionError("DICOM-SEG needs highdicom and pydicom: pip install 'medmask[dicom]'") from None
    return highdicom


# ------------------------------------------------------------------------------------------
# geometry


def _frame_corners(origin: np.ndarray, d_row: np.ndarray, d_col: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """World positions of a frame's 4 corner pixel centres; d_row/d_col = step down a column / along a row."""
    return np.array([origin, origin + (rows - 1) * d_row, origin + (cols - 1) * d_col,
                     origin + (rows - 1) * d_row + (cols - 1) * d_col])


def _steps(space: Space) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    dirs = (space.x_orientation, space.y_orientation, space.z_orientation)
    return tuple(np.asarray(d, float) * float(s) for d, s in zip(dirs, space.spacing))  # type: ignore[return-value]


def grid_differences(space: Space, series: DicomSeries, tol_fraction: float = 0.1) -> list[str]:
    """How the mask grid differs from the series' grid, frame by frame; empty when they agree.

    Every frame's four corner pixel centres must lie within ``tol_fraction`` of the
    smallest voxel spacing of the series' slice at the same index.
    """
    s = series.space
    out: list[str] = []
    if tuple(space.shape) != tuple(s.shape):
        out.append(f"size: the mask has {space.shape[0]} slices of {space.shape[1]}x{space.shape[2]}, "
                   f"the series {s.shape[0]} slices of {s.shape[1]}x{s.shape[2]}")
    names = ("slice", "row", "column")
    for a in range(3):
        da = np.asarray((space.x_orientation, space.y_orientation, space.z_orientation)[a], float)
        db = np.asarray((s.x_orientation, s.y_orientation, s.z_orientation)[a], float)
        cos = float(np.clip(da @ db, -1, 1))
        if cos < -0.999:
            what = "slice order is reversed" if a == 0 else f"{names[a]} axis is flipped"
            out.append(f"{what}: the mask's axis {a} runs {np.round(da, 4).tolist()}, the series' "
                       f"{np.round(db, 4).tolist()} (LPS)")
        elif np.degrees(np.arccos(cos)) > 0.01:
            out.append(f"orientation: the mask's {names[a]} axis {np.round(da, 4).tolist()} is "
                       f"{np.degrees(np.arccos(cos)):.3f} deg from the series' {np.round(db, 4).tolist()}")
        sa, sb = float(space.spacing[a]), float(s.spacing[a])
        if abs(sa - sb) > 1e-3 * sb:
            out.append(f"spacing: the mask's {names[a]} spacing is {sa:.6g} mm, the series' {sb:.6g} mm")
    tol = tol_fraction * float(min(s.spacing))
    m0, m1, m2 = _steps(space)
    _, s1, s2 = _steps(s)
    origin = np.asarray(space.origin, float)
    rows, cols = int(s.shape[1]), int(s.shape[2])
    bad = []
    for k, ds in enumerate(series.datasets[: int(space.shape[0])]):
        ipp = np.array([float(v) for v in ds.ImagePositionPatient])
        mc = _frame_corners(origin + k * m0, m1, m2, rows, cols)
        sc = _frame_corners(ipp, s1, s2, rows, cols)
        dist = float(np.linalg.norm(mc - sc, axis=1).max())
        if dist > tol:
            bad.append((k, dist, series.files[k].name))
    if bad:
        k, dist, name = bad[0]
        out.append(f"{len(bad)} of {min(len(series.datasets), int(space.shape[0]))} frames are misplaced, up to "
                   f"{max(b[1] for b in bad):.3f} mm (tolerance {tol:.3f} mm); first: mask slice {k} vs {name}, "
                   f"{dist:.3f} mm apart")
    return out


def _onto_series(items: Sequence[tuple[str | None, Any]], space: Space, series: DicomSeries,
                 path) -> tuple[list[tuple[str | None, Any]], Space]:
    """The masks on the series' grid when they hold its voxels in another order or a block of them (views).

    A NIfTI made from the series by dicom2nifti/dcm2niix has its rows reversed; a SEG read on its own
    grid holds only the slices with segments: nothing to resample either way. Masks on a grid that
    really differs are left as they are, for :func:`check_grid` to refuse.
    """
    from ..core.geometry import spaces_equal
    from ..core.grid_match import embed, extend, log_reorder, reorder_mask

    found = embed(space, series.space)
    if found is None or (found[0].identity and found[1] == (0, 0, 0)
                         and tuple(space.shape) == tuple(series.space.shape)):
        return list(items), space
    m, offset = found
    for entry, mask in items:
        if not spaces_equal(mask.space, space):
            raise ConversionError(f"entry {entry!r} has another geometry than the others", path)
    # the series' grid built from the masks' own geometry, so check_grid still measures the masks' grid
    on_series = extend(m.space(space), offset, series.space.shape)
    what = f"{path}: the masks hold the voxels of the series {series.folder}"
    if not m.identity:
        log_reorder(what, m)
    if tuple(m.shape(space.shape)) != tuple(series.space.shape):
        log.info("%s: they cover %s of its %s voxels from index %s; placed exactly, nothing resampled", what,
                 "x".join(map(str, m.shape(space.shape))), "x".join(map(str, series.space.shape)), list(offset))
    return [(entry, reorder_mask(mask, m, on_series, offset)) for entry, mask in items], on_series


def check_grid(space: Space, series: DicomSeries, path=None) -> None:
    """Raise ConversionError saying how the grids differ, unless the mask lies exactly on the series."""
    diffs = grid_differences(space, series)
    if diffs:
        raise ConversionError("the masks are not on the grid of the series " + str(series.folder) + ": "
                              + "; ".join(diffs) + ". Resample the masks onto the series first", path)


# ------------------------------------------------------------------------------------------
# export


def _segment_plan(items: Sequence[tuple[str | None, Any]], space: Space, path) -> tuple[list[dict], list[dict]]:
    """(segments with voxels, JSON description of every entry incl. empty labels)."""
    from ..core.geometry import spaces_equal

    segments: list[dict] = []
    entries: list[dict] = []
    empty: list[str] = []
    for entry, mask in items:
        if not spaces_equal(mask.space, space):
            raise ConversionError(f"entry {entry!r} has another geometry than the others", path)
        labels = sorted(mask.mapping.items(), key=lambda kv: kv[1])
        box, crop = mask.bbox, None
        if box is not None:
            crop = mask.crop_data
        desc: dict[str, Any] = {"name": entry, "dtype": str(mask.dtype), "metadata": _json_safe(mask.metadata),
                                "labels": []}
        for label_name, label in labels:
            display = label_name if entry is None else (entry if len(labels) == 1 else f"{entry}/{label_name}")
            region = None
            if crop is not None:
                region = crop if crop.dtype == bool else crop == label
                if not region.any():
                    region = None
            color = mask.colors.get(label_name)
            ldesc = {"name": label_name, "label": int(label), "segment": None,
                     "color": list(color) if color is not None else None}
            desc["labels"].append(ldesc)
            if region is None:
                empty.append(display)
                continue
            ldesc["segment"] = len(segments) + 1
            segments.append({"number": len(segments) + 1, "label": display, "box": box, "region": region,
                             "color": color, "codes": codes_for(label_name, entry_name=entry, metadata=mask.metadata,
                                                                single_label=len(labels) == 1),
                             "meta": mask.metadata, "label_name": label_name, "single": len(labels) == 1})
        entries.append(desc)
    if empty:
        shown = ", ".join(repr(n) for n in empty[:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
        warnings.warn(f"{len(empty)} empty segment(s) left out of the DICOM-SEG: {shown}", DicomSegWarning,
                      stacklevel=3)
    return segments, entries


def _json_safe(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return None


def _coded(hd, code):
    return hd.sr.CodedConcept(value=code[1], scheme_designator=code[0], meaning=code[2])


def _algorithm_for(seg: dict, algorithm: tuple[str, str] | None, manual: bool) -> tuple[str, tuple[str, str] | None]:
    if manual:
        return "MANUAL", None
    if algorithm is not None:
        return "AUTOMATIC", algorithm
    dicom = seg["meta"].get("dicom") if isinstance(seg["meta"], dict) else None
    if isinstance(dicom, dict) and seg["single"]:
        kind = str(dicom.get("algorithm_type", "")).upper()
        if kind in ("AUTOMATIC", "SEMIAUTOMATIC") and dicom.get("algorithm_name"):
            return kind, (str(dicom["algorithm_name"]), str(dicom.get("algorithm_version") or "unknown"))
        if kind == "MANUAL":
            return "MANUAL", None
    return "MANUAL", None


def _segment_description(hd, seg: dict, algorithm, manual: bool):
    from highdicom.seg import SegmentDescription

    kind, algo = _algorithm_for(seg, algorithm, manual)
    ident = None
    if algo is not None:
        from pydicom.sr.codedict import codes as sr_codes

        ident = hd.AlgorithmIdentificationSequence(name=algo[0][:64], version=algo[1][:64],
                                                   family=sr_codes.DCM.ArtificialIntelligence)
    codes: SegmentCodes = seg["codes"]
    color = seg["color"]
    if color is None:
        from ..core.colors import color_for

        color = color_for(seg["label_name"])
    rgb = [int(round(float(c) * 255)) for c in color[:3]]
    label = seg["label"]
    if len(label) > 64:  # SegmentLabel is a DICOM LO (64 characters); medmask's description keeps it whole
        warnings.warn(f"segment {seg['number']} label {label!r} is longer than DICOM's 64 characters; "
                      f"SegmentLabel holds its first 64", DicomSegWarning, stacklevel=4)
        label = label[:64]
    desc = SegmentDescription(
        segment_number=seg["number"], segment_label=label,
        segmented_property_category=_coded(hd, codes.category),
        segmented_property_type=_coded(hd, codes.type),
        algorithm_type=kind, algorithm_identification=ident,
        tracking_uid=hd.UID(), tracking_id=label,
        anatomic_regions=[_coded(hd, codes.anatomic_region)] if codes.anatomic_region else None,
        display_color=hd.color.CIELabColor.from_rgb(*rgb))
    if codes.type_modifier:
        desc.SegmentedPropertyTypeCodeSequence[0].SegmentedPropertyTypeModifierCodeSequence = [
            _coded(hd, codes.type_modifier)]
    if codes.anatomic_region and codes.anatomic_region_modifier:
        desc.AnatomicRegionSequence[0].AnatomicRegionModifierSequence = [_coded(hd, codes.anatomic_region_modifier)]
    return desc


def _label_map(segments: list[dict], shape: tuple[int, int, int], path) -> np.ndarray:
    """The segments as one label volume for highdicom (LABELMAP, or a lone BINARY segment); refuses overlaps."""
    from ..core.geometry import bbox_slices

    lab = np.zeros(shape, dtype=np.uint8 if len(segments) < 256 else np.uint16)
    for seg in segments:
        view = lab[bbox_slices(seg["box"])]
        taken = view[seg["region"]]
        if taken.any():
            other = int(taken[taken != 0][0])
            raise ConversionError(f"LABELMAP cannot hold overlapping segments: {segments[other - 1]['label']!r} and "
                                  f"{seg['label']!r} share {int(np.count_nonzero(taken))} voxels; use the BINARY type",
                                  path)
        view[seg["region"]] = seg["number"]
    return lab


def _segments_overlap(segments: list[dict]) -> bool:
    """True when two segments share a voxel: only pairs whose boxes intersect are looked at."""
    if len(segments) < 2:
        return False
    lo = np.array([[a for a, _ in seg["box"]] for seg in segments])
    hi = np.array([[b for _, b in seg["box"]] for seg in segments])
    meets = np.all((lo[:, None, :] < hi[None, :, :]) & (lo[None, :, :] < hi[:, None, :]), axis=2)
    for i, j in zip(*np.nonzero(np.triu(meets, 1))):
        a, b = segments[i], segments[j]
        common = [(max(x[0], y[0]), min(x[1], y[1])) for x, y in zip(a["box"], b["box"])]
        sa = tuple(slice(c0 - x[0], c1 - x[0]) for (c0, c1), x in zip(common, a["box"]))
        sb = tuple(slice(c0 - y[0], c1 - y[0]) for (c0, c1), y in zip(common, b["box"]))
        if np.logical_and(a["region"][sa], b["region"][sb]).any():
            return True
    return False


def _segmentation_options(hd, st: str, descriptions, series_number: int, series_description, version: str,
                          kwargs: dict) -> dict:
    """Every argument of highdicom's Segmentation constructor but the source images and the pixels."""
    return dict(
        segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP if st == "labelmap"
        else hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=series_number,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="medmask",
        manufacturer_model_name="medmask", software_versions=str(version), device_serial_number="none",
        series_description=(series_description or "Segmentation")[:64], content_label="SEGMENTATION",
        content_description=None, omit_empty_frames=True, **kwargs)


def _build_binary(hd, series: DicomSeries, segments: list[dict], shape: tuple[int, int, int], options: dict):
    """A BINARY SEG of several (possibly overlapping) segments, without a dense (slices, rows, columns, segments) stack.

    Given such a stack, highdicom visits every (segment, slice) pair and needs one byte per
    voxel and segment (1.2 GB for 117 segments of s0000). Here highdicom builds the whole
    dataset (segment descriptions, references, shared functional groups, dimension index,
    SpacingBetweenSlices from all planes) from a label map holding one voxel; then only the
    frames are put in with pydicom: the per-frame functional groups as highdicom builds them
    (segment by segment, planes in highdicom's order; DimensionIndexValues = segment, rank among
    the planes holding any segment) and the frames bit-packed once per segment with numpy.
    ``tests/dicom/test_dicom_seg_frames.py`` checks the result equals highdicom's own output.
    """
    from pydicom.dataelem import DataElement
    from pydicom.dataset import Dataset
    from pydicom.sr.codedict import codes

    n, rows, cols = shape
    first = segments[0]
    skeleton = np.zeros(shape, dtype=np.uint8 if len(segments) < 256 else np.uint16)
    k, r, c = (int(v) for v in np.argwhere(first["region"])[0])
    skeleton[k + first["box"][0][0], r + first["box"][1][0], c + first["box"][2][0]] = 1
    seg = hd.seg.Segmentation(source_images=series.datasets, pixel_array=skeleton, **options)
    del skeleton

    # highdicom's plane order: by distance along its normal (column x row cosines, against medmask's axis 0)
    positions = hd.utils.get_plane_positions_of_series(series.datasets)
    normal = hd.spatial.get_normal_vector(series.datasets[0].ImageOrientationPatient,
                                          index_convention=hd.spatial.VOLUME_INDEX_CONVENTION)
    order = np.argsort(np.array([p[0].ImagePositionPatient for p in positions], dtype=float) @ normal, kind="stable")
    place = np.empty(n, dtype=np.int64)
    place[order] = np.arange(n)
    # the planes (source slices) each segment covers in that order, and each covered plane's rank among them
    planes_of = []
    for s in segments:
        planes = np.flatnonzero(s["region"].any(axis=(1, 2))) + s["box"][0][0]
        planes_of.append(planes[np.argsort(place[planes])])
    covered = np.zeros(n, dtype=bool)
    for p in planes_of:
        covered[place[p]] = True
    rank = np.cumsum(covered)[place]  # plane k -> 1-based rank of k among the covered planes

    derivation = hd.sr.CodedConcept.from_code(codes.cid7203.SegmentationImageDerivation)
    purpose = hd.sr.CodedConcept.from_code(codes.cid7202.SourceImageForImageProcessingOperation)
    derived: dict[int, Dataset] = {}

    def derivation_item(k: int) -> Dataset:
        if k not in derived:
            source = Dataset()
            source.add(DataElement(0x00081150, "UI", series.datasets[k].SOPClassUID))  # ReferencedSOPClassUID
            source.add(DataElement(0x00081155, "UI", series.datasets[k].SOPInstanceUID))  # ReferencedSOPInstanceUID
            source.add(DataElement(0x0040A170, "SQ", [purpose]))  # PurposeOfReferenceCodeSequence
            source.add(DataElement(0x0028135A, "CS", "YES"))  # SpatialLocationsPreserved
            item = Dataset()
            item.add(DataElement(0x00089215, "SQ", [derivation]))  # DerivationCodeSequence
            item.add(DataElement(0x00082112, "SQ", [source]))  # SourceImageSequence
            derived[k] = item
        return derived[k]

    per_frame: list[Dataset] = []
    packed: list[bytes] = []
    carry = np.empty(0, dtype=bool)  # when rows * columns is not a multiple of 8, frames share a byte
    for s, planes in zip(segments, planes_of):
        ident = Dataset()
        ident.add(DataElement(0x0062000B, "US", int(s["number"])))  # ReferencedSegmentNumber
        for k in planes.tolist():
            content = Dataset()
            content.add(DataElement(0x00209157, "UL", [int(s["number"]), int(rank[k])]))  # DimensionIndexValues
            item = Dataset()
            item.add(DataElement(0x00209111, "SQ", [content]))  # FrameContentSequence
            item.add(DataElement(0x00209113, "SQ", positions[k]))  # PlanePositionSequence
            item.add(DataElement(0x00089124, "SQ", [derivation_item(k)]))  # DerivationImageSequence
            item.add(DataElement(0x0062000A, "SQ", [ident]))  # SegmentIdentificationSequence
            per_frame.append(item)
        (k0, _), (r0, r1), (c0, c1) = s["box"]
        block = np.zeros((len(planes), rows, cols), dtype=bool)
        block[:, r0:r1, c0:c1] = s["region"][planes - k0]
        bits = np.concatenate([carry, block.ravel()]) if carry.size else block.ravel()
        whole = bits.size - bits.size % 8
        packed.append(np.packbits(bits[:whole], bitorder="little").tobytes())
        carry = bits[whole:]
    if carry.size:
        packed.append(np.packbits(carry, bitorder="little").tobytes())
    pixel_data = b"".join(packed)
    if len(pixel_data) % 2:
        pixel_data += b"\x00"
    _skip_vr_correction(per_frame)
    seg.PerFrameFunctionalGroupsSequence = per_frame
    seg.NumberOfFrames = len(per_frame)
    seg.PixelData = pixel_data
    seg.SegmentsOverlap = "YES" if _segments_overlap(segments) else "NO"
    return seg


def _skip_vr_correction(items) -> None:
    """Tell pydicom these new datasets are already explicit VR little endian, as the file will be.

    pydicom otherwise runs its ambiguous-VR correction on every nested item again when writing
    (a third of the write time for 4,000 frames); these items hold no ambiguous VR (US/SS, OB/OW).
    """
    from pydicom.charset import default_encoding

    seen: set[int] = set()
    stack = list(items)
    while stack:
        ds = stack.pop()
        if id(ds) in seen:
            continue
        seen.add(id(ds))
        ds.set_original_encoding(False, True, default_encoding)
        for elem in ds:
            if elem.VR == "SQ":
                stack.extend(elem.value)


def build_segmentation(hd, series: DicomSeries, segments: list[dict], shape: tuple[int, int, int], options: dict,
                       path=None):
    """The highdicom Segmentation of ``segments`` (LABELMAP or BINARY, as ``options`` say)."""
    labelmap = options["segmentation_type"] == hd.seg.SegmentationTypeValues.LABELMAP
    if labelmap or len(segments) == 1:  # one label volume: highdicom visits each slice once
        seg = hd.seg.Segmentation(source_images=series.datasets, pixel_array=_label_map(segments, shape, path),
                                  **options)
        if not labelmap:
            _pack_tiny_frames(seg, shape[1] * shape[2])
        return seg
    return _build_binary(hd, series, segments, shape, options)


def _pack_tiny_frames(seg, pixels: int) -> None:
    """Frames of fewer than 8 one-bit pixels back to back, as PS3.5 8.1.1 says and readers expect.

    highdicom (0.28) stores each such frame in a byte of its own (its test is ``rows * columns // 8``
    where ``% 8`` is meant), so the SEG of e.g. a 1 x 1 or 2 x 3 grid read back wrong.
    """
    n = int(seg.NumberOfFrames)
    if pixels >= 8 or n < 2 or len(seg.PixelData) != n + n % 2:
        return  # frames already back to back (or highdicom fixed it)
    frames = np.frombuffer(seg.PixelData, np.uint8)[:n, None]
    bits = np.unpackbits(frames, axis=1, bitorder="little")[:, :pixels]
    packed = np.packbits(bits.ravel(), bitorder="little").tobytes()
    seg.PixelData = packed + b"\x00" * (len(packed) % 2)


def write_dicom_seg(items: Sequence[tuple[str | None, Any]], space: Space, dst: str | os.PathLike, *,
                    series: str | os.PathLike | DicomSeries, segmentation_type: str = "binary",
                    series_description: str | None = None, algorithm: tuple[str, str] | str | None = None,
                    manual: bool = False, series_number: int = 300, content_creator: str | None = None) -> Path:
    """Write (entry name or None, SegmentationMask) pairs as one DICOM-SEG referencing ``series``.

    One segment per label (named like the ``.seg.nrrd`` export: the entry, ``entry/label``
    or, for a lone mask, the label). ``segmentation_type="labelmap"`` writes a LABELMAP
    SEG (refused when segments overlap). ``algorithm=(name, version)`` (or ``"name:version"``)
    marks segments AUTOMATIC; ``manual=True`` MANUAL; otherwise what an earlier SEG
    import recorded, else MANUAL.
    """
    hd = _hd()
    from ..storage.atomic import atomic_write

    dst = Path(dst)
    st = segmentation_type.lower()
    if st not in SEGMENTATION_TYPES:
        raise ConversionError(f"segmentation type must be one of {SEGMENTATION_TYPES}, got {segmentation_type!r}",
                              dst)
    if isinstance(algorithm, str):
        name, _, version = algorithm.partition(":")
        algorithm = (name.strip(), version.strip() or "unknown")
    if algorithm is not None and manual:
        raise ConversionError("choose either an algorithm (AUTOMATIC) or manual, not both", dst)
    if algorithm is not None and not algorithm[0]:
        raise ConversionError("the algorithm needs a name", dst)
    if not isinstance(series, DicomSeries):
        series = read_dicom_series_header(series)
    for f, ds in zip(series.files, series.datasets):
        if not str(ds.get("SOPInstanceUID", "") or "").strip():
            raise ConversionError("has no SOP Instance UID, so a DICOM-SEG cannot reference it", f)
        for kw in ("SOPClassUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
            if not str(ds.get(kw, "") or "").strip():
                raise ConversionError(f"has no {kw}, which a DICOM-SEG must copy or reference", f)
    items, on_series = _onto_series(items, space, series, dst)
    check_grid(on_series, series, dst)
    segments, entries = _segment_plan(items, on_series, dst)
    if not segments:
        raise ConversionError("every entry is empty: a DICOM-SEG needs at least one non-empty segment", dst)
    if algorithm is None and not manual and not any(
            isinstance(seg["meta"].get("dicom"), dict) and seg["meta"]["dicom"].get("algorithm_type")
            for seg in segments):
        warnings.warn("no algorithm named: segments are marked MANUAL (pass algorithm='name:version' / "
                      "--algorithm for automatic results, manual=True / --manual to say so)", DicomSegWarning,
                      stacklevel=2)
    descriptions = [_segment_description(hd, seg, algorithm, manual) for seg in segments]
    from .. import __version__ as version

    kwargs: dict[str, Any] = {}
    if content_creator:
        kwargs["content_creator_name"] = content_creator
    try:
        with warnings.catch_warnings():
            # the source's single-component PatientName ("Anonymous") is copied as it is, on purpose
            warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name")
            options = _segmentation_options(hd, st, descriptions, series_number, series_description, version, kwargs)
            seg = build_segmentation(hd, series, segments, tuple(int(v) for v in on_series.shape), options, dst)
    except MedMaskError:
        raise
    except Exception as exc:  # highdicom's ValueError/TypeError about the input
        raise ConversionError(f"highdicom refused the segmentation: {exc}", dst) from None
    from ..core.geometry import space_to_dict

    block = seg.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(PRIVATE_ELEMENT, "UT", json.dumps(
        {"version": PRIVATE_VERSION, "space": space_to_dict(space), "entries": entries},
        separators=(",", ":"), allow_nan=False))
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dst) as f:
        seg.save_as(f, enforce_file_format=True)
    return dst


# ------------------------------------------------------------------------------------------
# import


def _code_of(item) -> list[str] | None:
    try:
        return [str(item.CodingSchemeDesignator), str(item.CodeValue), str(item.CodeMeaning)]
    except AttributeError:
        long_value = getattr(item, "LongCodeValue", None) or getattr(item, "URNCodeValue", None)
        if long_value:
            return [str(getattr(item, "CodingSchemeDesignator", "")), str(long_value),
                    str(getattr(item, "CodeMeaning", ""))]
        return None


def _first_code(ds, keyword) -> list[str] | None:
    seq = ds.get(keyword)
    return _code_of(seq[0]) if seq else None


def _segment_info(item) -> dict[str, Any]:
    info: dict[str, Any] = {"segment_number": int(item.SegmentNumber),
                            "segment_label": str(item.get("SegmentLabel", "") or "")}
    cat = _first_code(item, "SegmentedPropertyCategoryCodeSequence")
    typ = _first_code(item, "SegmentedPropertyTypeCodeSequence")
    if cat:
        info["category"] = cat
    if typ:
        info["type"] = typ
        mod = _first_code(item.SegmentedPropertyTypeCodeSequence[0], "SegmentedPropertyTypeModifierCodeSequence")
        if mod:
            info["type_modifier"] = mod
    region = _first_code(item, "AnatomicRegionSequence")
    if region:
        info["anatomic_region"] = region
        mod = _first_code(item.AnatomicRegionSequence[0], "AnatomicRegionModifierSequence")
        if mod:
            info["anatomic_region_modifier"] = mod
    info["algorithm_type"] = str(item.get("SegmentAlgorithmType", "") or "")
    algo = item.get("SegmentationAlgorithmIdentificationSequence")
    if algo:
        info["algorithm_name"] = str(algo[0].get("AlgorithmName", "") or "")
        info["algorithm_version"] = str(algo[0].get("AlgorithmVersion", "") or "")
    elif item.get("SegmentAlgorithmName"):
        info["algorithm_name"] = str(item.SegmentAlgorithmName)
    for kw, key in (("TrackingID", "tracking_id"), ("TrackingUID", "tracking_uid"),
                    ("SegmentDescription", "description")):
        if item.get(kw):
            info[key] = str(item.get(kw))
    lab = item.get("RecommendedDisplayCIELabValue")
    if lab is not None:
        info["cielab"] = [int(v) for v in lab]
    return info


def _rgb_of(info: dict) -> tuple[float, float, float, float] | None:
    if "cielab" not in info:
        return None
    import highdicom as hd

    try:
        r, g, b = hd.color.CIELabColor.from_dicom_value(info["cielab"]).to_rgb(clip=True)
    except Exception:
        return None
    return (r / 255, g / 255, b / 255, 1.0)


def _functional(ds, frame_item, keyword):
    """An attribute sequence item from the frame's functional groups, else the shared ones."""
    if frame_item is not None and keyword in frame_item:
        return frame_item[keyword].value[0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and keyword in shared[0]:
        return shared[0][keyword].value[0]
    return None


_PLANE_POSITION = 0x00209113  # PlanePositionSequence
_IMAGE_POSITION = 0x00200032  # ImagePositionPatient
_SEGMENT_IDENTIFICATION = 0x0062000A  # SegmentIdentificationSequence
_SEGMENT_NUMBER = 0x0062000B  # ReferencedSegmentNumber


class _PackedFrames:
    """The frames of a native BINARY SEG, unpacked only when asked for (a few at a time, with numpy).

    pydicom's ``pixel_array`` unpacks every frame at once, one byte per pixel (233 MB for
    4,000 frames of 192 x 294); a segment needs only its own frames.
    """

    def __init__(self, data: bytes, n: int, rows: int, cols: int):
        self.bits = rows * cols
        self.rows, self.cols = rows, cols
        self.buf = np.frombuffer(data, dtype=np.uint8)
        self.shape = (n, rows, cols)

    def take(self, frames: np.ndarray) -> np.ndarray:
        """(len(frames), rows, cols) bool."""
        if self.bits % 8 == 0:
            per = self.bits // 8
            chosen = self.buf[: self.shape[0] * per].reshape(self.shape[0], per)[frames]
            return np.unpackbits(chosen, axis=1, bitorder="little").view(bool).reshape(len(frames), self.rows,
                                                                                      self.cols)
        out = np.empty((len(frames), self.bits), dtype=bool)
        for i, f in enumerate(np.asarray(frames).tolist()):  # frames share bytes: cut each one out of its bytes
            start = f * self.bits
            lo, shift = divmod(start, 8)
            chunk = np.unpackbits(self.buf[lo: (start + self.bits + 7) // 8], bitorder="little")
            out[i] = chunk[shift: shift + self.bits]
        return out.reshape(len(frames), self.rows, self.cols)


def _binary_frames(ds, path) -> _PackedFrames | None:
    """The packed frames of an uncompressed BINARY SEG, or None (another type or compressed: use pixel_array)."""
    if str(ds.get("SegmentationType", "")).upper() != "BINARY" or int(ds.get("BitsAllocated", 0) or 0) != 1:
        return None
    ts = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if ts is None or ts.is_compressed or not ts.is_little_endian or "PixelData" not in ds:
        return None
    n = int(ds.get("NumberOfFrames", 1) or 1)
    rows, cols = int(ds.Rows), int(ds.Columns)
    data = ds.PixelData
    if len(data) * 8 < n * rows * cols:
        raise ConversionError(f"pixel data holds {len(data)} bytes, {n} frames of {rows}x{cols} bits need "
                              f"{-(-n * rows * cols // 8)}", path)
    return _PackedFrames(data, n, rows, cols)


def _frames(ds, path) -> np.ndarray:
    """All frames as (n, rows, cols) uint8/uint16 (bits unpacked)."""
    try:
        arr = ds.pixel_array
    except Exception as exc:
        raise ConversionError(f"the SEG's pixel data cannot be decoded: {exc}", path) from None
    n = int(ds.get("NumberOfFrames", 1) or 1)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape[0] != n:
        raise ConversionError(f"pixel data holds {arr.shape[0]} frames, NumberOfFrames says {n}", path)
    return arr


class _Geometry:
    """The frames' plane positions related to a Space: frame f -> (slice k, row offset, column offset)."""

    def __init__(self, ds, path):
        per_frame = ds.get("PerFrameFunctionalGroupsSequence") or []
        n = int(ds.get("NumberOfFrames", 1) or 1)
        if len(per_frame) != n:
            raise ConversionError(f"{len(per_frame)} per-frame functional groups for {n} frames", path)
        orient = _functional(ds, per_frame[0] if per_frame else None, "PlaneOrientationSequence")
        measures = _functional(ds, per_frame[0] if per_frame else None, "PixelMeasuresSequence")
        if orient is None or measures is None or "ImageOrientationPatient" not in orient:
            raise ConversionError("the SEG has no plane orientation or pixel measures (not a volume SEG?)", path)
        iop = np.array([float(v) for v in orient.ImageOrientationPatient])
        self.row_dir, self.col_dir = iop[:3], iop[3:]
        self.normal = np.cross(self.row_dir, self.col_dir)
        self.pixel_spacing = np.array([float(v) for v in measures.PixelSpacing])
        sbs = measures.get("SpacingBetweenSlices")
        self.spacing_between = float(sbs) if sbs not in (None, "") else None
        self.thickness = float(measures.get("SliceThickness") or 0) or None
        labelmap = str(ds.get("SegmentationType", "")).upper() == "LABELMAP"
        # per frame, or shared by all frames (one segment, one slice); tags, not keywords: 4,000+ frames
        shared = ds.get("SharedFunctionalGroupsSequence")
        shared = shared[0] if shared else {}
        shared_plane = shared.get(_PLANE_POSITION)
        shared_ident = shared.get(_SEGMENT_IDENTIFICATION)
        pos: list = []
        seg_numbers = np.zeros(n, dtype=np.int64)
        for f, item in enumerate(per_frame):
            try:
                plane = (item.get(_PLANE_POSITION) or shared_plane).value[0]
                pos.append(plane[_IMAGE_POSITION].value)
            except (AttributeError, KeyError, IndexError, TypeError):
                raise ConversionError(f"frame {f + 1} has no plane position", path) from None
            if not labelmap:
                try:
                    seg_numbers[f] = int((item.get(_SEGMENT_IDENTIFICATION) or shared_ident).value[0][_SEGMENT_NUMBER].value)
                except (AttributeError, KeyError, IndexError, TypeError, ValueError):
                    raise ConversionError(f"frame {f + 1} names no segment", path) from None
        try:
            pos_arr = np.array(pos, dtype=float).reshape(n, 3)
        except (TypeError, ValueError):
            raise ConversionError("a frame's ImagePositionPatient is not 3 numbers", path) from None
        self.positions = pos_arr
        self.segment_numbers = seg_numbers
        self.rows, self.cols = int(ds.Rows), int(ds.Columns)

    def derived_space(self, path) -> Space:
        """The smallest regular grid holding every frame, axis 0 along the slice normal."""
        along = self.positions @ self.normal
        uniq = np.unique(np.round(along, 4))
        if uniq.size > 1:
            spacing = self.spacing_between or float(np.diff(uniq).min())
        else:
            spacing = self.spacing_between or self.thickness or 1.0
        k0 = int(np.argmin(along))
        origin = self.positions[k0]
        if not (np.isfinite(along).all() and np.isfinite(spacing) and spacing > 0):
            raise ConversionError(f"frame positions or slice spacing ({spacing}) are not finite positive numbers",
                                  path)
        n = int(round((along.max() - along.min()) / spacing)) + 1
        # a frame moved far away must not decide the size of the grid alone
        check_grid_size((n, self.rows, self.cols), 1, "grid spanned by the SEG's frames", path)
        return Space(shape=(n, self.rows, self.cols), origin=tuple(float(v) for v in origin),
                     spacing=(float(spacing), float(self.pixel_spacing[0]), float(self.pixel_spacing[1])),
                     x_orientation=tuple(float(v) for v in self.normal),
                     y_orientation=tuple(float(v) for v in self.col_dir),
                     z_orientation=tuple(float(v) for v in self.row_dir))

    def indices(self, space: Space, path) -> np.ndarray:
        """(n_frames, 3) integer voxel index of each frame's first pixel in ``space``; checks orientation too."""
        from ..core.geometry import index_to_world_affine

        s1, s2 = _steps(space)[1:]
        d_row = self.col_dir * self.pixel_spacing[0]
        d_col = self.row_dir * self.pixel_spacing[1]
        tol = 0.1 * float(min(space.spacing))
        if (np.linalg.norm(s1 - d_row) * (self.rows - 1) > tol) or (np.linalg.norm(s2 - d_col) * (self.cols - 1) > tol):
            raise ConversionError("the SEG's frames are not oriented or spaced like the target grid "
                                  f"(frame rows {np.round(d_row, 5).tolist()}, columns {np.round(d_col, 5).tolist()}"
                                  f"; grid {np.round(s1, 5).tolist()}, {np.round(s2, 5).tolist()})", path)
        inv = np.linalg.inv(index_to_world_affine(space))
        idx = (inv[:3, :3] @ self.positions.T).T + inv[:3, 3]
        rounded = np.round(idx)
        err = np.abs(idx - rounded) * np.asarray(space.spacing, float)
        if err.max() > tol:
            f = int(np.argmax(err.max(axis=1)))
            raise ConversionError(f"frame {f + 1} at {np.round(self.positions[f], 4).tolist()} lies between the "
                                  f"target grid's voxels ({err[f].max():.3f} mm off)", path)
        rounded = rounded.astype(np.int64)
        shape = np.asarray(space.shape)
        outside = (rounded[:, 0] < 0) | (rounded[:, 0] >= shape[0]) | (rounded[:, 1] < 0) | (rounded[:, 2] < 0) \
            | (rounded[:, 1] + self.rows > shape[1]) | (rounded[:, 2] + self.cols > shape[2])
        if outside.any():
            f = int(np.flatnonzero(outside)[0])
            raise ConversionError(f"frame {f + 1} at {np.round(self.positions[f], 3).tolist()} lies outside the "
                                  f"target grid {tuple(space.shape)}", path)
        return rounded


def _frame_grid(geom: _Geometry, space: Space, path):
    """(the reordering of ``space`` whose rows and columns run like the SEG's frames, frame indices on it).

    A SEG of the same voxels in another axis order (dcmqi writes the frames of a dicom2nifti
    NIfTI with their rows reversed) is placed exactly; a grid that really differs is refused
    with the message comparing the frames to ``space`` as given.
    """
    from ..core.grid_match import orient

    along = orient(space, (None, geom.col_dir, geom.row_dir))
    try:
        return along, geom.indices(along.space(space), path)
    except ConversionError:
        if not along.identity:
            geom.indices(space, path)  # the message about the grid the user gave
        raise


def _private_json(ds) -> dict | None:
    try:
        block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR)
        data = json.loads(str(block[PRIVATE_ELEMENT].value))
    except (KeyError, ValueError, TypeError):
        return None
    return data if isinstance(data, dict) and data.get("version") == PRIVATE_VERSION else None


def read_dicom_seg(path: str | os.PathLike, *, space: Space | None = None,
                   series: str | os.PathLike | DicomSeries | None = None) -> tuple[Space, list[tuple[str | None, Any]]]:
    """(Space, [(entry name, SegmentationMask)]) of a DICOM-SEG file.

    A SEG medmask wrote gives back its entries exactly. Any other SEG gives one binary
    entry per segment, named after its SegmentLabel (made unique), with its colour and
    ``metadata["dicom"]`` holding its codes, algorithm, tracking ids and number.
    The grid is the SEG's own (from the plane positions), or ``space`` / the grid of
    ``series`` when given (e.g. to put the masks on their CT).
    """
    _hd()
    import pydicom

    from ..core.geometry import bbox_slices, compute_bbox, space_from_dict
    from ..core.grid_match import log_reorder
    from ..core.segmask import SegmentationMask

    path = Path(path)
    check_regular_file(path, "a DICOM-SEG file")
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:
        raise ConversionError(f"not a readable DICOM file ({exc})", path) from None
    sop = str(ds.get("SOPClassUID", "") or "")
    if sop not in (SEG_SOP_CLASS, LABELMAP_SEG_SOP_CLASS):
        raise ConversionError(f"is not a DICOM Segmentation (SOP Class {sop or 'missing'}, modality "
                              f"{ds.get('Modality', 'missing')})", path)
    seg_type = str(ds.get("SegmentationType", "BINARY")).upper()
    items = ds.get("SegmentSequence") or []
    if not items:
        raise ConversionError("the SEG describes no segments", path)
    # a LABELMAP SEG describes its background as segment 0: not a segment of anything
    infos = {int(it.SegmentNumber): _segment_info(it) for it in items if int(it.SegmentNumber) > 0}
    geom = _Geometry(ds, path)
    frames = _binary_frames(ds, path)
    if frames is None:
        frames = _frames(ds, path)
    private = _private_json(ds)
    if series is not None:
        space = (series if isinstance(series, DicomSeries) else read_dicom_series_header(series)).space
    if space is None and private is not None:
        try:
            space = space_from_dict(private["space"], max_voxels=limits.MAX_VOXELS)
            _frame_grid(geom, space, path)
        except (MedMaskError, KeyError):
            private, space = None, None
    if space is None:
        space = geom.derived_space(path)
    # the frames are placed on the target grid reordered to run like them, then put back in its order
    along, idx = _frame_grid(geom, space, path)
    back, frame_shape = along.inverse(), along.shape(space.shape)
    if not along.identity:
        log_reorder(f"{path}: the SEG's frames hold the voxels of the grid {tuple(space.shape)}", back)
    threshold = 0
    if seg_type == "FRACTIONAL":
        threshold = int(ds.get("MaximumFractionalValue", 255)) // 2
        warnings.warn(f"{path}: FRACTIONAL segmentation read as binary (value > {threshold} of "
                      f"{ds.get('MaximumFractionalValue', 255)})", DicomSegWarning, stacklevel=2)

    # frames of each segment -> (box, bool crop)
    regions: dict[int, tuple[Any, np.ndarray]] = {}
    if seg_type == "LABELMAP":
        numbers = sorted(infos)
        by_number = {n: [] for n in numbers}
        for f in range(frames.shape[0]):
            for n in np.unique(frames[f]):
                if int(n) in by_number:
                    by_number[int(n)].append(f)
        frame_lists = by_number
    else:
        frame_lists = {}
        for f, n in enumerate(geom.segment_numbers.tolist()):
            frame_lists.setdefault(n, []).append(f)
    for number, flist in frame_lists.items():
        if number not in infos or not flist:
            continue
        fl = np.asarray(flist)
        ks, rs, cs = idx[fl, 0], idx[fl, 1], idx[fl, 2]
        k0, k1 = int(ks.min()), int(ks.max()) + 1
        r0, c0 = int(rs.min()), int(cs.min())
        r1, c1 = int(rs.max()) + geom.rows, int(cs.max()) + geom.cols
        check_grid_size((k1 - k0, r1 - r0, c1 - c0), 1, f"region of segment {number}", path)
        block = np.zeros((k1 - k0, r1 - r0, c1 - c0), dtype=bool)
        if isinstance(frames, _PackedFrames) and r1 - r0 == geom.rows and c1 - c0 == geom.cols \
                and np.unique(ks).size == ks.size:
            block[ks - k0] = frames.take(fl)  # one frame per slice, all at the same row/column: at once
        else:
            hits = frames.take(fl) if isinstance(frames, _PackedFrames) else None
            for i, (f, k, r, c) in enumerate(zip(fl.tolist(), ks.tolist(), rs.tolist(), cs.tolist())):
                if hits is not None:
                    hit = hits[i]
                else:
                    fr = frames[f]
                    hit = fr == number if seg_type == "LABELMAP" else fr > threshold
                block[k - k0, r - r0:r - r0 + geom.rows, c - c0:c - c0 + geom.cols] |= hit
        sub = compute_bbox(block)
        if sub is None:
            continue
        box = tuple((lo + a, lo + b) for lo, (a, b) in zip((k0, r0, c0), sub))
        regions[number] = (back.box(box, frame_shape), back.reorder(np.ascontiguousarray(block[bbox_slices(sub)])))

    if private is not None:
        rebuilt = _rebuild_from_private(private, infos, regions, space, path)
        if rebuilt is not None:
            return space, rebuilt
    out: list[tuple[str | None, Any]] = []
    used: set[str] = set()
    series_meta = {"series_instance_uid": str(ds.get("SeriesInstanceUID", "")),
                   "sop_instance_uid": str(ds.get("SOPInstanceUID", ""))}
    ref = ds.get("ReferencedSeriesSequence")
    if ref:
        series_meta["referenced_series_instance_uid"] = str(ref[0].get("SeriesInstanceUID", ""))
    for number in sorted(infos):
        info = infos[number]
        name = info["segment_label"] or f"segment_{number}"
        base, n = name, 1
        while name in used:
            n += 1
            name = f"{base}_{n}"
        used.add(name)
        color = _rgb_of(info)
        box, crop = regions.get(number, (None, None))
        meta = {"dicom": {**info, **series_meta}}
        try:
            mask = SegmentationMask.from_crop(crop, box, {name: 1}, space, np.dtype(bool),
                                              colors={name: color} if color else None, metadata=meta)
        except MedMaskError as exc:
            raise ConversionError(exc.problem, path) from None
        out.append((name, mask))
    return space, out


def _rebuild_from_private(private: dict, infos: dict, regions: dict, space: Space, path) -> list | None:
    """Entries exactly as medmask wrote them, or None (with a warning) if the SEG was changed since."""
    from ..core.geometry import bbox_slices
    from ..core.segmask import SegmentationMask

    try:
        entries = private["entries"]
        out = []
        seen = set()
        for e in entries:
            dtype = np.dtype(e["dtype"])
            labels = e["labels"]
            boxes = []
            for lab in labels:
                num = lab["segment"]
                if num is None:
                    continue
                if num not in infos or num in seen:
                    raise KeyError(num)
                seen.add(num)
                if num in regions:
                    boxes.append(regions[num][0])
            mapping = {lab["name"]: int(lab["label"]) for lab in labels}
            colors = {lab["name"]: tuple(lab["color"]) for lab in labels if lab.get("color") is not None}
            if boxes:
                box = tuple((min(b[a][0] for b in boxes), max(b[a][1] for b in boxes)) for a in range(3))
                crop = np.zeros(tuple(b - a for a, b in box), dtype=dtype)
                for lab in labels:
                    num = lab["segment"]
                    if num is None or num not in regions:
                        continue
                    rbox, region = regions[num]
                    sub = tuple(slice(r[0] - b[0], r[1] - b[0]) for r, b in zip(rbox, box))
                    crop[sub][region] = True if dtype == bool else int(lab["label"])
            else:
                box, crop = None, None
            mask = SegmentationMask.from_crop(crop, box, mapping, space, dtype, colors=colors or None,
                                              metadata=e.get("metadata") or None)
            out.append((e["name"], mask))
        if seen != set(infos):
            raise KeyError("segments")
        return out
    except (KeyError, TypeError, ValueError, MedMaskError):
        warnings.warn(f"{path}: the medmask description inside the SEG does not match its segments (edited by "
                      f"another tool?); reading the segments as they are", DicomSegWarning, stacklevel=3)
        return None


def archive_to_dicom_seg(src: str | os.PathLike, dst: str | os.PathLike, *, series: Any,
                         names: Iterable[str] | None = None, **options: Any) -> Path:
    """Entries of a ``.mska`` (all, or ``names``) as one DICOM-SEG referencing ``series``."""
    from .. import MaskArchive

    with MaskArchive(src, mode="r") as archive:
        wanted = list(names) if names is not None else archive.all_names()
        items = [(n, archive.load_segmask(n)) for n in wanted]
        space = archive.space
    return write_dicom_seg(items, space, dst, series=series, **options)


def dicom_seg_to_archive(src: str | os.PathLike, dst: str | os.PathLike, **kwargs) -> Path:
    """A DICOM-SEG as a ``.mska`` archive (one entry per segment, or medmask's entries)."""
    from ..storage.archive_builder import write_archive

    space, items = read_dicom_seg(src, **kwargs)
    default = Path(src).name.split(".")[0]
    write_archive(Path(dst), space, [(name if name is not None else default, mask) for name, mask in items])
    return Path(dst)


def is_dicom_seg(path: str | os.PathLike) -> bool:
    """True for a DICOM file whose SOP Class is a Segmentation (reads the header only)."""
    from .dicom_series import is_dicom_file

    if not Path(path).is_file() or not is_dicom_file(path):
        return False
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except Exception:
        return False
    return str(ds.get("SOPClassUID", "")) in (SEG_SOP_CLASS, LABELMAP_SEG_SOP_CLASS)


__all__ = ["write_dicom_seg", "read_dicom_seg", "archive_to_dicom_seg", "dicom_seg_to_archive", "grid_differences", "check_grid",
           "is_dicom_seg", "DicomSegWarning"]
