"""Size and speed of the 117 TotalSegmentator masks of one CT, stored four ways, side by side.

    python benchmarks/bench_format.py [--data ../shared/data/totalseg_s0000] [--repeat 5]

Compares: 117 .nii.gz files (nibabel), the original medmask format v1 (archive),
medmask v2 per-organ archive, and a v2 combined multi-label .msk. Medians of --repeat runs.
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from medmask import MaskArchive, SegmentationMask, load_mask, save_mask
from medmask.core.geometry import bbox_slices

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "totalseg_s0000"


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def read_nifti_folder(folder: Path):
    """name -> (z, y, x) uint8 array, and the Space (medmask's own NIfTI geometry) of the first file."""
    from medmask.convert._geometry import space_from_ras_affine
    files = sorted(folder.glob("*.nii.gz"))
    arrays = {}
    for f in files:
        arrays[f.name[: -len(".nii.gz")]] = np.ascontiguousarray(np.asarray(nib.load(f).dataobj).transpose(2, 1, 0)).astype(np.uint8)
    img = nib.load(files[0])
    space = space_from_ras_affine(img.affine, img.shape[:3])
    return files, arrays, space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"no data at {args.data}")
    files, arrays, space = read_nifti_folder(args.data)
    names = list(arrays)
    masks = {n: SegmentationMask(a, {n: 1}, space=space) for n, a in arrays.items()}
    nonempty = [n for n in names if arrays[n].any()]
    organ = "liver" if "liver" in arrays else nonempty[0]
    tmp = Path(tempfile.mkdtemp(prefix="medmask-bench-"))
    v1_path, v2_path, msk_path = tmp / "v1.mska", tmp / "v2.mska", tmp / "combined.msk"
    rows = {}
    R = args.repeat

    # --- NIfTI: 117 files -----------------------------------------------------------------
    nifti_bytes = sum(f.stat().st_size for f in files)
    ndir = tmp / "nifti"
    ndir.mkdir()
    ref = nib.load(files[0])

    def nifti_write():
        for n, a in arrays.items():
            nib.save(nib.Nifti1Image(a.transpose(2, 1, 0), ref.affine, ref.header), ndir / f"{n}.nii.gz")

    def nifti_read_one():
        np.asarray(nib.load(args.data / f"{organ}.nii.gz").dataobj)

    def nifti_list():
        sorted(p.name for p in args.data.glob("*.nii.gz"))

    def nifti_read_all():
        for f in files:
            np.asarray(nib.load(f).dataobj)

    w = median_time(nifti_write, max(1, R // 2))
    rows["117 x .nii.gz (nibabel)"] = dict(bytes=nifti_bytes, write=w, one=median_time(nifti_read_one, R),
                                           list=median_time(nifti_list, R), crops=None,
                                           full=median_time(nifti_read_all, R))

    # --- medmask v1 (original format) --------------------------------------------------------
    def v1_write():
        with MaskArchive(v1_path, "w", space=space, format_version=1) as a:
            for n, m in masks.items():
                a.add_segmask(m, n)

    w = median_time(v1_write, max(1, R // 2))

    def v1_read_one():
        MaskArchive(v1_path).load_segmask(organ).data

    def v1_list():
        MaskArchive(v1_path).all_names()

    def v1_read_all():
        a = MaskArchive(v1_path)
        for n in names:
            a.load_segmask(n).data

    rows["medmask v1 archive (original)"] = dict(bytes=v1_path.stat().st_size, write=w, one=median_time(v1_read_one, R),
                                                 list=median_time(v1_list, R), crops=None, full=median_time(v1_read_all, R))

    # --- medmask v2 archive ---------------------------------------------------------------------
    def v2_write():
        with MaskArchive(v2_path, "w", space=space) as a:
            for n, m in masks.items():
                a.add_segmask(m, n)

    w = median_time(v2_write, max(1, R // 2))

    def v2_read_one():
        MaskArchive(v2_path).load_segmask(organ).crop_data

    def v2_list():
        MaskArchive(v2_path).all_names()

    def v2_read_crops():
        a = MaskArchive(v2_path)
        for n in names:
            a.load_segmask(n).crop_data

    def v2_read_full():
        a = MaskArchive(v2_path)
        for n in names:
            a.load_segmask(n).data

    rows["medmask v2 archive (per organ)"] = dict(bytes=v2_path.stat().st_size, write=w, one=median_time(v2_read_one, R),
                                                  list=median_time(v2_list, R), crops=median_time(v2_read_crops, R),
                                                  full=median_time(v2_read_full, R))

    # --- medmask v2 combined multi-label .msk ---------------------------------------------------
    combined = SegmentationMask.lazy_init(8, space=space)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, n in enumerate(names, start=1):
            combined.add_label(arrays[n] > 0, i, n, overlap="keep")
    overlap_notes = [str(c.message) for c in caught]

    def msk_write():
        save_mask(combined, msk_path)

    w = median_time(msk_write, R)

    def msk_read():
        load_mask(msk_path).crop_data

    def msk_read_full():
        load_mask(msk_path).data

    rows["medmask v2 combined .msk"] = dict(bytes=msk_path.stat().st_size, write=w, one=median_time(msk_read, R),
                                            list=None, crops=median_time(msk_read, R), full=median_time(msk_read_full, R))

    # --- the floor: just filling 117 full volumes -------------------------------------------------
    def fill_only():
        for n in names:
            out = np.zeros(space.shape, np.uint8)
            m = masks[n]
            if m.bbox is not None:
                out[bbox_slices(m.bbox)] = m.crop_data

    floor = median_time(fill_only, R)

    # --- print -------------------------------------------------------------------------------------
    base = rows["117 x .nii.gz (nibabel)"]
    v1 = rows["medmask v1 archive (original)"]
    print(f"data: {args.data} ({len(names)} masks, {len(nonempty)} non-empty, shape {tuple(space.shape)}), "
          f"median of {R} runs, read-one organ = {organ!r}\n")
    hdr = f"{'format':32s} {'bytes':>10s} {'write ms':>9s} {'read one ms':>11s} {'list ms':>8s} {'all crops ms':>12s} {'all full ms':>11s}"
    print(hdr)
    print("-" * len(hdr))

    def ms(v):
        return f"{v * 1e3:.2f}" if v is not None else "-"

    for k, r in rows.items():
        print(f"{k:32s} {r['bytes']:>10,d} {ms(r['write']):>9s} {ms(r['one']):>11s} {ms(r['list']):>8s} "
              f"{ms(r['crops']):>12s} {ms(r['full']):>11s}")
    v2 = rows["medmask v2 archive (per organ)"]
    print(f"\nfill 117 full volumes (floor for 'all full'): {floor * 1e3:.2f} ms; v2 all-full / floor = {v2['full'] / floor:.2f}x")
    print("ratios (v2 per-organ archive vs):")
    for k, r in (("117 x .nii.gz", base), ("medmask v1", v1)):
        print(f"  {k:14s} size {r['bytes'] / v2['bytes']:.1f}x smaller, read one {r['one'] / v2['one']:.0f}x faster, "
              f"list {r['list'] / v2['list']:.1f}x faster, read all (full) {r['full'] / v2['full']:.1f}x faster")
    if overlap_notes:
        print(f"\ncombined .msk: add_label(overlap='keep') reported {len(overlap_notes)} overlaps, e.g. {overlap_notes[0][:160]}")


if __name__ == "__main__":
    main()
