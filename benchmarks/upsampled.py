"""Bigger copies of a real archive for scale benchmarks: every entry upsampled k times (nearest).

    from upsampled import upsampled_archive
    path = upsampled_archive(source_mska, 3)     # cached: benchmarks/.cache/<name>_x3.mska

Each voxel becomes k x k x k voxels of 1/k its spacing, so the copy covers the same patient
space (organs keep their place, volume in ml and names; voxel counts grow k**3 times). Only each
entry's stored crop is upsampled (``SegmentationMask.from_crop``): building a 3x s0000 (273 M
voxels) never holds a full volume per entry. Copies are cached under ``benchmarks/.cache/``
(git-ignored), keyed by the source's name, size and modification time.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parent / ".cache"

__all__ = ["upsampled_space", "upsample_crop", "upsampled_archive", "CACHE"]


def upsampled_space(space, k: int):
    """The grid of ``space`` with each voxel split into k**3: same extent and directions."""
    from spacetransformer import Space

    spacing = np.asarray(space.spacing, float)
    dirs = np.array([space.x_orientation, space.y_orientation, space.z_orientation], float)  # rows: axes
    # voxel centre of new index 0 lies (1/(2k) - 1/2) old voxels from the old centre of index 0
    origin = np.asarray(space.origin, float) + dirs.T @ (spacing * (0.5 / k - 0.5))
    return Space(shape=tuple(int(n) * k for n in space.shape), origin=tuple(float(v) for v in origin),
                 spacing=tuple(float(v) / k for v in spacing), x_orientation=space.x_orientation,
                 y_orientation=space.y_orientation, z_orientation=space.z_orientation)


def upsample_crop(crop: np.ndarray, k: int) -> np.ndarray:
    """Nearest upsampling of a 3D array: each voxel repeated k times along every axis."""
    out = crop
    for axis in range(3):
        out = np.repeat(out, k, axis=axis)
    return out


def _cache_path(src: Path, k: int) -> Path:
    st = src.stat()
    return CACHE / f"{src.stem}_{st.st_size}_{int(st.st_mtime)}_x{k}.mska"


def upsampled_archive(src: str | os.PathLike, k: int, out: str | os.PathLike | None = None) -> Path:
    """An archive like ``src`` with every entry upsampled ``k`` times (cached unless ``out`` is given)."""
    from medmask import MaskArchive, SegmentationMask

    src = Path(src)
    dst = Path(out) if out is not None else _cache_path(src, k)
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    with MaskArchive(src) as ar:
        space = upsampled_space(ar.space, k)
        with MaskArchive(dst, "w", space=space) as big:  # atomic: a killed build leaves no cache file
            for info in ar.entries():
                mask = ar.load_segmask(info.name)
                bbox = mask.bbox
                crop = upsample_crop(mask.crop_data, k) if bbox is not None else None
                big_bbox = None if bbox is None else tuple((a * k, b * k) for a, b in bbox)
                big.add_segmask(SegmentationMask.from_crop(crop, big_bbox, mask.mapping, space, mask.dtype,
                                                           colors=mask.colors, metadata=mask.metadata), info.name)
    return dst


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("src", help="a .mska archive")
    parser.add_argument("k", type=int, help="upsampling factor per axis")
    parser.add_argument("-o", "--out", help="write here instead of the cache")
    args = parser.parse_args(argv)
    print(upsampled_archive(args.src, args.k, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
