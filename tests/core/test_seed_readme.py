"""The usage code of the original MedMask README runs unchanged against this package."""
import re

import numpy as np
import pytest

from tests.conftest import SHARED

SEED = SHARED / "SEED-medmask-README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_seed_readme_usage_runs(tmp_path, monkeypatch):
    if not SEED.exists():
        pytest.skip("seed README not present")
    blocks = python_blocks(SEED.read_text())
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    import medmask
    # the README uses names it never defines (spleen_data, liver_mask, heart_mask): supply them
    shape = (64, 192, 192)
    spleen = np.zeros(shape, np.uint8)
    spleen[10:18, 20:40, 20:40] = 1
    ns = {"medmask": medmask, "spleen_data": spleen}
    exec(blocks[0], ns)
    ns["liver_mask"] = ns["mask"]
    heart = np.zeros(shape, np.uint8)
    heart[45:55, 60:90, 60:90] = 1
    ns["heart_mask"] = medmask.SegmentationMask(heart, {"heart": 1}, space=ns["space"])
    exec(blocks[1], ns)
    assert ns["all_names"] == ["liver", "heart"]
    assert np.array_equal(ns["liver"].data, ns["liver_data"])
    assert ns["multiple_organs"].sum() == (ns["liver_data"] > 0).sum() + spleen.sum()
    assert ns["loaded_mask"].mapping == {"liver": 1}
