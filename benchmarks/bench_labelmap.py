"""A label map in, one entry per organ out: ``MaskArchive.add_labelmap`` against ``nib.save``, side by side.

    python benchmarks/bench_labelmap.py [--data ../shared/data/totalseg_s0000] [--runs 7] [--clock cpu]

The label map is s0000's TotalSegmentator ``--ml`` output, rebuilt from its 117 masks (the
multi-label numbering of the ``total`` task, the first mask keeping a voxel two share) and
cached under the system temp folder. Each figure is the median of ``--runs`` runs (after one
warm-up) in this one process, the rows taken in turn, so a busy machine slows them alike:

* ``nib.save`` of the label map as ``.nii.gz`` (nibabel's default gzip level), what a user
  would otherwise write;
* ``add_labelmap`` into a new ``.mska`` at the default zstd level (19) and at level 3
  (``MaskArchive(path, "w", level=3)``), file written and closed;
* the bounding-box pass alone (:func:`medmask.core.label_boxes.label_boxes`) and
  ``scipy.ndimage.find_objects`` on the same array, when scipy is installed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402

import timing  # noqa: E402

DEFAULT_DATA = HERE.parent.parent / "shared" / "data" / "totalseg_s0000"


def ml_label_map(data: Path) -> Path:
    """s0000's masks as one ``--ml`` label map (cached)."""
    from medmask.convert import convert

    cache = Path(tempfile.gettempdir()) / "medmask-bench" / f"{data.name}_ml.nii.gz"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            convert(data, cache, labels="total", overlap="keep")
    return cache


def measure(data: Path, runs: int) -> dict:
    import nibabel as nib

    from medmask import MaskArchive
    from medmask.convert.nifti import load_nifti_mask
    from medmask.core.label_boxes import label_boxes

    ml = ml_label_map(data)
    mask = load_nifti_mask(ml)
    labels, names, space = np.asarray(mask.data), mask.mapping.to_dict(), mask.space
    img = nib.load(str(ml))
    array = np.asanyarray(img.dataobj)
    out = Path(tempfile.mkdtemp(prefix="bench-labelmap-"))

    def nib_save():
        nib.save(nib.Nifti1Image(array, img.affine, img.header), str(out / "ml.nii.gz"))

    def add_labelmap(level):
        def run():
            with MaskArchive(out / f"ml{level}.mska", "w", space=space, level=level) as archive:
                archive.add_labelmap(labels, names)
        return run

    rows = {"nib.save .nii.gz": nib_save, "add_labelmap level 19": add_labelmap(19),
            "add_labelmap level 3": add_labelmap(3), "label_boxes (box pass)": lambda: label_boxes(labels)}
    try:
        from scipy import ndimage

        rows["scipy find_objects"] = lambda: ndimage.find_objects(labels)
    except ImportError:
        pass
    times = {k: [] for k in rows}
    for _ in range(runs):  # rows in turn: a busy spell slows all of them
        for k, fn in rows.items():
            times[k].append(timing.median_time(fn, 1))
    sizes = {"nib.save .nii.gz": os.path.getsize(out / "ml.nii.gz"),
             "add_labelmap level 19": os.path.getsize(out / "ml19.mska"),
             "add_labelmap level 3": os.path.getsize(out / "ml3.mska")}
    present = int(np.count_nonzero(np.bincount(labels.ravel())[1:]))
    return {"shape": labels.shape, "names": len(names), "present": present,
            "median": {k: float(np.median(v)) for k, v in times.items()}, "sizes": sizes}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--clock", choices=sorted(timing.CLOCKS), default="wall")
    args = ap.parse_args()
    if not args.data.is_dir():
        sys.exit(f"no data at {args.data}")
    timing.use_clock(args.clock)
    r = measure(args.data, args.runs)
    base = r["median"]["nib.save .nii.gz"]
    print(f"s0000 --ml label map {r['shape']} (z, y, x), {r['names']} names, {r['present']} present; "
          f"median of {args.runs} runs, {args.clock} clock")
    print(f"{'':26s} {'ms':>8s} {'x nib.save':>11s} {'file':>10s}")
    for k, t in r["median"].items():
        size = r["sizes"].get(k)
        print(f"{k:26s} {t * 1000:8.1f} {t / base:11.2f} {'' if size is None else f'{size / 1024:.1f} KB':>10s}")


if __name__ == "__main__":
    main()
