"""Build the bundled real sample ``medmask/data/totalseg_aorta/`` from the TotalSegmentator case.

    python scripts/make_aorta_sample.py [../shared/data/totalseg_aorta_ct]

Writes ``ct.nrrd`` (the CT, every HU value and the geometry unchanged, bzip2-compressed:
2.8 MB against 3.6 MB for the original ``.nii.gz``; the CT is already cropped to the
heart and aorta, so cropping further would cut anatomy), ``organs.mska`` (the 18 masks,
converted with medmask and recording ``ct.nrrd`` as their scan) and ``README.md``
(the dataset's attribution). Checks the result before it returns.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medmask import MaskArchive  # noqa: E402
from medmask.convert import convert  # noqa: E402
from medmask.convert._geometry import nrrd_geometry_from_space  # noqa: E402
from medmask.convert.image_io import read_image  # noqa: E402
from medmask.core.geometry import spaces_equal  # noqa: E402
from medmask.sample import AORTA_DIR, AORTA_FILES  # noqa: E402

NOTE = """
## This copy (medmask sample data)

Bundled with medmask as `medmask.sample.aorta_case()`, made by `scripts/make_aorta_sample.py`:

- `ct.nrrd`: `ct.nii.gz` re-encoded as a bzip2 NRRD (LPS `space directions`/`space origin`):
  every voxel value (int16 HU) and the geometry are unchanged; only the compression differs.
- `organs.mska`: the 18 masks of `segmentations/` converted with `medmask convert`; it records
  `ct.nrrd` as its scan (`MaskArchive.image_reference`).

The masks and the CT keep the license and attribution above (Apache-2.0, TotalSegmentator,
Wasserthal et al., https://github.com/wasserth/TotalSegmentator).
"""


def main(src: Path) -> None:
    import nrrd

    out = REPO / "medmask" / "data" / AORTA_DIR
    out.mkdir(parents=True, exist_ok=True)
    ct, space = read_image(src / "ct.nii.gz")
    directions, origin = nrrd_geometry_from_space(space)
    header = {"type": "int16", "space": "left-posterior-superior", "space directions": directions,
              "space origin": origin, "kinds": ["domain"] * 3, "encoding": "bzip2"}
    ct_path = out / AORTA_FILES["ct"]
    tmp = ct_path.with_suffix(".tmp.nrrd")
    nrrd.write(str(tmp), np.ascontiguousarray(ct), header, index_order="C", compression_level=9)
    tmp.replace(ct_path)
    archive = out / AORTA_FILES["archive"]
    convert(src / "segmentations", archive, image=ct_path)
    shutil.copyfile(src / "README.md", out / "README.md")
    with open(out / "README.md", "a", encoding="utf-8") as fh:
        fh.write(NOTE)
    # the sample is only worth shipping if it is exactly the source
    back, back_space = read_image(ct_path)
    assert np.array_equal(back, ct) and spaces_equal(back_space, space)
    with MaskArchive(archive) as a:
        assert a.image_reference.path == AORTA_FILES["ct"] and a.image_reference.matches(back_space)
        assert spaces_equal(a.space, back_space)
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out}: " + ", ".join(f"{p.name} {p.stat().st_size / 1e6:.2f} MB" for p in sorted(out.iterdir()))
          + f"; total {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "totalseg_aorta_ct")
