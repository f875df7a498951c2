"""Full-resolution TotalSegmentator cases for scale benchmarks: s0000 upsampled k times, as NIfTI folders.

    from scale_cases import nifti_case
    folder = nifti_case(2)     # benchmarks/.cache/s0000_x2/ : 117 .nii.gz masks on a 2x finer grid

    python benchmarks/scale_cases.py 3      # build (or find) the 3x case and print its folder

Each voxel of every mask becomes k x k x k voxels of 1/k its spacing (nearest), so the case
covers the same patient space: 1x is 10 M voxels (1.5 mm), 2x 81 M, 3x 273 M (0.5 mm, what a
modern CT gives). The files are written as TotalSegmentator writes them (uint8, gzip), all with
the first file's affine scaled (s0000's files differ by up to 0.06 mm, within the 0.1-voxel
tolerance at 1.5 mm but not at 0.5 mm; a real 0.5 mm case has one grid), and cached under
``benchmarks/.cache/`` (git-ignored): building the 3x case takes a few minutes once.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
S0000 = HERE.parent.parent / "shared" / "data" / "totalseg_s0000"

__all__ = ["nifti_case", "upsampled_affine", "CACHE", "S0000"]


def upsampled_affine(affine: np.ndarray, k: int) -> np.ndarray:
    """The voxel->world affine of the grid whose voxels are the k**3 parts of ``affine``'s voxels."""
    out = np.array(affine, dtype=np.float64)
    out[:3, :3] = affine[:3, :3] / k
    out[:3, 3] = affine[:3, 3] + affine[:3, :3] @ np.full(3, 0.5 / k - 0.5)  # centre of the first part
    return out


def _upsample(data: np.ndarray, k: int) -> np.ndarray:
    out = data
    for axis in range(3):
        out = np.repeat(out, k, axis=axis)
    return out


def _write_gz(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """A uint8 NIfTI, gzip level 1 (libdeflate when present), written to a temporary name first."""
    import gzip

    import nibabel as nib

    img = nib.Nifti1Image(data, affine)
    img.set_data_dtype(np.uint8)
    img.header.set_qform(affine, code=1)
    img.header.set_sform(affine, code=1)
    raw = img.to_bytes()
    try:
        import deflate

        packed = deflate.gzip_compress(raw, 1)
    except ImportError:
        packed = gzip.compress(raw, 1)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(packed)
    tmp.rename(path)


def nifti_case(k: int, src: Path = S0000) -> Path:
    """The folder of s0000's masks upsampled ``k`` times (built once, then cached)."""
    import nibabel as nib

    if k == 1:
        return src
    if not src.is_dir():
        raise SystemExit(f"{src} not found: the scale cases are built from the real s0000 case")
    dst = CACHE / f"{src.name}_x{k}_v2"
    done = dst / ".complete"
    if done.exists():
        return dst
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.nii.gz"))
    affine = upsampled_affine(nib.load(str(files[0])).affine, k)
    for f in files:
        out = dst / f.name
        if out.exists():
            continue
        img = nib.load(str(f))
        data = np.asarray(img.dataobj, dtype=np.uint8)
        big = np.zeros(tuple(n * k for n in data.shape), np.uint8)
        nz = np.argwhere(data)
        if nz.size:  # upsample only the organ's box: a 273 M-voxel repeat of zeros is wasted work
            lo, hi = nz.min(axis=0), nz.max(axis=0) + 1
            box = tuple(slice(a * k, b * k) for a, b in zip(lo, hi))
            big[box] = _upsample(data[tuple(slice(a, b) for a, b in zip(lo, hi))], k)
        _write_gz(out, big, affine)
    done.write_text("ok\n")
    return dst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("k", type=int, nargs="+", help="upsampling factor(s) per axis")
    args = parser.parse_args(argv)
    for k in args.k:
        print(nifti_case(k))
    return 0


if __name__ == "__main__":
    sys.exit(main())
