"""The three targets of `medmask stats` / `medmask compare`, each beside a nibabel loop giving the same answers.

    python benchmarks/bench_stats.py [--data ../shared/data/totalseg_s0000] [--cases 1000] [--repeat 5]

1. volumes, boxes of every label of N archives of the s0000 case (index only) vs loading
   the 117 .nii.gz of a case with nibabel and counting (measured on 3 cases, times N/3);
2. intensities (mean, std, median, p5, p95) of the s0000 masks in a synthetic CT on the
   s0000 grid (.nii.gz and .nii), vs nibabel loading the CT and the 117 masks;
3. s0000 against an edited copy (Dice, volumes, HD95), vs nibabel loading both folders and
   computing the same figures (same surface/k-d tree method) on full volumes.

Runs pinned to one CPU core. Wall-clock medians of --repeat runs, CPU time beside them
(the machine may be shared: CPU time is less disturbed by other processes).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import medmask  # noqa: E402
from medmask import MaskArchive, SegmentationMask  # noqa: E402
from medmask.stats.intensity import summarize  # noqa: E402
from medmask.stats.surface import surface_distances, surface_points_mm  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "totalseg_s0000"


def timed(fn, repeat: int) -> tuple[float, float, object]:
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def nib_masks(folder: Path) -> dict[str, np.ndarray]:
    return {f.name[:-7]: np.asarray(nib.load(str(f)).dataobj).transpose(2, 1, 0)
            for f in sorted(folder.glob("*.nii.gz"))}


def nib_volumes(folder: Path) -> list[tuple[str, int, tuple]]:
    """What `medmask stats` answers (voxels, ml, box), the nibabel way."""
    out = []
    for f in sorted(folder.glob("*.nii.gz")):
        img = nib.load(str(f))
        data = np.asarray(img.dataobj)
        n = int(np.count_nonzero(data))
        ml = n * abs(float(np.linalg.det(img.affine[:3, :3]))) / 1000
        box = tuple((int(i.min()), int(i.max()) + 1) for i in np.nonzero(data)) if n else None
        out.append((f.name[:-7], n, ml, box))
    return out


def synthetic_ct(archive: Path, reference: Path, out: Path) -> None:
    """A CT-like int16 volume on the masks' grid: air, a body, organs at their own HU, noise."""
    ref = nib.load(str(reference))
    rng = np.random.default_rng(0)
    shape = ref.shape[:3]
    i, j = np.meshgrid(np.linspace(-1, 1, shape[0]), np.linspace(-1, 1, shape[1]), indexing="ij")
    body = (i ** 2 + j ** 2) < 0.8
    ct = np.where(body[..., None], 40.0, -1000.0) * np.ones(shape)
    with MaskArchive(archive) as a:
        for k, name in enumerate(a.names):
            m = a[name]
            if m.bbox is not None:
                ct[m.data.transpose(2, 1, 0)] = -100 + 37 * (k % 20)
    ct += rng.normal(0, 12, shape)
    img = nib.Nifti1Image(ct.astype(np.int16), ref.affine)
    img.set_data_dtype(np.int16)
    nib.save(img, str(out))


def nib_intensities(ct_path: Path, folder: Path):
    ct = np.asarray(nib.load(str(ct_path)).dataobj)
    out = {}
    for f in sorted(folder.glob("*.nii.gz")):
        m = np.asarray(nib.load(str(f)).dataobj) > 0
        if m.any():
            out[f.name[:-7]] = summarize(ct[m])
    return out


def nib_compare(folder_a: Path, folder_b: Path, spacing):
    a, b = nib_masks(folder_a), nib_masks(folder_b)
    out = {}
    for name in a:
        x, y = a[name] > 0, b[name] > 0
        nx, ny = int(x.sum()), int(y.sum())
        if nx and ny:
            inter = int((x & y).sum())
            d = surface_distances(surface_points_mm(x, (0, 0, 0), spacing), surface_points_mm(y, (0, 0, 0), spacing))
            out[name] = (2 * inter / (nx + ny), d.hd95_mm)
    return out


def edit_copy(src: Path, dst: Path, every: int) -> int:
    from scipy import ndimage

    shutil.copy(src, dst)
    edited = 0
    with MaskArchive(dst, "a") as a:
        filled = [n for n in a.names if a.entry_info(n).bbox is not None]
        for k, name in enumerate(filled):
            if k % every:
                continue
            d = a[name].data
            grown = ndimage.binary_dilation(d) if k % 2 else ndimage.binary_erosion(d)
            a[name] = SegmentationMask(grown, {name: 1}, space=a.space)
            edited += 1
    return edited


def row(task, medmask_s, medmask_cpu, other_s, other_cpu, target, note=""):
    """Ratio on CPU time; the target is checked on CPU time too (one core, undisturbed by others)."""
    ratio = other_cpu / medmask_cpu if medmask_cpu else float("nan")
    ok = "yes" if medmask_cpu <= target else "NO"
    print(f"| {task} | {medmask_s * 1000:,.0f} ms ({medmask_cpu * 1000:,.0f} CPU) | {other_s * 1000:,.0f} ms "
          f"({other_cpu * 1000:,.0f} CPU){note} | {ratio:,.0f}x | <= {target:g} s: {ok} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"no data at {args.data}")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the targets say
    from medmask.convert import convert
    from medmask.cli import main as cli

    tmp = Path(tempfile.mkdtemp(prefix="bench_stats_"))
    try:
        s0000 = Path(convert(args.data, tmp / "s0000.mska"))
        cohort = tmp / "cohort"
        cohort.mkdir()
        for k in range(args.cases):
            shutil.copy(s0000, cohort / f"case{k:04d}.mska")
        print(f"machine: {os.cpu_count()} cores (pinned to 1), shared with other work; "
              f"medians of {args.repeat} runs\n")
        print("| task | medmask, wall (CPU) | nibabel loop, same answers, wall (CPU) | ratio (CPU) | target (CPU) |")
        print("|---|---:|---:|---:|---|")

        # 1. cohort volumes -------------------------------------------------------------
        out_csv = tmp / "volumes.csv"
        wall, cpu, _ = timed(lambda: cli(["stats", str(cohort), "-o", str(out_csv), "-q"]), args.repeat)
        n_rows = sum(1 for _ in open(out_csv)) - 1
        # the nibabel loop costs ~1 s per case: measured on 3 cases, scaled to the cohort
        nwall, ncpu, answers = timed(lambda: [nib_volumes(args.data) for _ in range(3)], 1)
        rows = {r["entry"]: r for r in medmask.compute_stats(s0000)}
        for name, n, ml, box in answers[0]:  # type: ignore[index]
            assert rows[name]["voxels"] == n and abs(rows[name]["volume_ml"] - ml) < 1e-6 * max(ml, 1)
        scale = args.cases / 3
        row(f"`medmask stats` {args.cases:,} archives -> CSV ({n_rows:,} rows)", wall, cpu, nwall * scale,
            ncpu * scale, 2.0, " (3 cases measured, scaled)")
        from medmask.storage.reader import ContainerReader

        def indexes_only():
            for p in sorted(cohort.iterdir()):
                reader = ContainerReader(p)
                [reader.info(n) for n in reader.names]
                reader.close()
        fwall, fcpu, _ = timed(indexes_only, args.repeat)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "medmask", "stats", str(cohort), "-o", str(out_csv), "-q"],
                       check=True, env={**os.environ, "PYTHONPATH": str(HERE.parent)})
        cold = time.perf_counter() - t0

        # 2. intensities ----------------------------------------------------------------
        ct_gz, ct_raw = tmp / "ct.nii.gz", tmp / "ct.nii"
        synthetic_ct(s0000, args.data / "liver.nii.gz", ct_gz)
        nib.save(nib.load(str(ct_gz)), str(ct_raw))
        for ct in (ct_gz, ct_raw):
            wall, cpu, got = timed(lambda: medmask.compute_stats(s0000, image=ct), args.repeat)
            nwall, ncpu, ref = timed(lambda: nib_intensities(ct, args.data), max(1, args.repeat // 2))
            got = {r["entry"]: r for r in got if r["voxels"]}  # type: ignore[union-attr]
            for name, stats in ref.items():  # type: ignore[union-attr]
                for k, v in stats.items():
                    assert abs(got[name][k] - v) <= 1e-9 * max(1, abs(v)), (name, k, got[name][k], v)
            row(f"intensities, s0000 masks in a CT on its grid ({ct.name}, {ct.stat().st_size / 1e6:.1f} MB)",
                wall, cpu, nwall, ncpu, 0.5)

        # 3. compare ----------------------------------------------------------------------
        spacing = [float(s) for s in medmask.MaskArchive(s0000).space.spacing]
        for every, what in ((3, "every 3rd organ"), (1, "every organ")):
            edited = tmp / f"edited_{every}.mska"
            n_edited = edit_copy(s0000, edited, every)
            folder_b = tmp / f"edited_{every}_nifti"
            convert(edited, folder_b)
            wall, cpu, got = timed(lambda: medmask.compare(s0000, edited), args.repeat)
            nwall, ncpu, ref = timed(lambda: nib_compare(args.data, folder_b, spacing), max(1, args.repeat // 2))
            got = {r["entry"]: r for r in got if r["status"] == "ok"}  # type: ignore[union-attr]
            for name, (dice, hd95) in ref.items():  # type: ignore[union-attr]
                assert abs(got[name]["dice"] - dice) < 1e-12 and abs(got[name]["hd95_mm"] - hd95) < 1e-9, name
            row(f"`compare` s0000 vs a copy with {what} edited ({n_edited} of 21; Dice, volumes, HD95)",
                wall, cpu, nwall, ncpu, 1.0)
        print(f"\nfloor of row 1: opening the {args.cases:,} archives and parsing their index records, nothing else: "
              f"{fwall * 1000:,.0f} ms ({fcpu * 1000:,.0f} CPU)")
        print(f"cold start of `medmask stats` on the {args.cases:,} archives (new Python process, imports "
              f"included): {cold:.2f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
