"""``medmask stats`` and ``medmask compare`` (the work is in ``medmask.stats``)."""
from __future__ import annotations

import argparse
import sys

from ._common import PROG, add_storage_options_flag


def _add_parallel_flags(parser) -> None:
    parser.add_argument("-j", "--workers", type=int, default=1, metavar="N",
                        help="cases in N worker processes (default 1)")
    parser.add_argument("--dask", metavar="ADDRESS", help="run the cases on a dask.distributed scheduler at ADDRESS")


def cmd_stats(args) -> int:
    from ..stats.api import compute_stats, no_gc_pauses, stats_columns
    from ..stats.output import write_rows

    problems = []
    with no_gc_pauses():  # 100,000s of fresh row dicts: a full collection would rescan them all
        review = False if args.review is None else (args.review or True)
        rows = compute_stats(args.inputs, entries=args.entries, centroid=args.centroid,
                             intensity=args.intensity, image=args.image, storage_options=args.storage_options,
                             review=review, workers=args.workers, dask=args.dask,
                             on_error="raise" if args.fail_fast else problems.append)
        if args.nonempty:
            rows = [r for r in rows if r["voxels"]]
        kind = write_rows(rows, args.output, args.format,
                          columns=stats_columns(args.centroid, args.intensity or args.image is not None,
                                                review is not False))
    for problem in problems:  # each case the run could not fully measure, after the rows are safe
        print(f"{PROG}: warning: {problem}", file=sys.stderr)
    if args.output not in (None, "-") and not args.quiet:
        print(f"wrote {args.output} ({len(rows)} rows, {kind})", file=sys.stderr)
    if problems:
        left_out = sum(p.stage == "archive" for p in problems)
        print(f"{PROG}: {len(problems)} case(s) not fully measured ({left_out} left out, "
              f"{len(problems) - left_out} without intensities); see the warnings above", file=sys.stderr)
        return 1
    return 0


def cmd_compare(args) -> int:
    from ..stats.compare import compare
    from ..stats.output import write_rows

    rows = compare(args.a, args.b, entries=args.entries, surface=not args.no_surface,
                   storage_options=args.storage_options, workers=args.workers, dask=args.dask)
    if args.nonempty:
        rows = [r for r in rows if r["status"] not in ("empty_in_both",)]
    if args.plot:
        from ..stats.plot import plot_comparison

        plot_comparison(rows, args.plot, title=f"B = {args.b} against A = {args.a}")
    if args.output is not None or not args.plot:
        write_rows(rows, args.output, args.format)
    if not args.quiet:
        for target in (args.output, args.plot):
            if target not in (None, "-"):
                print(f"wrote {target}", file=sys.stderr)
    return 0


def register(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    s = sub.add_parser(
        "stats", formatter_class=fmt, help="voxels, ml, boxes, centroids, intensities per label (CSV/JSON/Parquet)",
        description="One row per (case, entry, label) of every archive: voxels, volume_ml, the bounding box "
                    "(index, length in mm along each array axis, LPS box), from the index alone; "
                    "--centroid adds the LPS centroid and --image the intensities inside each label "
                    "(mean, std, median, p5, p95), decoding only crops. Output: CSV (default), JSON, Parquet.",
        epilog="examples:\n"
               "  medmask stats archives/ -o volumes.csv\n"
               "  medmask stats 'archives/*.mska' --entries liver spleen --nonempty\n"
               "  medmask stats s0000.mska --image s0000/ct.nii.gz --centroid -o s0000.json\n"
               "  medmask stats archives/ --image 'dataset/{case}/ct.nii.gz' -o hu.parquet\n"
               "  medmask stats archives/ --intensity          # the scan each archive records\n"
               "  medmask stats archives/ --entries liver --review accepted fixed   # reviewed livers only\n"
               "  medmask stats 's3://bucket/archives/*.mska' --storage-options '{\"anon\": true}'\n"
               "  medmask stats archives/ --intensity -j 8 -o hu.parquet\n\n"
               "exit status: 0 every case measured; 1 an error stopped the run, or some case was left out\n"
               "(unreadable archive: no rows) or measured without intensities (scan missing or on another\n"
               "grid: its rows have image_error); such cases are listed as warnings after the other cases\n"
               "are done, unless --fail-fast.")
    s.add_argument("inputs", metavar="INPUT", nargs="+",
                   help=".mska/.msk files, folders or glob patterns; URLs too (s3://bucket/*.mska, https://...)")
    s.add_argument("-o", "--output", metavar="OUT", help="output file (default: CSV on stdout)")
    s.add_argument("--format", choices=("csv", "json", "parquet"), help="default: from OUT's suffix, else csv")
    s.add_argument("--entries", metavar="NAME", nargs="+", help="only these entries")
    s.add_argument("--centroid", action="store_true", help="add the LPS centroid (decodes crops)")
    s.add_argument("--image", metavar="IMAGE",
                   help="the scan (NIfTI) for intensities; with many cases a template like 'data/{case}/ct.nii.gz'")
    s.add_argument("--intensity", action="store_true", help="intensities from the scan each archive records")
    s.add_argument("--nonempty", action="store_true", help="leave out labels without voxels")
    s.add_argument("--review", metavar="STATUS", nargs="*",
                   choices=("accepted", "needs_fix", "fixed", "rejected", "unreviewed"),
                   help="add each entry's review status and reviewer (medmask review); with statuses, "
                        "keep only those (e.g. --review accepted fixed)")
    s.add_argument("--fail-fast", action="store_true", help="stop at the first case that cannot be fully measured")
    _add_parallel_flags(s)
    add_storage_options_flag(s)
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_stats)

    c = sub.add_parser(
        "compare", formatter_class=fmt, help="Dice, volume change, HD95 between two segmentations",
        description="Compare A with B (two archives, or two folders/globs of archives paired by case name): "
                    "one row per (case, entry, label) present in either, with status (ok, empty_in_a/b, "
                    "empty_in_both, missing_in_a/b, case_missing_in_a/b), voxels, volumes, volume "
                    "difference B-A (ml, %% of A), Dice, symmetric 95th-percentile / maximum / average "
                    "surface distance in mm.",
        epilog="examples:\n"
               "  medmask compare model_v1/s0000.mska model_v2/s0000.mska\n"
               "  medmask compare rater_a/ rater_b/ -o agreement.csv --plot agreement.png\n"
               "  medmask compare before.mska after.mska --entries liver --format json\n")
    c.add_argument("a", metavar="A")
    c.add_argument("b", metavar="B")
    c.add_argument("-o", "--output", metavar="OUT", help="output file (default: CSV on stdout)")
    c.add_argument("--format", choices=("csv", "json", "parquet"), help="default: from OUT's suffix, else csv")
    c.add_argument("--entries", metavar="NAME", nargs="+", help="only these entries")
    c.add_argument("--no-surface", action="store_true", help="skip surface distances (Dice and volumes only)")
    c.add_argument("--nonempty", action="store_true", help="leave out labels empty in both")
    c.add_argument("--plot", metavar="PNG", help="draw Dice and volume change per organ (needs matplotlib)")
    _add_parallel_flags(c)
    add_storage_options_flag(c)
    c.add_argument("-q", "--quiet", action="store_true")
    c.set_defaults(func=cmd_compare)
