"""Stable display colours per organ name (pure Python, no Qt, no numpy).

The TotalSegmentator colour table (``TOTALSEG_COLORS``) lives with the class maps in
:mod:`medmask.core.totalseg`.

``color_for(name)`` returns RGBA floats in [0, 1]: the table's colour when the
name is a TotalSegmentator class (case-insensitive, ``-``/space treated as
``_``), otherwise a deterministic colour derived from a hash of the name
(identical across runs, machines and Python versions: no ``hash()``).
"""
from __future__ import annotations

import colorsys
import hashlib
import re
from typing import Tuple

from .totalseg import COLOR_ALIASES as ALIASES, TOTALSEG_COLORS

RGBA = Tuple[float, float, float, float]


def normalize_name(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def hash_color(name: str) -> RGBA:
    """Deterministic, reasonably saturated colour for any name (stable across runs)."""
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536.0
    sat = 0.55 + 0.35 * digest[2] / 255
    val = 0.75 + 0.25 * digest[3] / 255
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return (round(r, 6), round(g, 6), round(b, 6), 1.0)


def color_for(name: str) -> RGBA:
    """RGBA floats in [0, 1] for an organ name: TotalSegmentator colour or hash colour."""
    key = normalize_name(name)
    rgb = TOTALSEG_COLORS.get(key) or ALIASES.get(key)
    if rgb is None:
        return hash_color(name)
    return (round(rgb[0] / 255, 6), round(rgb[1] / 255, 6), round(rgb[2] / 255, 6), 1.0)


def colors_for(names) -> dict[str, RGBA]:
    return {n: color_for(n) for n in names}


__all__ = ["TOTALSEG_COLORS", "ALIASES", "color_for", "colors_for", "hash_color", "normalize_name"]
