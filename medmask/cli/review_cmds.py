"""``medmask review``: the review queue of a dataset, in napari or as a report (``medmask.review``)."""
from __future__ import annotations

import argparse
import subprocess
import sys


def cmd_review(args) -> int:
    from ..errors import MedMaskError
    from ..review import queue_states, report_rows, summary_line

    states = queue_states(args.inputs)
    if not states:
        raise MedMaskError("no .mska archives to review", " ".join(args.inputs))
    if args.report is not None:
        from ..stats.output import write_rows

        rows = report_rows(states)
        if args.original:
            from ..review.report import join_comparison
            from ..stats.compare import compare
            from ._common import UsageError

            if len(args.inputs) != 1:
                raise UsageError("--original compares with one folder or glob of reviewed archives; give one INPUT")
            rows = join_comparison(rows, compare(args.original, args.inputs[0], surface=False))
        kind = write_rows(rows, args.report, args.format)
        if args.report not in (None, "-") and not args.quiet:
            print(f"wrote {args.report} ({kind})", file=sys.stderr)
        print(summary_line(states), file=sys.stderr if args.report == "-" else sys.stdout)
        return 0
    # the viewer runs in its own process: medmask itself never imports napari
    try:
        import importlib.util
        found = importlib.util.find_spec("napari_medmask") is not None and importlib.util.find_spec("napari")
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MedMaskError("the interactive review needs napari and the MedMask plugin: "
                           "pip install 'medmask[napari]' (or write a report with --report review.csv)")
    if not args.quiet:
        print(summary_line(states), file=sys.stderr)
    # the inputs as given: the queue names its cases from them (files of one name in many folders)
    cmd = [sys.executable, "-m", "napari_medmask.review_app", *args.inputs]
    if args.reviewer:
        cmd += ["--reviewer", args.reviewer]
    return subprocess.call(cmd)


def register(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    r = sub.add_parser(
        "review", formatter_class=fmt, help="review a dataset in napari: a queue of cases; or report the decisions",
        description="Without --report: open napari on the first case not fully reviewed, with the review "
                    "queue (MedMask review dock: n/p next/previous case, a/f/r accept/needs fix/reject the "
                    "selected organ). Decisions and edits are stored in each archive. With --report: one "
                    "row per case x entry (case, entry, status, reviewer, time, comment, voxels, voxels "
                    "added/removed by edits) as CSV, JSON or Parquet, and a one-line summary.",
        epilog="examples:\n"
               "  medmask review archives/                      # opens napari on the next open case\n"
               "  medmask review 'archives/*.mska' --reviewer dr.lee\n"
               "  medmask review archives/ --report review.csv  # what was checked, by whom, what changed\n"
               "  medmask review archives/ --report review.csv --original model_output/   # + Dice per organ\n")
    r.add_argument("inputs", metavar="INPUT", nargs="+", help=".mska files, folders or glob patterns")
    r.add_argument("--report", metavar="OUT", help="write the report (CSV/JSON/Parquet by suffix; '-' stdout)")
    r.add_argument("--format", choices=("csv", "json", "parquet"), help="report format (default: from OUT)")
    r.add_argument("--original", metavar="DIR",
                   help="the archives before review (e.g. the model's output): adds Dice and volume change "
                        "per organ, how much reviewers changed (medmask compare)")
    r.add_argument("--reviewer", metavar="NAME", help="name stored with each decision (default: the OS user)")
    r.add_argument("-q", "--quiet", action="store_true")
    r.set_defaults(func=cmd_review)
