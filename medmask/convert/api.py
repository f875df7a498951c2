"""One entry point, :func:`convert`, choosing the conversion from the paths' extensions."""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
from spacetransformer import Space

from ..core.dtypes import smallest_label_dtype
from ..core.overlap import OVERLAP_POLICIES, apply_overlap_policy, describe_clashes, labels_without_voxels
from ..errors import ConversionError, MaskOverlapWarning, MedMaskError
from ..optional import progress_bar
from ..storage.archive_builder import write_archive
from ..storage.atomic_folder import atomic_folder, foreign_files
from ..storage.bytesource import is_url
from . import nifti as nii
from . import nifti_folder
from . import seg_nrrd as seg
from .label_names import read_label_names

KINDS = ("niftidir", "nifti", "seg", "msk", "mska", "dicomseg")
KIND_NAMES = {"niftidir": "folder of NIfTI files", "nifti": "NIfTI file", "seg": "3D Slicer .seg.nrrd",
              "msk": "medmask .msk", "mska": "medmask archive .mska", "dicomseg": "DICOM-SEG .dcm"}


def path_kind(path: str | os.PathLike, *, output: bool = False) -> str:
    """What a path holds, from its extension (an existing folder, or an extension-less output, is a folder)."""
    s = str(path)
    low = s.lower()
    if low.endswith(".mska"):
        return "mska"
    if low.endswith(".msk"):
        return "msk"
    if low.endswith((".nii.gz", ".nii")):
        return "nifti"
    if low.endswith(".nrrd"):
        return "seg"
    if low.endswith(".dcm"):
        return "dicomseg"
    p = Path(path)
    if p.is_dir() or (output and (s.endswith(("/", os.sep)) or not p.suffix)):
        return "niftidir"
    raise ConversionError(
        "cannot tell the format from the name; use a folder of .nii.gz, .nii.gz, .seg.nrrd, .msk, .mska "
        "or .dcm (DICOM-SEG)", path)


# ------------------------------------------------------------------------------------------
# reading any source as (space, [(name, mask)])


def source_kind(src: Any) -> str:
    """What ``src`` holds (see :func:`path_kind`); a clear error when it is missing, or a URL of a
    format read from local files only (URLs are read for ``.mska`` and ``.msk``, by range requests)."""
    if not is_url(src) and not Path(src).exists():  # before guessing a format from a name that is not there
        raise ConversionError("no such file or folder", src)
    kind = path_kind(src)
    if is_url(src) and kind not in ("mska", "msk"):
        raise ConversionError(f"a {KIND_NAMES[kind]} is read from local files only (URLs are read for .mska "
                              f"and .msk); download it first", str(src))
    return kind


def _stem(path: str | os.PathLike) -> str:
    name = Path(path).name
    for suf in (".seg.nrrd", ".nrrd", ".nii.gz", ".nii", ".mska", ".msk", ".seg.dcm", ".dcm"):
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return name


def load_items(src: str | os.PathLike, *, labels: Any = None, progress: bool = False, force: bool = False,
               skip_bad: bool = False, series: Any = None,
               storage_options: dict | None = None) -> tuple[Space, list[tuple[str | None, Any]], str]:
    """(space, [(entry name or None, mask)], kind) of any supported source.

    A single mask (``.msk``, ``.nii.gz``) gives one item named None. ``force`` and
    ``skip_bad``: see :func:`convert`; ``storage_options``: for a ``.mska``/``.msk`` URL.
    """
    from .. import MaskArchive, load_mask

    kind = source_kind(src)
    if kind == "niftidir":
        space, items = nifti_folder.read_nifti_folder(src, progress=progress, skip_bad=skip_bad, force=force)
        return space, list(items), kind
    if kind == "nifti":
        mask = nii.load_nifti_mask(src, labels, force=force)
        return mask.space, [(None, mask)], kind
    if kind == "seg":
        s = seg.read_seg_nrrd(src)
        return s.space, seg.seg_to_masks(s, path=src), kind
    if kind == "msk":
        mask = load_mask(src, storage_options=storage_options)
        return mask.space, [(None, mask)], kind
    if kind == "dicomseg":  # on the grid of ``series`` (a DICOM series folder or file) when given
        from .dicom_seg import read_dicom_seg

        space, items = read_dicom_seg(src, series=series)
        return space, items, kind
    with MaskArchive(src, mode="r", storage_options=storage_options) as archive:
        return archive.space, [(n, archive.load_segmask(n)) for n in archive.all_names()], kind




def merge_items(items: list[tuple[str | None, Any]], space: Space, *, labels: Any = None, overlap: str = "raise",
                path=None):
    """Many masks -> one label mask (for a ``.msk`` or one multi-label NIfTI).

    Each label of each entry gets a new label value: the one ``labels`` (e.g. ``"total"``,
    TotalSegmentator's class map) gives its name, else 1, 2, 3... in entry order. Names are
    the entry names (single-label entries) or ``entry/label``. Voxels claimed by two
    labels: ``overlap="raise"`` (default) refuses, ``"keep"`` leaves them to the earlier
    label, ``"overwrite"`` gives them to the later one.
    """
    if overlap not in OVERLAP_POLICIES:
        raise ConversionError(f"overlap must be one of {OVERLAP_POLICIES}, got {overlap!r}", path)
    from ..core.segmask import SegmentationMask

    if len(items) == 1 and not labels:
        return items[0][1]
    wanted = {name: value for value, name in read_label_names(labels, path=path).items()} if labels else {}
    plan = []
    for entry, mask in items:
        pairs = sorted(mask.mapping.items(), key=lambda kv: kv[1])
        for label_name, label in pairs:
            name = entry if (entry is not None and len(pairs) == 1) else (
                label_name if entry is None else f"{entry}/{label_name}")
            plan.append((name, entry, mask, label))
    used_values = set(wanted.values())
    nxt = 1
    values = []
    for name, *_ in plan:
        if name in wanted:
            values.append(wanted[name])
        else:
            while nxt in used_values:
                nxt += 1
            values.append(nxt)
            used_values.add(nxt)
    try:
        dtype = smallest_label_dtype(max(values, default=1))
    except ValueError as exc:
        raise ConversionError(str(exc), path) from None
    data = np.zeros(tuple(space.shape), dtype=dtype)
    mapping: dict[str, int] = {}
    colors = {}
    merged_slicer: dict = {}
    painted: set[int] = set()
    for (name, entry, mask, label), value in zip(plan, values):
        if name in mapping:
            raise ConversionError(f"two labels would both be named {name!r}", path)
        mapping[name] = value
        box = mask.bbox
        if box is not None:
            crop = mask.crop_data
            region = crop if crop.dtype == bool else crop == label
            view = data[tuple(slice(a, b) for a, b in box)]
            result = apply_overlap_policy(view, region, value, overlap)
            region = result.region
            if result.clashes:
                owners = {v: n for n, v in mapping.items()}
                if overlap == "raise":
                    other = owners[next(iter(result.clashes))]
                    raise ConversionError(f"{other!r} and {name!r} overlap in {result.clashing_voxels} voxels; one "
                                          f"label map cannot hold both - use --overlap keep|overwrite (overlap= in "
                                          f"Python), or convert to .mska or a folder instead", path)
                desc = describe_clashes(result.clashes, lambda v: repr(owners.get(v, v)))
                if overlap == "keep":
                    warnings.warn(f"{name!r} overlaps {desc}: those voxels stay with the earlier label",
                                  MaskOverlapWarning, stacklevel=2)
                else:
                    warnings.warn(f"{name!r} overlaps {desc}: those voxels now belong to {name!r}",
                                  MaskOverlapWarning, stacklevel=2)
            view[region] = value
            painted.add(value)
        label_name = mask.mapping.inverse(label)
        if label_name in mask.colors:
            colors[name] = mask.colors[label_name]
        slicer = (mask.metadata or {}).get("slicer")
        if isinstance(slicer, dict):  # Slicer's per-segment fields follow the label to its new name
            seg_fields = (slicer.get("segments") or {}).get(label_name)
            if seg_fields:
                merged_slicer.setdefault("segments", {})[name] = seg_fields
            if slicer.get("segmentation") and "segmentation" not in merged_slicer:
                merged_slicer["segmentation"] = slicer["segmentation"]
    if overlap != "raise" and painted:
        gone = set(labels_without_voxels(data, painted))
        lost = [n for n, v in mapping.items() if v in gone]
        if lost:
            warnings.warn(f"label(s) {lost} have no voxels left in the merged label map", MaskOverlapWarning,
                          stacklevel=2)
    data.flags.writeable = False  # a temporary: SegmentationMask may keep it without a copy
    try:
        return SegmentationMask(data, mapping, space=space, colors=colors,
                                metadata={"slicer": merged_slicer} if merged_slicer else None)
    except MedMaskError as exc:
        raise ConversionError(exc.problem, path) from None


# ------------------------------------------------------------------------------------------
# writing


def refuse_remote_output(dst: str | os.PathLike) -> None:
    """A URL as an output is refused before anything is read (a ``Path`` of it would write ``./s3:/...``)."""
    if is_url(os.fspath(dst)):
        raise ConversionError("writing remote files is not supported (reading is): write a local file, then "
                              "upload it", os.fspath(dst))


def check_output(dst: str | os.PathLike, *, overwrite: bool, folder: bool) -> None:
    """Refuse to replace an existing output unless ``overwrite``: one rule and one wording for every command."""
    refuse_remote_output(dst)
    dst = Path(dst)
    if folder:
        if dst.exists() and not dst.is_dir():
            raise ConversionError("exists and is not a folder", dst)
        if dst.is_dir() and not overwrite and any(dst.iterdir()):
            raise ConversionError("exists and is not empty; pass --overwrite (overwrite=True) to replace its NIfTI "
                                  "files with the new ones", dst)
        foreign = foreign_files(dst, nii.is_nifti_file)
        if foreign:  # --overwrite replaces the folder as a whole: never delete what medmask did not write
            raise ConversionError(f"holds files a conversion does not write ({', '.join(foreign[:5])}"
                                  f"{' ...' if len(foreign) > 5 else ''}); --overwrite replaces the whole folder "
                                  f"and would delete them: remove them or write to another folder", dst)
    else:
        if dst.is_dir():
            raise ConversionError("is a folder", dst)
        if dst.exists() and not overwrite:
            raise ConversionError("exists; pass --overwrite (overwrite=True) to replace it", dst)


def convert(src: str | os.PathLike, dst: str | os.PathLike, *, labels: Any = None, progress: bool = False,
            overwrite: bool = True, overlap: str = "raise", force: bool = False, skip_bad: bool = False,
            orthonormalize: bool = False, image: Any = None, force_image: bool = False, series: Any = None,
            format_version: int | str | None = None, storage_options: dict | None = None, split: bool = False,
            **dicom: Any) -> Path:
    """Convert between a folder of NIfTI masks, a NIfTI, a ``.seg.nrrd``, a ``.msk`` and a ``.mska``.

    The formats come from the extensions (a folder, or an output path without extension,
    is a folder of ``.nii.gz``). ``labels`` names the labels of a multi-label NIfTI
    (see :func:`medmask.convert.label_names.read_label_names`), or, when many masks become one
    label map, picks each name's label value (``labels="total"`` writes TotalSegmentator's
    multi-label numbering) and ``overlap`` what happens to voxels two of them claim
    (see :func:`merge_items`). ``image`` (``.mska`` output only): the scan the masks belong
    to, recorded as ``MaskArchive.image_reference``; its grid must be the masks' grid unless
    ``force_image``. None records TotalSegmentator's ``<case>/ct.nii.gz`` for a
    ``<case>/segmentations`` source, False records nothing. Returns ``dst``.

    A NIfTI's own label table wins over ``labels``; a contradiction is an error, and so is
    a volume that looks like an image, unless ``force``. In a folder of masks, a file
    that is not a mask (a ``ct.nii.gz``) or lies on another grid is an error naming it,
    or with ``skip_bad`` a :class:`~medmask.errors.SkippedFileWarning`. Folder output is
    all or nothing: it is built beside ``dst`` and moved into place at the end.
    ``orthonormalize``: NIfTI output gets the nearest orthonormal geometry, the same in
    sform and qform (what ITK accepts), instead of the original header's.

    A ``.dcm`` DST is a DICOM-SEG referencing the DICOM ``series`` (folder or one file);
    ``dicom`` are the options of :func:`medmask.convert.dicom_seg.write_dicom_seg`
    (segmentation_type, series_description, algorithm, manual). A ``.dcm`` SRC is read onto
    ``series``' grid when given (and a ``.mska`` DST records that series as its scan).

    ``format_version`` (``.msk``/``.mska`` output): e.g. ``"2.1"`` for medmask 0.3 installations,
    which cannot read the current 2.2 index; then a ``.mska`` or ``.msk`` source may be converted
    to the same kind (entries, colours, metadata, attributes and scan kept).

    A ``.mska``/``.msk`` SRC may be a URL (``https://``, ``s3://``, any fsspec URL), read by
    range requests with ``storage_options`` (credentials, endpoint, ``connect_timeout``,
    ``read_timeout``; see :mod:`medmask.storage.remote`).

    ``split`` (label map source, ``.mska`` DST): one entry per label name, written by
    :meth:`~medmask.MaskArchive.add_labelmap` (absent names become empty entries), instead of
    one multi-label entry.
    """
    refuse_remote_output(dst)
    if dicom and path_kind(dst, output=True) != "dicomseg":
        raise ConversionError(f"{', '.join(sorted(dicom))} only apply to a DICOM-SEG (.dcm) output", dst)
    src_kind = source_kind(src)
    dst_kind = path_kind(dst, output=True)
    dst = Path(dst)
    if not is_url(src) and Path(src).resolve() == dst.resolve():
        raise ConversionError("source and destination are the same path", dst)
    check_output(dst, overwrite=overwrite, folder=dst_kind == "niftidir")
    if image not in (None, False) and dst_kind != "mska":
        raise ConversionError(f"only a .mska archive records its scan (image={os.fspath(image)!r}); "
                              f"the output is a {KIND_NAMES[dst_kind]}", dst)
    if format_version is not None and dst_kind not in ("msk", "mska"):
        raise ConversionError(f"format_version ({format_version!r}) applies to .msk/.mska outputs; the output "
                              f"is a {KIND_NAMES[dst_kind]}", dst)
    if format_version is not None and src_kind == dst_kind:
        return _rewrite_as(src, dst, dst_kind, format_version, storage_options)
    # streaming fast paths
    if src_kind == "niftidir" and dst_kind == "mska":
        return nifti_folder.nifti_folder_to_archive(src, dst, progress=progress, skip_bad=skip_bad, force=force,
                                                    image=image, force_image=force_image,
                                                    format_version=format_version)
    if src_kind == "mska" and dst_kind == "niftidir":
        nifti_folder.archive_to_nifti_folder(src, dst, progress=progress, orthonormalize=orthonormalize,
                                             storage_options=storage_options)
        return dst
    if src_kind == dst_kind and src_kind != "niftidir":
        raise ConversionError(f"both paths are a {KIND_NAMES[src_kind]}; nothing to convert", dst)
    if split and (src_kind not in ("nifti", "msk") or dst_kind != "mska"):
        raise ConversionError(f"split makes one .mska entry per label of a label map (.nii.gz or .msk); "
                              f"here {KIND_NAMES[src_kind]} -> {KIND_NAMES[dst_kind]}", dst)
    space, items, _ = load_items(src, labels=labels if src_kind == "nifti" else None, progress=progress, force=force,
                                 skip_bad=skip_bad, series=series if src_kind == "dicomseg" else None,
                                 storage_options=storage_options)
    ref = None
    if src_kind == "dicomseg" and series is not None and image is None:
        image = series  # the SEG's masks now lie on that series: it is their scan
    if dst_kind == "mska":
        from .image_link import conversion_image_reference

        ref = conversion_image_reference(image, src, dst, space, force=force_image)
    if split:
        write_labelmap_archive(dst, items[0][1], image=ref)
        return dst
    write_items(items, space, dst, default_name=_stem(src), labels=labels if src_kind != "nifti" else None,
                overlap=overlap, progress=progress, source=src, orthonormalize=orthonormalize, image=ref,
                series=series, format_version=format_version, **dicom)
    return dst


def _rewrite_as(src: str | os.PathLike, dst: Path, kind: str, format_version: int | str,
                storage_options: dict | None = None) -> Path:
    """A .msk/.mska written again in another format version (for older installations)."""
    from .. import MaskArchive, load_mask, save_mask

    dst.parent.mkdir(parents=True, exist_ok=True)
    if kind == "msk":
        save_mask(load_mask(src, storage_options=storage_options), dst, format_version=format_version)
        return dst
    with MaskArchive(src, storage_options=storage_options) as archive:
        ref = archive.image_reference  # relative to the archive: meaningless beside a local copy of a URL
        write_archive(dst, archive.space, ((n, archive.load_segmask(n)) for n in archive.names),
                      image=None if ref is None or is_url(src) else ref.relocated(src, dst),
                      format_version=format_version,
                      attributes=archive.attributes)
    return dst


def write_labelmap_archive(dst: str | os.PathLike, mask, *, image=None) -> Path:
    """A label map (SegmentationMask) -> a fresh ``.mska`` with one entry per label name, one atomic write."""
    from .. import MaskArchive

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with MaskArchive(dst, mode="w", space=mask.space) as archive:
        archive.image_reference = image
        archive.add_labelmap(mask)
    return dst


def write_items(items: list[tuple[str | None, Any]], space: Space, dst: str | os.PathLike, *,
                default_name: str = "mask", labels: Any = None, overlap: str = "raise", progress: bool = False,
                source=None, orthonormalize: bool = False, image=None, series: Any = None,
                format_version: int | str | None = None, **dicom: Any) -> Path:
    """Write (entry name or None, mask) pairs in the format ``dst``'s extension names.

    ``.mska``: one entry each; ``.seg.nrrd``: one segment per label; folder: one
    ``.nii.gz`` per item; ``.msk`` / ``.nii.gz``: all merged into one label map
    (see :func:`merge_items`). ``image``: an ImageReference a ``.mska`` records.
    ``format_version``: of a ``.msk``/``.mska`` output (None: the current one).
    """
    from .. import save_mask

    dst = Path(dst)
    dst_kind = path_kind(dst, output=True)
    if format_version is not None and dst_kind not in ("msk", "mska"):
        raise ConversionError(f"format_version ({format_version!r}) applies to .msk/.mska outputs; the output "
                              f"is a {KIND_NAMES[dst_kind]}", dst)
    if dst_kind == "dicomseg":  # one segment per label, referencing ``series``
        from .dicom_seg import write_dicom_seg

        if series is None:
            raise ConversionError("a DICOM-SEG references the CT series it was drawn on: pass series= "
                                  "(--series <DICOM folder>)", dst)
        return write_dicom_seg(items, space, dst, series=series, **dicom)
    if dicom:
        raise ConversionError(f"{', '.join(sorted(dicom))} only apply to a DICOM-SEG (.dcm) output", dst)
    if dst_kind == "mska":
        write_archive(dst, space, [(name if name is not None else default_name, mask) for name, mask in items],
                      image=image, format_version=format_version)
    elif dst_kind == "seg":
        seg.write_seg_nrrd(items, space, dst)
    elif dst_kind == "niftidir":
        with atomic_folder(dst, owned=nii.is_nifti_file) as tmp:
            used: set[str] = set()
            for name, mask in progress_bar(items, progress, f"writing {dst.name}", unit="entry"):
                stem = nii.safe_file_stem(name if name is not None else default_name)
                while stem.lower() in used:
                    stem += "_"
                used.add(stem.lower())
                plain = name is not None and mask.mapping.to_dict() == {name: 1}
                nii.save_nifti_mask(mask, tmp / f"{stem}.nii.gz", label_names=not plain,
                                    orthonormalize=orthonormalize)
    else:
        mask = merge_items(items, space, labels=labels, overlap=overlap, path=source)
        if dst_kind == "msk":
            dst.parent.mkdir(parents=True, exist_ok=True)
            save_mask(mask, dst, format_version=2 if format_version is None else format_version)
        else:
            nii.save_nifti_mask(mask, dst, label_names=True, orthonormalize=orthonormalize)
    return dst


def convert_examples(archive_path: str | os.PathLike, outdir: str | os.PathLike) -> list[Path]:
    """Demo: an archive -> folder of ``.nii.gz`` and a ``.seg.nrrd``, and both back to ``.mska``.

    Checks that both round trips give the very same entries (names, labels, voxels,
    geometry) and raises ConversionError otherwise. Returns the paths written.
    """
    from .. import MaskArchive

    archive_path = Path(archive_path)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    stem = _stem(archive_path)
    nifti_dir = outdir / f"{stem}_nifti"
    seg_path = outdir / f"{stem}.seg.nrrd"
    back_nifti = outdir / f"{stem}_from_nifti.mska"
    back_seg = outdir / f"{stem}_from_slicer.mska"
    files = nifti_folder.archive_to_nifti_folder(archive_path, nifti_dir)
    seg.archive_to_seg_nrrd(archive_path, seg_path)
    nifti_folder.nifti_folder_to_archive(nifti_dir, back_nifti)
    seg.seg_nrrd_to_archive(seg_path, back_seg)
    with MaskArchive(archive_path) as original:
        for back in (back_nifti, back_seg):
            with MaskArchive(back) as other:
                for name in original.all_names():
                    stem_name = nii.safe_file_stem(name)
                    if back is back_nifti and stem_name != name:
                        continue
                    if name not in other or not _same_voxels(original.load_segmask(name), other.load_segmask(name)):
                        raise ConversionError(f"round trip changed entry {name!r}", back)
    return [nifti_dir, *files, seg_path, back_nifti, back_seg]


def _same_voxels(a, b) -> bool:
    from ..core.geometry import spaces_equal

    if not spaces_equal(a.space, b.space) or a.bbox != b.bbox:
        return False
    ca, cb = a.crop_data, b.crop_data
    if a.mapping == b.mapping:
        return np.array_equal(ca, cb)
    # a folder of NIfTI files keeps one entry per file; compare which voxels carry which name
    return all(np.array_equal(ca == a.mapping[n], cb == b.mapping[n]) for n in a.mapping if n in b.mapping)
