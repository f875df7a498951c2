"""``medmask convert`` and ``medmask extract``: files in, files out."""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

from ._common import UsageError, add_progress_flags, human, progress_enabled


def cmd_convert(args) -> int:
    from ..convert import convert

    labels = args.labels
    if args.image and args.no_image:
        raise UsageError("--image and --no-image contradict each other")
    image = False if args.no_image else args.image
    with warnings.catch_warnings(record=True) as caught:  # one plain line each, not Python's source echo
        warnings.simplefilter("default")
        dst = convert(args.src, args.dst, labels=labels, progress=progress_enabled(args),
                      overwrite=not args.no_overwrite, overlap=args.overlap, image=image, force_image=args.force_image)
    for w in caught:
        print(f"medmask: warning: {w.message}", file=sys.stderr)
    if not args.quiet:
        size = sum(p.stat().st_size for p in Path(dst).rglob("*") if p.is_file()) if Path(dst).is_dir() \
            else Path(dst).stat().st_size
        print(f"wrote {dst} ({human(size)})")
        if str(dst).lower().endswith(".mska"):
            from .. import MaskArchive

            with MaskArchive(dst) as archive:
                ref = archive.image_reference
            if ref is not None:
                print(f"  scan: {ref.path} (relative to the archive's folder)")
    return 0


def cmd_extract(args) -> int:
    from .. import MaskArchive
    from ..storage.reader import preview_names
    from ..convert.api import path_kind, write_items
    from ..errors import ConversionError

    if not str(args.archive).lower().endswith(".mska"):
        raise UsageError(f"{args.archive}: extract reads a .mska archive")
    kind = path_kind(args.output, output=True)
    if os.path.exists(args.output) and os.path.realpath(args.output) == os.path.realpath(args.archive):
        raise ConversionError("source and destination are the same file; extract to a new path", args.archive)
    with MaskArchive(args.archive, mode="r") as archive:
        missing = [n for n in args.names if n not in archive]
        if missing:
            raise ConversionError(f"no entr{'y' if len(missing) == 1 else 'ies'} named {', '.join(map(repr, missing))}; "
                                  f"entries: {preview_names(archive.all_names())}", args.archive)
        items = [(n, archive.load_segmask(n)) for n in args.names]
        space = archive.space
        ref = archive.image_reference
    if ref is not None and kind == "mska":  # the extract still knows its scan, from where it is written
        ref = ref.relocated(args.archive, args.output)
    else:
        ref = None
    if kind in ("msk", "nifti") and len(items) == 1:
        items = [(None, items[0][1])]
    write_items(items, space, args.output, default_name=args.names[0], labels=args.labels, overlap=args.overlap,
                progress=progress_enabled(args), source=args.archive, image=ref)
    if not args.quiet:
        print(f"wrote {args.output} ({len(items)} entr{'y' if len(items) == 1 else 'ies'})")
    return 0


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
                              "  medmask convert ml.nii.gz ml.msk --labels names.json   # {\"1\": \"liver\", ...}\n"
                              "  medmask convert s0000.mska ml.nii.gz --labels total --overlap keep\n"
                              "  medmask convert case/masks case/organs.mska --image case/ct.nii.gz\n\n"
                              "A .mska records the scan its masks belong to (path relative to the archive + "
                              "its grid):\nthe one given with --image, or TotalSegmentator's <case>/ct.nii.gz "
                              "when SRC is <case>/segmentations.\n")
    c.add_argument("src", metavar="SRC")
    c.add_argument("dst", metavar="DST")
    c.add_argument("--labels", metavar="SPEC",
                   help="label names: 'total' / 'total_v1' (TotalSegmentator class maps), or a .json "
                        "{label: name}, .csv (label,name) or .txt (one name per line) file. For a NIfTI "
                        "source it names its labels; when many masks become one label map it sets their values")
    c.add_argument("--overlap", choices=("raise", "keep", "overwrite"), default="raise",
                   help="when masks are merged into one label map: what to do with voxels two masks claim "
                        "(default: raise an error)")
    c.add_argument("--no-overwrite", action="store_true", help="refuse to replace an existing DST file")
    c.add_argument("--image", metavar="SCAN",
                   help="the scan (.nii/.nii.gz/.nrrd/.nhdr) the masks were drawn on; a .mska DST records it. "
                        "Its grid must be the masks' grid (see --force-image)")
    c.add_argument("--no-image", action="store_true",
                   help="record no scan, not even TotalSegmentator's <case>/ct.nii.gz")
    c.add_argument("--force-image", action="store_true",
                   help="record the scan even if its grid differs from the masks' (a warning instead of an error)")
    c.add_argument("-q", "--quiet", action="store_true")
    add_progress_flags(c)
    c.set_defaults(func=cmd_convert)

    e = sub.add_parser("extract", formatter_class=fmt, help="copy some entries of an archive to a new file",
                       description="Write the named entries of ARCHIVE to OUT (.mska, .seg.nrrd, a folder of "
                                   ".nii.gz, or - merged into one label map - .msk / .nii.gz).",
                       epilog="examples:\n"
                              "  medmask extract s0000.mska liver spleen -o organs.mska\n"
                              "  medmask extract s0000.mska liver -o liver.nii.gz\n"
                              "  medmask extract s0000.mska liver spleen -o organs.seg.nrrd\n")
    e.add_argument("archive", metavar="ARCHIVE")
    e.add_argument("names", metavar="NAME", nargs="+")
    e.add_argument("-o", "--output", metavar="OUT", required=True)
    e.add_argument("--labels", metavar="SPEC", help="label values when merging into one label map (see convert)")
    e.add_argument("--overlap", choices=("raise", "keep", "overwrite"), default="raise")
    e.add_argument("-q", "--quiet", action="store_true")
    add_progress_flags(e)
    e.set_defaults(func=cmd_extract)
