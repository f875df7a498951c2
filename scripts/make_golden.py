"""Write tests/data/golden_v2_* and their JSON. Run once per new format feature; never regenerate old ones."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medmask import MaskArchive, save_mask  # noqa: E402
from medmask.core.geometry import space_to_dict  # noqa: E402
from tests.conftest import organ_masks  # noqa: E402


def describe(masks):
    return {n: {"dtype": str(m.dtype), "mapping": m.mapping.to_dict(),
                "array_sha256": hashlib.sha256(np.ascontiguousarray(m.data).tobytes()).hexdigest()}
            for n, m in masks.items()}


def main() -> None:
    out = ROOT / "tests" / "data"
    masks = organ_masks()
    space = masks["liver"].space
    with MaskArchive(out / "golden_v2_archive.mska", mode="w", space=space) as a:
        for n, m in masks.items():
            a.add_segmask(m, n)
    (out / "golden_v2_archive.mska.json").write_text(json.dumps(
        {"space": space_to_dict(space), "entries": describe(masks)}, indent=1))
    save_mask(masks["ribs"], out / "golden_v2_mask.msk")
    (out / "golden_v2_mask.msk.json").write_text(json.dumps(
        {"space": space_to_dict(space), "entries": describe({"mask": masks["ribs"]})}, indent=1))


if __name__ == "__main__":
    main()
