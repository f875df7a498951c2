"""Size and speed of the 117 TotalSegmentator masks of one CT, stored four ways, side by side.

    python benchmarks/bench_format.py [--data ../shared/data/totalseg_s0000] [--repeat 7]

The medmask archive is the one the command line makes (``medmask convert <folder> x.mska``),
NIfTI header facts included. Organs are real, non-empty ones: the largest (most voxels),
the median one, and all non-empty ones; an empty entry is never timed as "one organ".
Every timing is the median of ``--repeat`` runs, all in one process, one after another;
each full-volume figure is printed beside its *floor*: allocating the volume(s) and
copying in crops already in memory, which no reader can beat.

Compared: 117 ``.nii.gz`` files (nibabel), the original medmask format v1 (archive),
the medmask v2 archive, and a v2 combined multi-label ``.msk``.
"""
from __future__ import annotations

import argparse
import atexit
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask  # noqa: E402
from medmask.core.geometry import bbox_slices  # noqa: E402

import timing  # noqa: E402  (the benchmarks' shared timing rule)
from timing import median_time  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "totalseg_s0000"


def cli_convert(data: Path, out: Path) -> float:
    """Seconds for ``medmask convert data out`` as a user runs it (a fresh process)."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, "-m", "medmask", "convert", str(data), str(out), "--overwrite"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    if timing.clock is time.perf_counter:
        return time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


from bench_convert import compare as compare_convert, inflater_name  # noqa: E402  (the convert row, side by side)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="cpu: this process's CPU time (user + system), steadier on a busy machine")
    args = ap.parse_args()
    timing.use_clock(args.clock)
    if not args.data.is_dir():
        raise SystemExit(f"no data at {args.data}")
    R = args.repeat
    tmp = Path(tempfile.mkdtemp(prefix="medmask-bench-"))
    atexit.register(shutil.rmtree, tmp, True)  # ~6 MB of copies per run, removed however the run ends
    cli_path, v1_path, v2_path, msk_path = tmp / "cli.mska", tmp / "v1.mska", tmp / "v2.mska", tmp / "combined.msk"
    many_path = tmp / "many.mska"

    # --- the archive the command line makes, and the masks it holds ---------------------------
    cli_convert(args.data, cli_path)  # the archive the command line makes; its speed: bench_convert, below
    src = MaskArchive(cli_path)
    names = src.all_names()
    masks = {n: src.load_segmask(n) for n in names}
    space = src.space
    info = {n: src.entry_info(n) for n in names}
    nonempty = sorted((n for n in names if not info[n].is_empty), key=lambda n: info[n].voxel_count)
    largest, median_organ = nonempty[-1], nonempty[len(nonempty) // 2]
    crops = {n: np.ascontiguousarray(masks[n].crop_data) for n in nonempty}
    files = sorted(args.data.glob("*.nii.gz"))
    rows: dict[str, dict] = {}

    # --- NIfTI: 117 files -------------------------------------------------------------------------
    ndir = tmp / "nifti"
    ndir.mkdir()
    ref = nib.load(files[0])
    arrays = {n: np.ascontiguousarray(masks[n].data.transpose(2, 1, 0)).astype(np.uint8) for n in names}

    def nifti_write():
        for n, a in arrays.items():
            nib.save(nib.Nifti1Image(a, ref.affine, ref.header), ndir / f"{n}.nii.gz")

    def nifti_one(organ):
        return lambda: np.asarray(nib.load(args.data / f"{organ}.nii.gz").dataobj)

    def nifti_all():
        for f in files:
            np.asarray(nib.load(f).dataobj)

    rows["117 x .nii.gz (nibabel)"] = dict(
        bytes=sum(f.stat().st_size for f in files), write=median_time(nifti_write, max(1, R // 3)),
        list=median_time(lambda: sorted(p.name for p in args.data.glob("*.nii.gz")), R),
        big_full=median_time(nifti_one(largest), R), med_full=median_time(nifti_one(median_organ), R),
        all_full=median_time(nifti_all, max(1, R // 2)))

    # --- medmask v1 (original format) -------------------------------------------------------------
    def v1_write():
        with MaskArchive(v1_path, "w", space=space, format_version=1) as a:
            for n in names:
                a.add_segmask(SegmentationMask(masks[n].data, masks[n].mapping, space=space), n)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # v1 drops the NIfTI metadata, and says so
        v1_w = median_time(v1_write, max(1, R // 3))

    def v1_one(organ):
        return lambda: MaskArchive(v1_path).load_segmask(organ).get_binary_mask_by_names([organ])

    def v1_all():
        a = MaskArchive(v1_path)
        for n in names:
            a.load_segmask(n).data

    rows["medmask v1 archive (original)"] = dict(
        bytes=v1_path.stat().st_size, write=v1_w, list=median_time(lambda: MaskArchive(v1_path).all_names(), R),
        big_full=median_time(v1_one(largest), R), med_full=median_time(v1_one(median_organ), R),
        all_full=median_time(v1_all, max(1, R // 2)))

    # --- medmask v2 archive (as the CLI made it; "write" rewrites its masks through the API) ------
    def v2_write():
        with MaskArchive(v2_path, "w", space=space) as a:
            for n in names:
                a.add_segmask(masks[n], n)

    def v2_crop(organ):
        return lambda: MaskArchive(cli_path).load_segmask(organ).crop_data

    def v2_full(organ):
        return lambda: MaskArchive(cli_path).load_segmask(organ).get_binary_mask_by_names([organ])

    def v2_crops():
        a = MaskArchive(cli_path)
        for n in nonempty:
            a.load_segmask(n).crop_data

    def v2_all():
        a = MaskArchive(cli_path)
        for n in names:
            a.load_segmask(n).data

    def v2_infos():
        a = MaskArchive(cli_path)  # a fresh handle: records are parsed on first use
        for n in names:
            a.entry_info(n)

    rows["medmask v2 archive (CLI-made)"] = dict(
        bytes=cli_path.stat().st_size, write=median_time(v2_write, R),
        list=median_time(lambda: MaskArchive(cli_path).all_names(), R),
        big_crop=median_time(v2_crop(largest), R), med_crop=median_time(v2_crop(median_organ), R),
        all_crops=median_time(v2_crops, R),
        big_full=median_time(v2_full(largest), R), med_full=median_time(v2_full(median_organ), R),
        all_full=median_time(v2_all, R), infos=median_time(v2_infos, R))

    # --- medmask v2 combined multi-label .msk -------------------------------------------------------
    combined = SegmentationMask.lazy_init(8, space=space)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, n in enumerate(names, start=1):
            combined.add_label(masks[n].data != 0, i, n, overlap="keep")
    save_mask(combined, msk_path)
    rows["medmask v2 combined .msk"] = dict(
        bytes=msk_path.stat().st_size, write=median_time(lambda: save_mask(combined, msk_path), R),
        all_crops=median_time(lambda: load_mask(msk_path).crop_data, R),
        all_full=median_time(lambda: load_mask(msk_path).data, R))

    # --- an archive of 5,000 entries: opening and listing -------------------------------------------
    one = np.zeros((4, 4, 4), bool)
    one[1:3, 1:3, 1:3] = True
    small = SegmentationMask(one, {"structure": 1}, space=SegmentationMask(one).space)
    with MaskArchive(many_path, "w", space=small.space, level=3) as a:
        for i in range(5000):
            a.add_segmask(small, f"structure_{i:04d}")
    many_list = median_time(lambda: MaskArchive(many_path).all_names(), R)

    # --- floors: allocate the volume(s) and copy in crops already in memory ---------------------------
    def floor_one(organ):
        def fill():
            out = np.zeros(space.shape, bool)
            out[bbox_slices(info[organ].bbox)] = crops[organ]
        return fill

    def floor_all():
        for n in names:
            out = np.zeros(space.shape, masks[n].dtype)
            if n in crops:
                out[bbox_slices(info[n].bbox)] = crops[n]

    floors = dict(big_full=median_time(floor_one(largest), R), med_full=median_time(floor_one(median_organ), R),
                  all_full=median_time(floor_all, R))

    # --- print ------------------------------------------------------------------------------------------
    print(f"data: {args.data} ({len(names)} masks, {len(nonempty)} non-empty, shape {tuple(space.shape)}); "
          f"median of {R} runs in one process, {args.clock}-clock time")
    print(f"largest organ {largest!r} ({info[largest].voxel_count:,} voxels, crop {info[largest].crop_shape}), "
          f"median organ {median_organ!r} ({info[median_organ].voxel_count:,} voxels)\n")
    cols = [("bytes", "bytes"), ("write", "write"), ("list", "open+list"),
            ("big_crop", "largest crop"), ("med_crop", "median crop"), ("all_crops", "all crops"),
            ("big_full", "largest full"), ("med_full", "median full"), ("all_full", "all 117 full")]

    def cell(r, key):
        v = r.get(key)
        if v is None:
            return "-"
        return f"{v:,d}" if key == "bytes" else f"{v * 1e3:.2f}"

    head = f"{'format':31s}" + "".join(f"{title:>13s}" for _, title in cols)
    print(head + "\n" + "-" * len(head))
    for k, r in rows.items():
        print(f"{k:31s}" + "".join(f"{cell(r, key):>13s}" for key, _ in cols))
    print(f"{'floor (allocate + copy crops)':31s}" + "".join(f"{cell(floors, key):>13s}" for key, _ in cols))
    print("(times in ms; 'full' = the organ as a full-volume boolean array, 'all 117 full' = every entry's"
          " full label volume; NIfTI/v1 rows always decode full volumes)\n")
    v2 = rows["medmask v2 archive (CLI-made)"]
    runs = max(3, R // 2)
    conv = compare_convert(args.data, runs)
    (tw, tc), (ow, oc) = conv["today"], conv["0.2.0"]
    print(f"medmask convert of the folder (fresh process, gzip inflater {inflater_name()}; benchmarks/bench_convert.py: "
          f"alternating with medmask 0.2.0, median of {runs}): {tw:.2f} s wall, {tc:.2f} s CPU; 0.2.0 {ow:.2f} s wall, "
          f"{oc:.2f} s CPU: {ow / tw:.1f}x faster (wall), {oc / tc:.1f}x (CPU)")
    print(f"open + entry_info of all {len(names)} entries: {v2['infos'] * 1e3:.2f} ms")
    print(f"open + list names of a 5,000-entry archive: {many_list * 1e3:.2f} ms")
    for key, what in (("big_full", "largest organ full"), ("med_full", "median organ full"), ("all_full", "all 117 full")):
        print(f"{what}: {v2[key] / floors[key]:.2f}x the floor")
    nifti, v1 = rows["117 x .nii.gz (nibabel)"], rows["medmask v1 archive (original)"]
    for label, r in (("117 x .nii.gz", nifti), ("medmask v1", v1)):
        print(f"vs {label:14s}: {r['bytes'] / v2['bytes']:.0f}x smaller, writes {r['write'] / v2['write']:.0f}x faster, "
              f"largest organ {r['big_full'] / v2['big_full']:.0f}x faster, all full volumes "
              f"{r['all_full'] / v2['all_full']:.0f}x faster")
    if caught:
        print(f"\ncombined .msk: add_label(overlap='keep') reported {len(caught)} overlaps")


if __name__ == "__main__":
    main()
