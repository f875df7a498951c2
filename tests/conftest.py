"""Shared fixtures: synthetic masks with non-trivial geometry, and paths to shared data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from spacetransformer import Space

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
COMPAT = REPO / "tests" / "data" / "compat"  # medmask 0.1.3 files, copied from ../shared/compat
TOTALSEG = SHARED / "data" / "totalseg_s0000"


def oblique_space(shape=(20, 30, 40)) -> Space:
    """Anisotropic, off-origin, rotated about one axis and left-handed: nothing a bug could hide behind."""
    c, s = 0.6, 0.8
    return Space(shape=shape, origin=(-120.5, 35.25, 410.0), spacing=(2.5, 0.8, 0.7),
                 x_orientation=(0.0, 0.0, 1.0), y_orientation=(-s, c, 0.0), z_orientation=(c, s, 0.0))


def organ_masks(shape=(20, 30, 40)):
    """Overlapping entries as an archive holds them: organs, a partition, a group."""
    from medmask import SegmentationMask
    space = oblique_space(shape)
    liver = np.zeros(shape, np.uint8)
    liver[2:12, 3:20, 4:24] = 1
    segs = np.zeros(shape, np.uint8)
    segs[2:7, 3:20, 4:24] = 1
    segs[7:12, 3:20, 4:24] = 2
    tumor = np.zeros(shape, bool)
    tumor[5:9, 8:14, 10:16] = True
    ribs = np.zeros(shape, np.uint16)
    for i in range(5):
        ribs[3 + 3 * i: 4 + 3 * i, 2:28, 30:38] = 300 + i
    return {
        "liver": SegmentationMask(liver, {"liver": 1}, space=space, colors={"liver": "#dd8855"},
                                  metadata={"snomed": "10200004", "source": "test"}),
        "liver_segments": SegmentationMask(segs, {"liver_upper": 1, "liver_lower": 2}, space=space),
        "tumor": SegmentationMask(tumor, {"tumor": 1}, space=space),
        "ribs": SegmentationMask(ribs, {f"rib_{i}": 300 + i for i in range(5)}, space=space),
        "empty": SegmentationMask(np.zeros(shape, np.uint8), {"nothing": 1}, space=space),
    }


@pytest.fixture
def space():
    return oblique_space()


@pytest.fixture
def masks():
    return organ_masks()


@pytest.fixture
def compat_dir():
    return COMPAT


@pytest.fixture
def totalseg_dir():
    if not TOTALSEG.is_dir():
        pytest.skip("../shared/data/totalseg_s0000 not present")
    return TOTALSEG
