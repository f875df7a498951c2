"""Full-resolution cases: s0000 at 1x, 2x and 3x (10 M, 81 M, 273 M voxels), side by side in one run.

    python benchmarks/bench_scale.py [--scales 1,2,3] [--runs 5] [--slow-runs 3] [--baseline-runs 3,2,1]
                                     [--clock wall|cpu] [--no-release] [--no-small]

For each scale (``scale_cases.nifti_case(k)``: s0000's 117 masks upsampled k times, cached):

- **convert**: ``medmask convert <folder> x.mska`` in a fresh process (wall, user, sys, peak
  RSS of that child from ``os.wait4``), beside the same convert with its files read by threads
  instead of worker processes, the floor of merely inflating the 117 files on every core
  (zlib-ng, output dropped), nibabel merely loading the 117 files in a fresh
  process, and medmask 0.2.0's convert (from this repository's history, ``bench_convert.release_tree``);
  run alternately (ABC CBA ...), median of ``--runs`` runs at 1x and 2x, ``--slow-runs`` at 3x;
  the two slow baselines ``--baseline-runs`` runs per scale. 0.2.0's archive is checked to hold
  what this tree's does.
- **write from Python**: 117 full uint8 arrays (what nibabel hands a user) through
  ``SegmentationMask`` + ``MaskArchive`` (the array building is not timed: one buffer, each
  organ painted in and out), against one memory pass over the same inputs (``max`` of each,
  the issue's yardstick), ``nib.save`` of one multi-label ``.nii.gz`` of the same
  label map, and ``MaskArchive.add_labelmap`` of that label map.
- **reads** (in process, median of ``--runs``, ``--slow-runs`` at 3x): the largest organ's crop, the largest organ as a
  full volume by the README's path (``load_segmask(name).get_binary_mask_by_names(name)``) and
  by ``.data``, all 117 entries as full volumes, against nibabel reading the organ's file and
  the multi-label file, and the floor: allocating the result(s) and copying in crops already in
  memory. Every figure's result is checked against the archive's voxel counts.

The small case (``--no-small`` skips it): s0000 subsampled 3x (every third voxel, 4.5 mm,
0.37 M voxels, the issue's "3 mm case"): all 117 entries read by this tree and by the tree
before issue 21's read-path work (``--before``), in alternating child processes, against one
multi-label ``.nii.gz`` of the same masks.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import timing  # noqa: E402
from timing import median_time  # noqa: E402  (one warm-up, then the median)

BEFORE = "cf5ec00"  # the tree before issue 21's read-path work (stats21 when this benchmark began)

NIB_LOAD = """
import sys, glob, numpy as np, nibabel as nib
n = 0
for f in sorted(glob.glob(sys.argv[1] + '/*.nii.gz')):
    n += int(np.count_nonzero(np.asarray(nib.load(f).dataobj)))
assert n > 0, 'no labelled voxel'
print(n)
"""

# the floor of convert: inflating every file, output dropped, on every core (zlib-ng, ~1 MB steps)
INFLATE_ONLY = """
import glob, os, sys
from concurrent.futures import ProcessPoolExecutor
from zlib_ng import zlib_ng
def inflate(path):
    raw, d, n = open(path, 'rb').read(), zlib_ng.decompressobj(31), 0
    while not d.eof:
        out = d.decompress(raw, 1 << 20)
        raw = d.unconsumed_tail
        n += len(out)
    return n
with ProcessPoolExecutor(len(os.sched_getaffinity(0))) as pool:
    n = sum(pool.map(inflate, sorted(glob.glob(sys.argv[1] + '/*.nii.gz'))))
assert n > 0
print(n)
"""

# this tree's convert with its files read by threads instead of worker processes
CONVERT_THREADS = """
import sys
from medmask.convert.nifti_folder import nifti_folder_to_archive
nifti_folder_to_archive(sys.argv[1], sys.argv[2], processes=False)
"""


# --- fresh processes ------------------------------------------------------------------------
# Linux keeps a process's peak RSS across fork and exec: a child of this (big) process would
# report this process's RSS as its own peak. A small launcher starts it instead and reports.
LAUNCH = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
print(json.dumps(dict(wall=time.perf_counter() - t0, user=ru.ru_utime, sys=ru.ru_stime, rss=ru.ru_maxrss / 1024,
                      code=os.waitstatus_to_exitcode(status))))
"""


def fresh(cmd: list[str], pythonpath: str | None = None, cwd: Path | None = None) -> dict:
    """Wall, user, sys seconds and peak RSS (MB) of one child process, from its own rusage."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, "-c", LAUNCH, *cmd], env=env, cwd=cwd, capture_output=True, text=True)
    try:
        res = json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        res = {"code": out.returncode}
    if out.returncode or res.pop("code"):
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-2000:]}")
    return res


def alternate(variants: dict, runs: dict[str, int]) -> dict:
    """Median of each field over ``runs[name]`` runs of each variant, in ABC CBA order (a variant
    with fewer runs takes part in the first rounds only)."""
    names = list(variants)
    got: dict[str, list[dict]] = {n: [] for n in names}
    for i in range(max(runs.values())):
        for n in (names if i % 2 == 0 else names[::-1]):
            if i < runs[n]:
                got[n].append(variants[n]())
    return {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} | {"runs": len(rs)} for n, rs in got.items()}


def same_content(a: Path, b: Path) -> None:
    from bench_convert import same_content as same

    same(a, b)


def convert_cmd(folder: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "medmask", "convert", str(folder), str(out)]


def convert_runs(folder: Path, tmp: Path, runs: int, baseline_runs: int, release: Path | None) -> dict:
    def conv(tree: Path, out: Path):
        def run():
            out.unlink(missing_ok=True)
            # cwd: ``-m`` puts the working folder first on the path, before PYTHONPATH
            return fresh(convert_cmd(folder, out), str(tree), cwd=tmp)
        return run

    variants = {"medmask convert (this tree)": conv(REPO, tmp / "today.mska")}
    if release is not None:
        variants["medmask 0.2.0 convert"] = conv(release, tmp / "old.mska")
    variants["medmask convert, reader threads"] = lambda: fresh(
        [sys.executable, "-c", CONVERT_THREADS, str(folder), str(tmp / "threads.mska")], str(REPO), cwd=tmp)
    variants["floor: inflating the files, all cores"] = lambda: fresh([sys.executable, "-c", INFLATE_ONLY, str(folder)])
    variants["nibabel loading the folder"] = lambda: fresh([sys.executable, "-c", NIB_LOAD, str(folder)])
    own = ("(this tree)", "reader threads", "all cores")
    res = alternate(variants, {n: runs if n.endswith(own) else baseline_runs for n in variants})
    same_content(tmp / "today.mska", tmp / "threads.mska")
    if release is not None:
        same_content(tmp / "today.mska", tmp / "old.mska")
    return res


# --- in process -----------------------------------------------------------------------------
def checked(fn, check, runs: int) -> float:
    """Median seconds of ``fn`` (after one warm-up run), once its result has passed ``check``."""
    check(fn())
    return median_time(fn, runs)


def scale_figures(k: int, folder: Path, cli: Path, tmp: Path, runs: int) -> dict:
    import nibabel as nib

    from medmask import MaskArchive, SegmentationMask
    from medmask.core.geometry import bbox_slices

    src = MaskArchive(cli)
    space, names = src.space, src.all_names()
    info = {n: src.entry_info(n) for n in names}
    masks = {n: src.load_segmask(n) for n in names}
    crops = {n: np.ascontiguousarray(masks[n].crop_data) for n in names if info[n].bbox is not None}
    largest = max(crops, key=lambda n: info[n].voxel_count)
    vc, box = info[largest].voxel_count, bbox_slices(info[largest].bbox)
    total = sum(info[n].voxel_count for n in names)
    assert vc > 0 and total > 0
    f: dict[str, float] = {}

    # label map of all organs (later names win where two overlap: TotalSegmentator's do not)
    label_of = {n: i for i, n in enumerate(names, start=1)}
    lab = np.zeros(space.shape, np.uint8)
    for n, c in crops.items():
        lab[bbox_slices(info[n].bbox)][c != 0] = label_of[n]
    lab_total, lab_vc = int(np.count_nonzero(lab)), int(np.count_nonzero(lab == label_of[largest]))
    assert lab_vc > 0
    ref = nib.load(next(folder.glob("*.nii.gz")))
    ml = tmp / f"multilabel_x{k}.nii.gz"

    def nib_save():
        nib.save(nib.Nifti1Image(lab.transpose(2, 1, 0), ref.affine, ref.header), ml)
    f["write nib.save multi-label"] = median_time(nib_save, runs)

    # 117 full arrays: one buffer, each organ painted in (not timed), used, painted out
    buf = np.zeros(space.shape, np.uint8)

    def over_inputs(step) -> float:
        """Seconds of ``step(name)`` summed over the 117 full arrays (the painting is not timed)."""
        spent = 0.0
        for n in names:
            sl = bbox_slices(info[n].bbox) if n in crops else None
            if sl is not None:
                buf[sl] = crops[n]
            t0 = timing.clock()
            step(n)
            spent += timing.clock() - t0
            if sl is not None:
                buf[sl] = 0
        return spent

    def api_write() -> float:
        with MaskArchive(tmp / "api.mska", "w", space=space) as a:
            spent = over_inputs(lambda n: a.add_segmask(SegmentationMask(buf, masks[n].mapping, space=space), n))
            t0 = timing.clock()
        return spent + timing.clock() - t0
    if k < 3:
        api_write()  # warm-up (at 3x each run takes tens of seconds: none)
    f["write API 117 full arrays"] = statistics.median(api_write() for _ in range(runs))
    # the goal's yardstick: reading each of the 117 inputs once (its max)
    f["one memory pass over the 117 inputs"] = statistics.median(over_inputs(lambda n: buf.max()) for _ in range(runs))
    with MaskArchive(tmp / "api.mska") as a:
        assert sum(a.entry_info(n).voxel_count for n in names) == total

    if hasattr(MaskArchive, "add_labelmap"):
        def labelmap_write():
            with MaskArchive(tmp / "lm.mska", "w", space=space) as a:
                a.add_labelmap(lab, label_of)
        f["write API add_labelmap"] = median_time(labelmap_write, runs)
        with MaskArchive(tmp / "lm.mska") as a:
            assert a.entry_info(largest).voxel_count == lab_vc

    def count_is(n):
        def check(arr):
            assert int(np.count_nonzero(arr)) == n, (int(np.count_nonzero(arr)), n)
        return check

    f["read crop"] = checked(lambda: MaskArchive(cli).load_segmask(largest).crop_data, count_is(vc), runs)
    f["read full (README path)"] = checked(
        lambda: MaskArchive(cli).load_segmask(largest).get_binary_mask_by_names(largest), count_is(vc), runs)
    f["read full (.data)"] = checked(lambda: MaskArchive(cli).load_segmask(largest).data, count_is(vc), runs)

    def floor_one():
        out = np.zeros(space.shape, bool)
        out[box] = crops[largest]
        return out
    f["floor full"] = checked(floor_one, count_is(vc), runs)

    def all_full():
        a, n = MaskArchive(cli), 0
        for name in names:
            n += int(np.count_nonzero(a.load_segmask(name).data)) if name in crops else 0
        return n

    def all_full_unchecked():
        a = MaskArchive(cli)
        for name in names:
            a.load_segmask(name).data
    assert all_full() == total
    f["read all 117 full"] = median_time(all_full_unchecked, runs)

    def floor_all():
        for n in names:
            out = np.zeros(space.shape, masks[n].dtype)
            if n in crops:
                out[bbox_slices(info[n].bbox)] = crops[n]
    f["floor all 117 full"] = median_time(floor_all, runs)

    f["nibabel organ file"] = checked(lambda: np.asarray(nib.load(folder / f"{largest}.nii.gz").dataobj),
                                      count_is(vc), runs)
    f["nibabel multi-label organ"] = checked(lambda: np.asarray(nib.load(ml).dataobj) == label_of[largest],
                                             count_is(lab_vc), runs)
    f["nibabel multi-label volume"] = checked(lambda: np.asarray(nib.load(ml).dataobj), count_is(lab_total), runs)
    f["floor np.zeros uint8 volume"] = median_time(lambda: np.zeros(space.shape, np.uint8), runs)
    f["_largest"] = largest  # type: ignore[assignment]
    f["_voxels"] = int(np.prod(space.shape))  # type: ignore[assignment]
    return f


# --- the small case -------------------------------------------------------------------------
def small_case(tmp: Path) -> tuple[Path, Path]:
    """s0000 subsampled 3x as a NIfTI folder, converted (.mska) and as one multi-label .nii.gz."""
    import nibabel as nib

    from scale_cases import S0000, _write_gz

    folder = tmp / "small"
    folder.mkdir()
    files = sorted(S0000.glob("*.nii.gz"))
    lab = None
    for i, f in enumerate(files, start=1):
        img = nib.load(f)
        data = np.asarray(img.dataobj, dtype=np.uint8)[::3, ::3, ::3]
        affine = img.affine.copy()
        affine[:3, :3] *= 3  # voxel 0 keeps its centre: every third voxel is exact nearest resampling
        _write_gz(folder / f.name, np.ascontiguousarray(data), affine)
        lab = np.zeros(data.shape, np.uint8) if lab is None else lab
        lab[data != 0] = i
    ml = tmp / "small_multilabel.nii.gz"
    nib.save(nib.Nifti1Image(lab, affine), ml)
    out = tmp / "small.mska"
    fresh(convert_cmd(folder, out), str(REPO), cwd=tmp)
    return out, ml


def child_small(archive: str, ml: str, runs: int) -> dict:
    """Run with the medmask under test first on PYTHONPATH: read-all figures of the small case."""
    import nibabel as nib

    from medmask import MaskArchive

    a0 = MaskArchive(archive)
    names = a0.all_names()
    total = sum(a0.entry_info(n).voxel_count for n in names)
    crops = {n: np.ascontiguousarray(a0.load_segmask(n).crop_data) for n in names}
    boxes = {n: a0.entry_info(n).bbox for n in names}
    shape = tuple(a0.space.shape)

    def all_full():
        a = MaskArchive(archive)
        return [a.load_segmask(n).data for n in names]

    def all_crops():
        a = MaskArchive(archive)
        return [a.load_segmask(n).crop_data for n in names]

    def one_by_one():  # the README's path for each organ
        a = MaskArchive(archive)
        return [a.load_segmask(n).get_binary_mask_by_names(n) for n in names]

    def floor():
        out = []
        for n in names:
            v = np.zeros(shape, crops[n].dtype)
            if boxes[n] is not None:
                v[tuple(slice(lo, hi) for lo, hi in boxes[n])] = crops[n]
            out.append(v)
        return out

    lab = np.asarray(nib.load(ml).dataobj)
    values = [int(v) for v in np.unique(lab) if v]
    lab_total = int(np.count_nonzero(lab))  # a voxel two masks share counts once here

    def nib_split():
        lab = np.asarray(nib.load(ml).dataobj)
        return [lab == v for v in range(1, len(names) + 1)]

    def total_of(vols, total=total):
        assert sum(int(np.count_nonzero(v)) for v in vols) == total, "voxel counts differ"

    def lab_total_of(vols):
        total_of(vols, lab_total)

    assert values, "an empty label map"
    return {"all 117 full (.data)": checked(all_full, total_of, runs),
            "all 117 README path": checked(one_by_one, total_of, runs),
            "all 117 crops": checked(all_crops, total_of, runs),
            "floor: 117 volumes + crops": checked(floor, total_of, runs),
            "nibabel multi-label volume": checked(lambda: [np.asarray(nib.load(ml).dataobj) != 0], lab_total_of,
                                                  runs),
            "nibabel multi-label, split into 117": checked(nib_split, lab_total_of, runs),
            "_voxels": int(np.prod(shape)), "_nonempty": sum(1 for n in names if boxes[n] is not None)}


def small_runs(tmp: Path, runs: int, before: str, clock: str) -> dict:
    from bench_convert import release_tree

    archive, ml = small_case(tmp)
    trees = {"this tree": REPO, f"before ({before})": release_tree(tmp, before)}
    got: dict[str, list[dict]] = {t: [] for t in trees}
    for i in range(3):  # three child processes per tree, alternating; each the median of ``runs``
        for t in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            out = subprocess.run([sys.executable, __file__, "--child-small", str(archive), str(ml), str(runs), clock],
                                 env=dict(os.environ, PYTHONPATH=str(trees[t])), capture_output=True, text=True,
                                 cwd=tmp)
            if out.returncode:
                raise SystemExit(f"small case, {t}: {out.stderr[-2000:]}")
            got[t].append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {t: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for t, rs in got.items()}


# --- output ---------------------------------------------------------------------------------
def ms(s: float) -> str:
    return f"{s * 1e3:,.1f} ms" if s < 1 else f"{s:,.2f} s"


def print_tables(conv: dict, reads: dict, scales: list[int]) -> None:
    head = "| | " + " | ".join(f"{k}× ({reads[k]['_voxels'] / 1e6:.0f} M voxels)" for k in scales) + " |"
    print(head + "\n|---|" + "---:|" * len(scales))
    for name in conv[scales[0]]:
        cells = []
        for k in scales:
            r = conv[k].get(name)
            cells.append("–" if r is None else f"{r['wall']:.2f} s wall, {r['user']:.2f} user + {r['sys']:.2f} sys, "
                         f"{r['rss']:,.0f} MB peak ({r['runs']} runs)")
        print(f"| {name} | " + " | ".join(cells) + " |")
    for k in scales:
        t, nb = conv[k]["medmask convert (this tree)"], conv[k]["nibabel loading the folder"]
        print(f"| convert vs nibabel loading, {k}× | wall {nb['wall'] / t['wall']:.1f}×, CPU "
              f"{(nb['user'] + nb['sys']) / (t['user'] + t['sys']):.1f}× faster |")
        fl = conv[k]["floor: inflating the files, all cores"]
        print(f"| convert vs the inflate floor, {k}× | wall {t['wall'] / fl['wall']:.2f}× |")
    keys = [k for k in reads[scales[0]] if not k.startswith("_")]
    for key in keys:
        print(f"| {key} | " + " | ".join(ms(reads[k][key]) if key in reads[k] else "–" for k in scales) + " |")
    for k in scales:
        r = reads[k]
        extra = (f", add_labelmap {r['write API add_labelmap'] / r['write nib.save multi-label']:.2f}×"
                 if "write API add_labelmap" in r else ", add_labelmap: not on this tree")
        print(f"{k}×: largest organ {r['_largest']}; README path {r['read full (README path)'] / r['read full (.data)']:.2f}× "
              f".data, {r['read full (README path)'] / r['floor full']:.2f}× the floor, "
              f"{r['nibabel organ file'] / r['read full (README path)']:.0f}× faster than nibabel's organ file; "
              f"all 117 full {r['read all 117 full'] / r['floor all 117 full']:.2f}× the floor; API write "
              f"{r['write API 117 full arrays'] / r['write nib.save multi-label']:.2f}× nib.save, "
              f"{r['write API 117 full arrays'] / r['one memory pass over the 117 inputs']:.2f}× one pass over its inputs"
              + extra)


def print_small(res: dict, runs: int) -> None:
    first = next(iter(res.values()))
    print(f"small case: s0000 every third voxel ({first['_voxels'] / 1e6:.2f} M voxels, {first['_nonempty']} "
          f"non-empty of 117), 3 child processes per tree alternating, each the median of {runs}")
    print("| | " + " | ".join(res) + " |\n|---|" + "---:|" * len(res))
    for key in (k for k in first if not k.startswith("_")):
        print(f"| {key} | " + " | ".join(f"{r[key] * 1e3:.2f} ms" for r in res.values()) + " |")
    for t, r in res.items():
        print(f"{t}: all 117 full {r['all 117 full (.data)'] / r['nibabel multi-label volume']:.2f}× one "
              f"multi-label .nii.gz, {r['all 117 full (.data)'] / r['nibabel multi-label, split into 117']:.2f}× "
              f"it split into 117; {(r['all 117 full (.data)'] - r['floor: 117 volumes + crops']) / 117 * 1e6:.0f} "
              f"µs per entry above the floor, crops {r['all 117 crops'] / 117 * 1e6:.0f} µs per entry", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", default="1,2,3")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure at 1x and 2x")
    ap.add_argument("--slow-runs", type=int, default=2, help="runs per figure at 3x and above")
    ap.add_argument("--release-scales", default="1,2", help="scales at which medmask 0.2.0's convert runs too")
    ap.add_argument("--baseline-runs", default="3,2,1",
                    help="runs of nibabel loading the folder and of medmask 0.2.0's convert at 1x, 2x, 3x...")
    ap.add_argument("--no-release", action="store_true", help="leave out medmask 0.2.0's convert")
    ap.add_argument("--no-small", action="store_true", help="leave out the small case")
    ap.add_argument("--before", default=BEFORE, help="the tree the small case's reads are compared with")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="in-process figures: wall clock, or this process's CPU time (steadier on a busy machine)")
    ap.add_argument("--child-small", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_small:
        archive, ml, runs, clock = args.child_small
        timing.use_clock(clock)
        print(json.dumps(child_small(archive, ml, int(runs))))
        return 0
    sys.path.insert(0, str(REPO))
    from bench_convert import release_tree
    from scale_cases import nifti_case

    timing.use_clock(args.clock)
    scales = [int(s) for s in args.scales.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="medmask-bench-scale-"))
    atexit.register(shutil.rmtree, tmp, True)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; in-process figures on the "
          f"{args.clock} clock, "
          f"({time.strftime('%H:%M UTC', time.gmtime())})")
    release = None if args.no_release else release_tree(tmp)
    conv, reads = {}, {}
    if not args.no_small:
        print_small(small_runs(tmp, args.runs * 3, args.before, args.clock), args.runs * 3)
    baseline = [int(v) for v in args.baseline_runs.split(",")]
    release_scales = {int(v) for v in args.release_scales.split(",") if v}
    for k in scales:
        folder = nifti_case(k)
        runs = args.runs if k < 3 else args.slow_runs
        conv[k] = convert_runs(folder, tmp, runs, baseline[min(k - 1, len(baseline) - 1)],
                               release if k in release_scales else None)
        cli = tmp / f"x{k}.mska"
        shutil.move(tmp / "today.mska", cli)
        reads[k] = scale_figures(k, folder, cli, tmp, runs)
        print(f"\n{k}× done, load average {os.getloadavg()[0]:.2f}", flush=True)
        print_tables(conv, reads, [k])  # as it goes: a long run stopped early keeps what it measured
    if len(scales) > 1:
        print()
        print_tables(conv, reads, sorted(scales))
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
