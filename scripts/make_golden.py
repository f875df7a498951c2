"""Write golden files of the current format into tests/data, with JSON of what they decode to.

Run once per new format feature; never regenerate old ones (the script refuses to overwrite):
tests decode every golden file forever, so later releases keep reading what this one wrote.

- golden_v2_archive.mska / golden_v2_mask.msk: format 2.0 (medmask 0.2.0), codec rle-zstd.
- golden_v2_1_archive.mska / golden_v2_1_mask.msk: format 2.1, codec rowdelta-zstd in both
  axis orders and in both value modes, archive attributes and a shared-metadata table.
- golden_v2_2_review.mska (``--review``): the 2.2 golden archive with review decisions and an
  edit history (the ``review`` and ``history`` index keys), a voxel edit, a rename and a removal.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medmask import MaskArchive, SegmentationMask, save_mask  # noqa: E402
from medmask.core.geometry import space_to_dict  # noqa: E402
from tests.conftest import organ_masks  # noqa: E402

OUT = ROOT / "tests" / "data"
NIFTI = {"dtype": "uint8", "sform_code": 2, "qform_code": 0, "pixdim": [1.0, 2.5, 0.8, 0.7]}


def describe(masks):
    return {n: {"dtype": str(m.dtype), "mapping": m.mapping.to_dict(), "metadata": m.metadata,
                "array_sha256": hashlib.sha256(np.ascontiguousarray(m.data).tobytes()).hexdigest()}
            for n, m in masks.items()}


def organ_shapes(space):
    """Masks shaped like organs (outlines drifting row to row), so rowdelta's prediction is exercised."""
    z, y, x = np.indices(space.shape)
    kidney = ((z - 10) / 8) ** 2 + ((y - 12) / 9) ** 2 + ((x - 15 - z / 3) / 7) ** 2 < 1
    vessel = (abs(y - 20 - z / 4) < 2) & (abs(x - 30 + z / 5) < 2)  # runs along axis 0: order [1, 0, 2] wins
    lobes = np.zeros(space.shape, np.uint8)
    lobes[kidney] = 1
    lobes[kidney & (x > 17)] = 2  # two labels that touch: values stored
    return {
        "kidney": SegmentationMask(kidney, {"kidney": 1}, space=space, metadata={"nifti": NIFTI}),
        "vessel": SegmentationMask(vessel, {"vessel": 1}, space=space, metadata={"nifti": NIFTI, "rater": "A"}),
        "kidney_lobes": SegmentationMask(lobes, {"upper": 1, "lower": 2}, space=space,
                                         colors={"upper": (0.9, 0.2, 0.1, 1.0)}, metadata={"nifti": NIFTI}),
    }


def write(path: Path, write_fn, masks, space, **extra) -> None:
    if path.exists():
        raise SystemExit(f"{path} exists: golden files are never regenerated")
    write_fn()
    (path.parent / f"{path.name}.json").write_text(json.dumps(
        {"space": space_to_dict(space), **extra, "entries": describe(masks)}, indent=1))
    print("wrote", path)


def main() -> None:
    masks = organ_masks()
    space = masks["liver"].space
    masks.update(organ_shapes(space))
    attributes = {"study": "golden", "model": {"name": "hand-made", "version": "1"}}
    archive = OUT / "golden_v2_1_archive.mska"

    def write_archive():
        with MaskArchive(archive, mode="w", space=space) as a:
            for n, m in masks.items():
                a.add_segmask(m, n)
            a.attributes = attributes

    write(archive, write_archive, masks, space, attributes=attributes)
    single = OUT / "golden_v2_1_mask.msk"
    write(single, lambda: save_mask(masks["kidney_lobes"], single), {"mask": masks["kidney_lobes"]}, space)


def review() -> None:
    """A copy of the 2.2 golden archive, reviewed: decisions, a fixed organ, a rename, a removal."""
    import shutil
    path = OUT / "golden_v2_2_review.mska"
    if path.exists():
        raise SystemExit(f"{path} exists: golden files are never regenerated")
    shutil.copyfile(OUT / "golden_v2_2_archive.mska", path)
    with MaskArchive(path, "a") as a:
        a.set_review("liver", "accepted", reviewer="dr.a", comment="clean")
        fixed = a["vessel"].data.copy()
        fixed[5:7, 10:12, 20:23] = 1
        a.replace("vessel", SegmentationMask(fixed, a["vessel"].mapping, space=a.space,
                                             metadata=a["vessel"].metadata))
        a.set_review("vessel", "needs_fix", reviewer="dr.a", comment="misses a branch")
        a.set_review("vessel", "fixed", reviewer="dr.b")
        a.rename("kidney", "kidney_left")
        a.set_review("kidney_left", "rejected", reviewer="dr.b", comment="wrong side")
        a.remove(a.names[-1])
    a = MaskArchive(path)
    (path.parent / f"{path.name}.json").write_text(json.dumps(
        {"space": space_to_dict(a.space), "review": a.review, "history": a.history,
         "entries": describe(a.read_all_masks())}, indent=1))
    print("wrote", path)


if __name__ == "__main__":
    review() if "--review" in sys.argv else main()
