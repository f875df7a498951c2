"""`medmask convert <folder> out.mska` as a user runs it, against medmask 0.2.0, side by side.

    python benchmarks/bench_convert.py [--data ../shared/data/totalseg_s0000] [--runs 7] [--baseline PATH]

Each run is a fresh process (``python -m medmask convert <data> out.mska``, the output
removed first, so both versions write a new file). This tree and medmask 0.2.0 run
alternately, in the same order pattern (ABBA...), with the same interpreter and packages;
the figures are the median wall-clock time and the median CPU time (user + system of the
child) of ``--runs`` runs each.

medmask 0.2.0 is the first release (commit ``RELEASE_0_2_0``), taken from this
repository's history with ``git archive`` into a temporary folder, unless ``--baseline``
names a checkout of it. Both are serial (one thread). "today, zlib only" is this tree with
the optional inflaters (libdeflate of extra ``fast``, zlib-ng) hidden: what a user without
the extra gets.

Both archives are checked to hold the same entries with the same voxels and geometry.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "totalseg_s0000"
RELEASE_0_2_0 = "19e1cdf50e275adc06f1b726326a6837c531e8fd"  # medmask 0.2.0, the first release


def release_tree(dest: Path, commit: str = RELEASE_0_2_0) -> Path:
    """The source tree of ``commit`` (from this repository's git history) under ``dest``."""
    archive = dest / "src.tar"
    with open(archive, "wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", commit], check=True, stdout=fh)
    tree = dest / f"medmask-{commit[:7]}"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tree)
    archive.unlink()
    return tree


def hide_modules(dest: Path, names=("deflate", "zlib_ng")) -> Path:
    """A folder that, first on the path, makes ``import <name>`` fail for each of ``names``."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        (dest / f"{name}.py").write_text(f"raise ImportError('{name} hidden by bench_convert')\n")
    return dest


def run_convert(tree, data: Path, out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one ``python -m medmask convert data out`` with ``tree`` (path or paths) first on the path."""
    trees = tree if isinstance(tree, (list, tuple)) else [tree]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(t) for t in trees))
    if out.exists():
        out.unlink()
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    # cwd: ``-m`` puts the working folder first on the path, before PYTHONPATH
    subprocess.run([sys.executable, "-m", "medmask", "convert", str(data), str(out)], check=True, env=env,
                   cwd=out.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def same_content(a: Path, b: Path) -> None:
    """Raise unless the two archives hold the same names, voxels and geometry."""
    sys.path.insert(0, str(REPO))
    import numpy as np

    from medmask import MaskArchive

    with MaskArchive(a) as x, MaskArchive(b) as y:
        assert x.all_names() == y.all_names(), "different entry names"
        assert x.space == y.space, "different geometry"
        for n in x.all_names():
            mx, my = x.load_segmask(n), y.load_segmask(n)
            assert mx.mapping.to_dict() == my.mapping.to_dict(), n
            assert mx.bbox == my.bbox and np.array_equal(mx.crop_data, my.crop_data), n


def compare(data: Path, runs: int = 7, baseline: Path | None = None) -> dict:
    """Median (wall, CPU) seconds of 'today', '0.2.0' and 'today, zlib only', run alternately (ABC CBA ...)."""
    tmp = Path(tempfile.mkdtemp(prefix="medmask-bench-convert-"))
    try:
        variants = {"today": REPO, "0.2.0": baseline or release_tree(tmp),
                    "today, zlib only": [hide_modules(tmp / "hidden"), REPO]}
        names = list(variants)
        for n, name in enumerate(names):  # warm the page cache and .pyc files; not timed
            run_convert(variants[name], data, tmp / f"warm{n}.mska")
        same_content(tmp / "warm0.mska", tmp / "warm1.mska")
        assert (tmp / "warm0.mska").read_bytes() == (tmp / "warm2.mska").read_bytes(), "inflaters disagree"
        times: dict[str, list] = {n: [] for n in names}
        for i in range(runs):
            for name in (names if i % 2 == 0 else names[::-1]):
                times[name].append(run_convert(variants[name], data, tmp / "out.mska"))
        return {n: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for n, t in times.items()}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def inflater_name() -> str:
    sys.path.insert(0, str(REPO))
    from medmask.convert.nifti_read import inflater_name as name

    return name()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--baseline", type=Path, help="a checkout of medmask 0.2.0 (default: from git history)")
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no data at {args.data}")
    files = len(list(args.data.glob("*.nii*")))
    print(f"medmask convert {args.data.name} ({files} files) out.mska: fresh process, {args.runs} runs each, "
          f"alternating; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
          f"gzip inflater today: {inflater_name()}")
    res = compare(args.data, args.runs, args.baseline)
    ow, oc = res["0.2.0"]
    print(f"{'version':16s} {'wall s':>8s} {'CPU s':>8s} {'wall vs 0.2.0':>14s} {'CPU vs 0.2.0':>13s}")
    for name, (w, c) in res.items():
        print(f"{name:16s} {w:8.2f} {c:8.2f} {ow / w:13.2f}x {oc / c:12.2f}x")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
