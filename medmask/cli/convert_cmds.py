"""``medmask convert`` and ``medmask extract``: files in, files out."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ._common import (UsageError, add_format_version_flag, add_overwrite_flags, add_progress_flags,
                      add_storage_options_flag, human,
                      progress_enabled)
from .dicom_flags import add_dicom_flags, dicom_options
from .names import resolve_names


def _size(dst: Path) -> int:
    if dst.is_dir():
        return sum(p.stat().st_size for p in dst.rglob("*") if p.is_file())
    return dst.stat().st_size


def cmd_convert(args) -> int:
    from ..convert import convert

    if args.image and args.no_image:
        raise UsageError("--image and --no-image contradict each other")
    image = False if args.no_image else args.image
    dst = convert(args.src, args.dst, labels=args.labels, progress=progress_enabled(args), overwrite=args.overwrite,
                  overlap=args.overlap, force=args.force, skip_bad=args.skip_bad, orthonormalize=args.orthonormalize,
                  image=image, force_image=args.force_image, series=args.series, split=args.split,
                  format_version=args.format_version, storage_options=args.storage_options,
                  **dicom_options(args))
    if not args.quiet:
        print(f"wrote {dst} ({human(_size(Path(dst)))})")
        if str(dst).lower().endswith(".mska"):
            from .. import MaskArchive

            with MaskArchive(dst) as archive:
                ref = archive.image_reference
            if ref is not None:
                print(f"  scan: {ref.path} (relative to the archive's folder)")
    return 0


def _select_labels(mask, names):
    """A copy of ``mask`` holding only the labels called ``names`` (values, colours, metadata kept)."""
    import numpy as np

    from ..core.segmask import SegmentationMask

    values = [mask.mapping[n] for n in names]
    box = mask.bbox
    crop = None
    if box is not None:
        crop = mask.crop_data
        crop = np.where(np.isin(crop, values), crop, 0).astype(mask.dtype) if crop.dtype != bool else crop
    return SegmentationMask.from_crop(crop, box, {n: mask.mapping[n] for n in names}, mask.space, mask.dtype,
                                      colors={n: c for n, c in mask.colors.items() if n in names},
                                      metadata=dict(mask.metadata or {}))


def cmd_extract(args) -> int:
    from .. import MaskArchive, load_mask
    from ..convert.api import _stem, check_output, path_kind, source_kind, write_items
    from ..errors import ConversionError
    from ..storage.bytesource import is_url

    src = str(args.archive)
    low = src.lower()
    if not low.endswith((".mska", ".msk")):
        raise ConversionError("extract reads a .mska archive or a .msk mask", src)
    source_kind(src)  # there, or a URL
    remote = {"storage_options": args.storage_options}
    kind = path_kind(args.output, output=True)
    if os.path.exists(args.output) and os.path.realpath(args.output) == os.path.realpath(src):
        raise ConversionError("source and destination are the same file; extract to a new path", src)
    check_output(args.output, overwrite=args.overwrite, folder=kind == "niftidir")
    ref = None
    if low.endswith(".mska"):
        with MaskArchive(src, mode="r", **remote) as archive:
            names = resolve_names(args.names, list(archive.all_names()), what="entry", path=src)
            items = [(n, archive.load_segmask(n)) for n in names]
            space = archive.space
            ref = archive.image_reference
        if kind in ("msk", "nifti") and len(items) == 1:
            items = [(None, items[0][1])]
        default = names[0]
    else:  # a .msk: its "entries" are its labels
        mask = load_mask(src, **remote)
        names = resolve_names(args.names, list(mask.mapping), what="label", path=src)
        items = [(None, _select_labels(mask, names))]
        space = mask.space
        default = _stem(src)
    if ref is not None and kind == "mska":  # the extract still knows its scan, from where it is written
        ref = ref if is_url(src) else ref.relocated(src, args.output)  # (a remote scan's path: as recorded)
    else:
        ref = None
    write_items(items, space, args.output, default_name=default, labels=args.labels, overlap=args.overlap,
                progress=progress_enabled(args), source=src, orthonormalize=args.orthonormalize, image=ref,
                series=args.series, format_version=args.format_version, **dicom_options(args))
    if not args.quiet:
        what = "entr" + ("y" if len(names) == 1 else "ies") if low.endswith(".mska") else \
            "label" + ("" if len(names) == 1 else "s")
        print(f"wrote {args.output} ({len(names)} {what})")
    return 0


def add_orthonormalize_flag(sp) -> None:
    sp.add_argument("--orthonormalize", action="store_true",
                    help="NIfTI output: write the nearest exactly orthonormal geometry, the same in sform and qform, "
                         "instead of the original header's (ITK refuses float32 headers whose axes are a hair off "
                         "perpendicular; voxels move by far less than a voxel)")


def register(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    c = sub.add_parser("convert", formatter_class=fmt, help="convert between NIfTI, .seg.nrrd, .msk and .mska",
                       description="Convert SRC to DST; the formats come from the names: a folder of .nii.gz "
                                   "(an existing folder, or a DST without extension), .nii/.nii.gz, .seg.nrrd, "
                                   ".msk, .mska.",
                       epilog="examples:\n"
                              "  medmask convert s0000/segmentations s0000.mska\n"
                              "  medmask convert s0000.mska out_folder/\n"
                              "  medmask convert s0000.mska s0000.seg.nrrd\n"
                              "  medmask convert ml.nii.gz ml.msk --labels total\n"
                              "  medmask convert seg.nii.gz organs.mska --split      # one entry per organ\n"
                              "  medmask convert mr_ml.nii.gz ml.msk --labels total_mr\n"
                              "  medmask convert ml.nii.gz ml.msk --labels names.json   # {\"1\": \"liver\", ...}\n"
                              "  medmask convert s0000.mska ml.nii.gz --labels total --overlap keep\n"
                              "  medmask convert case_folder/ case.mska --skip-bad      # leave out non-mask files\n"
                              "  medmask convert case/masks case/organs.mska --image case/ct.nii.gz\n"
                              "  medmask convert s0000.mska for_0.3.mska --format-version 2.1   # for medmask 0.3\n"
                              "  medmask convert s3://bucket/s0000.mska s0000_nifti/ --storage-options '{\"anon\": true}'\n\n"
                              "A .mska records the scan its masks belong to (path relative to the archive + "
                              "its grid):\nthe one given with --image, or TotalSegmentator's <case>/ct.nii.gz "
                              "when SRC is <case>/segmentations.\n")
    c.add_argument("src", metavar="SRC")
    c.add_argument("dst", metavar="DST")
    c.add_argument("--labels", metavar="SPEC",
                   help="label names: a TotalSegmentator task ('total', 'total_mr', 'total_v1', ...), or a .json "
                        "{label: name}, .csv (label,name) or .txt (one name per line) file. For a NIfTI "
                        "source it names the labels its own label table does not (a contradiction is an error); "
                        "when many masks become one label map it sets their values")
    c.add_argument("--split", action="store_true",
                   help="a label map (multi-label .nii.gz such as TotalSegmentator --ml, or .msk) to .mska: one "
                        "entry per label name (empty entries for names without voxels) instead of one multi-label "
                        "entry")
    c.add_argument("--overlap", choices=("raise", "keep", "overwrite"), default="raise",
                   help="when masks are merged into one label map: what to do with voxels two masks claim "
                        "(default: raise an error)")
    c.add_argument("--force", action="store_true",
                   help="convert what looks wrong: a volume that looks like an image, --labels that contradict "
                        "the file's own label table (the given names win)")
    c.add_argument("--skip-bad", action="store_true",
                   help="in a folder of masks, leave out (with a warning) files that are not masks or lie on "
                        "another grid, instead of stopping")
    add_overwrite_flags(c)
    add_format_version_flag(c)
    add_orthonormalize_flag(c)
    c.add_argument("--image", metavar="SCAN",
                   help="the scan (.nii/.nii.gz/.nrrd/.nhdr) the masks were drawn on; a .mska DST records it. "
                        "Its grid must be the masks' grid (see --force-image)")
    c.add_argument("--no-image", action="store_true",
                   help="record no scan, not even TotalSegmentator's <case>/ct.nii.gz")
    c.add_argument("--force-image", action="store_true",
                   help="record the scan even if its grid differs from the masks' (a warning instead of an error)")
    c.add_argument("-q", "--quiet", action="store_true")
    add_progress_flags(c)
    add_dicom_flags(c)
    add_storage_options_flag(c)
    c.set_defaults(func=cmd_convert)

    e = sub.add_parser("extract", formatter_class=fmt, help="copy some entries (or labels) to a new file",
                       description="Write the named entries of ARCHIVE (.mska), or the named labels of a .msk, to "
                                   "OUT (.mska, .seg.nrrd, a folder of .nii.gz, or - merged into one label map - "
                                   ".msk / .nii.gz). NAME may be a glob: 'rib_left_*'.",
                       epilog="examples:\n"
                              "  medmask extract s0000.mska liver spleen -o organs.mska\n"
                              "  medmask extract s0000.mska liver -o liver.nii.gz\n"
                              "  medmask extract s0000.mska 'rib_left_*' -o ribs.seg.nrrd\n"
                              "  medmask extract organs.msk liver -o liver.msk\n"
                              "  medmask extract https://example.org/s0000.mska liver -o liver.nii.gz\n")
    e.add_argument("archive", metavar="SOURCE")
    e.add_argument("names", metavar="NAME", nargs="+")
    e.add_argument("-o", "--output", metavar="OUT", required=True)
    e.add_argument("--labels", metavar="SPEC", help="label values when merging into one label map (see convert)")
    e.add_argument("--overlap", choices=("raise", "keep", "overwrite"), default="raise")
    add_overwrite_flags(e)
    add_format_version_flag(e)
    add_orthonormalize_flag(e)
    e.add_argument("-q", "--quiet", action="store_true")
    add_progress_flags(e)
    add_dicom_flags(e)
    add_storage_options_flag(e)
    e.set_defaults(func=cmd_extract)
