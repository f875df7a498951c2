"""Stable display colours per structure (pure Python, no Qt, no numpy): the palette every writer
(DICOM-SEG, ``.seg.nrrd``, label tables) and the napari plugin share.

The TotalSegmentator colour table (``TOTALSEG_COLORS``, one distinct colour per class, touching
structures clearly different) lives with the class maps in :mod:`medmask.core.totalseg`.

* ``default_color(name, index)``: the table's colour when the name is a TotalSegmentator class
  (case-insensitive, ``-``/space treated as ``_``), else the ``index``-th of Kelly's colours of
  maximum contrast, else (no index) a colour derived from a hash of the name (identical across
  runs, machines and Python versions: no ``hash()``). ``color_for(name)`` is the same without index.
* ``display_colors(mapping, colors)``: a mask's own colours are kept; none, or the 12-colour
  cycle TotalSegmentator's NIfTI table generates (every label its cycle colour), give
  ``default_color``.

All colours are RGBA floats in [0, 1].
"""
from __future__ import annotations

import colorsys
import hashlib
import re
from typing import Any, Mapping, Tuple

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
    return default_color(name)


def _lab(rgb) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB triple 0..255."""
    def lin(c: float) -> float:
        c /= 255
        return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

    r, g, b = (lin(float(c)) for c in rgb[:3])
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def delta_e(a, b) -> float:
    """CIE76 colour difference of two sRGB triples 0..255 (about 2.3 is just noticeable; 25+ is clearly other)."""
    return sum((p - q) ** 2 for p, q in zip(_lab(a), _lab(b))) ** 0.5


def colors_for(names) -> dict[str, RGBA]:
    return {n: color_for(n) for n in names}


# Kelly's 22 colours of maximum contrast (K. L. Kelly, "Twenty-two colors of maximum contrast",
# Color Engineering 3(6), 1965), white and black left out: consecutive entries differ strongly.
DISTINCT: tuple[tuple[int, int, int], ...] = (
    (243, 195, 0), (135, 86, 146), (243, 132, 0), (161, 202, 241), (190, 0, 50), (194, 178, 128),
    (132, 132, 130), (0, 136, 86), (230, 143, 172), (0, 103, 165), (249, 147, 121), (96, 78, 151),
    (246, 166, 0), (179, 68, 108), (220, 211, 0), (136, 45, 23), (141, 182, 0), (101, 69, 34),
    (226, 88, 34), (43, 61, 38))

# The colours TotalSegmentator's NIfTI label table gives every class (nifti_ext_header.py:
# rgb = colors[label % 12]): generated, not chosen, so kidney = lung = autochthon.
TOTALSEG_CYCLE: tuple[tuple[int, int, int], ...] = (
    (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 0, 255), (0, 255, 255), (255, 128, 0),
    (255, 0, 128), (128, 255, 128), (0, 128, 255), (128, 128, 128), (185, 170, 155))


def _rgba(rgb) -> RGBA:
    return (round(rgb[0] / 255, 6), round(rgb[1] / 255, 6), round(rgb[2] / 255, 6), 1.0)


def default_color(name: str, index: int | None = None) -> RGBA:
    """The colour a structure gets when nobody chose one.

    A TotalSegmentator class (or a common alias) gets its fixed anatomical colour, distinct from
    the structures it touches; any other name gets the ``index``-th of Kelly's colours of maximum
    contrast (``index`` = label value or position, so labels next to each other differ), or, with no
    index, a colour derived from the name.
    """
    key = normalize_name(name)
    rgb = TOTALSEG_COLORS.get(key) or ALIASES.get(key)
    if rgb is not None:
        return _rgba(rgb)
    if index is not None:
        return _rgba(DISTINCT[(int(index) - 1) % len(DISTINCT)])
    return hash_color(name)


def is_generated_color(label: int, rgba) -> bool:
    """Whether ``rgba`` is the colour TotalSegmentator's label table cycle gives ``label``."""
    if rgba is None or label is None:
        return False
    rgb = tuple(int(round(float(c) * 255)) for c in tuple(rgba)[:3])
    return rgb == TOTALSEG_CYCLE[int(label) % len(TOTALSEG_CYCLE)]


def colors_generated(mapping: Mapping[str, int], colors: Mapping[str, Any] | None) -> bool:
    """Whether a mask's colours are TotalSegmentator's generated 12-colour cycle, not anybody's choice:
    at least two labels coloured, every one with the cycle's colour for its value (one matching
    colour alone may well be a user's pure green)."""
    colored = [(int(mapping[n]), c) for n, c in (colors or {}).items() if n in mapping and c is not None]
    return len(colored) >= 2 and all(is_generated_color(v, c) for v, c in colored)


def display_color(name: str, label: int | None = None, stored=None) -> RGBA:
    """``stored`` (a user's colour is always kept) or, when there is none, :func:`default_color`."""
    if stored is not None:
        c = tuple(float(v) for v in stored)
        return (c[0], c[1], c[2], c[3] if len(c) > 3 else 1.0)
    return default_color(name, label)


def display_colors(mapping: Mapping[str, int], colors: Mapping[str, Any] | None) -> dict[str, RGBA]:
    """name -> the colour a mask's labels are shown and exported with: their own colours, else the
    palette's; a table of TotalSegmentator's generated cycle (kidney = lung = back muscle) counts as none."""
    own = {} if colors_generated(mapping, colors) else dict(colors or {})
    # a one-label mask is one organ among many entries, all label 1: its name picks its colour
    # (by label value every such entry would get Kelly's first colour, the same yellow)
    single = len(mapping) == 1
    return {n: display_color(n, None if single else int(v), own.get(n)) for n, v in mapping.items()}


__all__ = ["TOTALSEG_COLORS", "ALIASES", "DISTINCT", "color_for", "colors_for", "colors_generated", "default_color",
           "delta_e", "display_color", "display_colors", "hash_color", "is_generated_color", "normalize_name"]
