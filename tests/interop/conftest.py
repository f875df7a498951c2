"""Fixtures of the interop tests."""
from __future__ import annotations

from pathlib import Path

import pytest

from interop_helpers import TOTALSEG


@pytest.fixture
def totalseg_dir() -> Path:
    if not TOTALSEG.is_dir() or not any(TOTALSEG.glob("*.nii.gz")):
        pytest.skip(f"TotalSegmentator sample not present at {TOTALSEG}")
    return TOTALSEG
