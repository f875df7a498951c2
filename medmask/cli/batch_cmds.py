"""``medmask batch``: a whole dataset, one archive per case."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from ._common import PROG, UsageError, add_progress_flags, progress_enabled


def _report(summary, as_json: bool) -> None:
    from ..batch import format_summary

    if as_json:
        print(json.dumps(summary.to_dict(), indent=1))
    else:
        print(format_summary(summary))


def cmd_batch(args) -> int:
    from ..batch import BatchInterrupted, convert_dataset, process_pool

    executor = None
    client = None
    try:
        if args.dask:
            try:
                from distributed import Client
            except ImportError:
                raise UsageError("--dask needs the 'distributed' package (pip install 'dask[distributed]')") from None
            client = Client(args.dask)
            executor = client.get_executor()
        elif args.workers > 1:
            executor = process_pool(args.workers)
        summary = convert_dataset(args.src_root, args.dst_root, executor, overwrite=args.overwrite,
                                  progress=progress_enabled(args), skip_bad=args.skip_bad)
    except BatchInterrupted as stop:  # the workers are gone and their temporaries deleted
        signal.signal(signal.SIGINT, lambda *_: os._exit(130))  # another Ctrl-C now: just leave, quietly
        _report(stop.summary, args.json)
        print(f"{PROG}: interrupted: {len(stop.summary.cancelled)} case(s) cancelled; run the same command again "
              f"to resume", file=sys.stderr)
        return 130
    finally:
        if executor is not None and client is None:
            executor.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            client.close()
    _report(summary, args.json)
    return 0 if summary.ok else 1


def register(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    b = sub.add_parser("batch", formatter_class=fmt, help="convert a dataset: one .mska per case",
                       description="Convert every case under SRC_ROOT (TotalSegmentator's "
                                   "<case>/segmentations/*.nii.gz, or <case>/*.nii.gz) to DST_ROOT/<case>.mska. "
                                   "Finished cases are skipped, so an interrupted run resumes; one bad case "
                                   "never stops the others.",
                       epilog="examples:\n"
                              "  medmask batch Totalsegmentator_dataset/ archives/\n"
                              "  medmask batch Totalsegmentator_dataset/ archives/ -j 8\n"
                              "  medmask batch data/ archives/ --dask tcp://scheduler:8786\n\n"
                              "exit status: 0 every case converted or already done, 1 some case failed")
    b.add_argument("src_root", metavar="SRC_ROOT")
    b.add_argument("dst_root", metavar="DST_ROOT")
    b.add_argument("-j", "--workers", type=int, default=1, metavar="N", help="worker processes (default 1)")
    b.add_argument("--dask", metavar="ADDRESS", help="run on a dask.distributed scheduler at ADDRESS")
    b.add_argument("--overwrite", action="store_true", help="convert finished cases again")
    b.add_argument("--skip-bad", action="store_true",
                   help="leave out (and list) files of a case that are not masks or lie on another grid, "
                        "instead of failing the case")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_progress_flags(b)
    b.set_defaults(func=cmd_batch)
