"""Reading a scan: medmask.convert.image_io.read_image against nibabel and pynrrd, side by side.

    python benchmarks/bench_image_io.py [--slices 300] [--runs 5]

For each file: wall time (median of ``--runs``) and peak traced memory (tracemalloc: numpy
and Python allocations) over the size of the voxel array. The files: the real aorta CT
(``../shared/data/totalseg_aorta_ct/ct.nii.gz``, when present), the bundled sample
(bzip2 NRRD), and a synthetic 512 x 512 x ``--slices`` int16 CT (body-shaped, with noise so
it compresses like a real one) written as .nii.gz, .nii and gzip .nrrd.

Every reader is run in the same process, in turn, per run; on a shared machine the
timings vary, the memory figures do not.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def synthetic_ct(slices: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[:slices, :512, :512]
    body = ((y - 256) / 200.0) ** 2 + ((x - 256) / 230.0) ** 2 <= 1.0
    ct = np.full((slices, 512, 512), -1000, np.int16)
    ct[np.broadcast_to(body, ct.shape)] = 40
    ct += rng.normal(0, 12, size=ct.shape).astype(np.int16)
    return ct


def measure(fn) -> tuple[float, int, int]:
    """(seconds, peak traced bytes, array bytes) of one call."""
    tracemalloc.start()
    t = time.perf_counter()
    arr = fn()
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    nbytes = arr.nbytes
    del arr
    return seconds, peak, nbytes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    import nibabel as nib
    import nrrd

    from medmask.convert._geometry import nrrd_geometry_from_space, ras_affine_from_space
    from medmask.convert.image_io import read_image
    from medmask.core.geometry import axial_space
    from medmask.sample import aorta_case

    tmp = Path(tempfile.mkdtemp(prefix="bench_image_io_"))
    ct = synthetic_ct(args.slices)
    space = axial_space(ct.shape, spacing=(1.0, 0.8, 0.8), origin=(-200.0, -200.0, -150.0))
    affine = ras_affine_from_space(space)
    nib.save(nib.Nifti1Image(ct.transpose(2, 1, 0), affine), str(tmp / "ct.nii.gz"))
    nib.save(nib.Nifti1Image(ct.transpose(2, 1, 0), affine), str(tmp / "ct.nii"))
    dirs, origin = nrrd_geometry_from_space(space)
    nrrd.write(str(tmp / "ct.nrrd"), ct, {"space": "left-posterior-superior", "space directions": dirs,
                                         "space origin": origin, "encoding": "gzip"}, index_order="C")
    del ct
    files = [tmp / "ct.nii.gz", tmp / "ct.nii", tmp / "ct.nrrd", Path(aorta_case()[0])]
    real = REPO.parent / "shared" / "data" / "totalseg_aorta_ct" / "ct.nii.gz"
    if real.is_file():
        files.insert(0, real)

    def readers(path: Path):
        out = {"medmask read_image": lambda: read_image(path)[0]}
        if path.name.endswith((".nii", ".nii.gz")):
            out["nibabel asanyarray(dataobj)"] = lambda: np.asanyarray(nib.load(str(path)).dataobj)
            out["nibabel get_fdata()"] = lambda: nib.load(str(path)).get_fdata()
        else:
            out["pynrrd read"] = lambda: nrrd.read(str(path), index_order="C")[0]
        return out

    print(f"synthetic CT: 512 x 512 x {args.slices} int16; median of {args.runs} runs; "
          f"peak = traced allocation peak / array bytes")
    print(f"{'file':<34} {'reader':<28} {'MB array':>9} {'time':>9} {'peak':>7}")
    for path in files:
        label = path.name if path.parent != tmp else f"synthetic {path.name}"
        if path == real:
            label = "aorta ct.nii.gz (original)"
        elif path.name == "ct.nrrd" and path.parent != tmp:
            label = "aorta ct.nrrd (bundled, bzip2)"
        results: dict[str, list] = {}
        for _ in range(args.runs):
            for name, fn in readers(path).items():
                results.setdefault(name, []).append(measure(fn))
        for name, rs in results.items():
            t = statistics.median(r[0] for r in rs)
            peak = statistics.median(r[1] for r in rs)
            nbytes = rs[0][2]
            print(f"{label:<34} {name:<28} {nbytes / 1e6:>9.1f} {t * 1000:>7.0f} ms {peak / nbytes:>6.2f}x")
    for p in tmp.iterdir():
        p.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
