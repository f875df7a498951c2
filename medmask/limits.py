"""Sizes medmask refuses to believe. A header may lie; these caps bound what a lie can cost.

``MAX_VOXELS`` bounds a declared volume (default 2**31 voxels, e.g. 1024 x 1024 x 2048);
set ``MEDMASK_MAX_VOXELS`` or assign ``medmask.limits.MAX_VOXELS`` for bigger data.
"""
from __future__ import annotations

import os

MAX_VOXELS: int = int(os.environ.get("MEDMASK_MAX_VOXELS", 1 << 31))
MAX_INDEX_BYTES: int = 256 << 20   # decompressed index JSON
MAX_ENTRIES: int = 1_000_000
MAX_JSON_DEPTH: int = 64           # nesting of stored JSON (entry metadata); deeper is refused on write and read
