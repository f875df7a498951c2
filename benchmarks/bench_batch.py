"""Throughput of `medmask batch` (convert_dataset) on copies of one TotalSegmentator case.

    .venv/bin/python benchmarks/bench_batch.py [--cases 8] [--runs 3] [--workers 1 2]

Builds a temporary dataset of N cases (each a symlink to ../shared/data/totalseg_s0000,
117 masks), converts it with a ProcessPoolExecutor of 1 and 2 workers (fresh output each
run), and prints the median time, cases/s and the size before/after.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medmask.batch import convert_dataset  # noqa: E402

DEFAULT_CASE = REPO.parent / "shared/data/totalseg_s0000"


def build_dataset(root: Path, case_dir: Path, n: int) -> None:
    for i in range(n):
        d = root / f"s{i:04d}"
        d.mkdir(parents=True)
        os.symlink(case_dir.resolve(), d / "segmentations")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", type=Path, default=DEFAULT_CASE, help="folder of one case's .nii.gz masks")
    ap.add_argument("--cases", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args(argv)
    if not args.case.is_dir():
        print(f"bench_batch: {args.case} not found; nothing to measure", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "dataset"
        build_dataset(src, args.case, args.cases)
        rows = []
        for workers in args.workers:
            times = []
            for run in range(args.runs):
                dst = Path(tmp) / f"out_{workers}_{run}"
                t0 = time.perf_counter()
                with ProcessPoolExecutor(workers) as ex:
                    summary = convert_dataset(src, dst, ex)
                times.append(time.perf_counter() - t0)
                if summary.failed:
                    print(f"failures: {[(r.case, r.error) for r in summary.failed]}", file=sys.stderr)
                    return 1
                size_in, size_out = summary.src_bytes, summary.dst_bytes
                shutil.rmtree(dst)
            med = statistics.median(times)
            rows.append((workers, med, args.cases / med, size_in, size_out, times))
    base = rows[0][1]
    print(f"medmask batch: {args.cases} cases x {len(list(args.case.glob('*.nii.gz')))} masks "
          f"({args.case.name}), median of {args.runs} runs, {os.cpu_count()} CPUs")
    print(f"{'workers':>7}  {'median s':>8}  {'cases/s':>7}  {'speedup':>7}  {'NIfTI MB':>8}  {'.mska KB':>8}  runs (s)")
    for workers, med, cps, size_in, size_out, times in rows:
        print(f"{workers:>7}  {med:>8.2f}  {cps:>7.2f}  {base / med:>6.2f}x  {size_in / 1e6:>8.1f}  "
              f"{size_out / 1e3:>8.1f}  {' '.join(f'{t:.2f}' for t in times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
