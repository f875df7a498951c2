"""Stable display colours per organ name (pure Python, no Qt, no numpy).

``TOTALSEG_COLORS`` maps every TotalSegmentator v2 ``total`` class name to an
RGB triple (0..255). The base colours follow the anatomical colour conventions
3D Slicer uses for TotalSegmentator results (its GenericAnatomyColors
terminology: liver 221,130,101, spleen 157,108,162, bone 241,214,145 ...);
structures of a numbered series (ribs, vertebrae) get slightly different shades
of their tissue colour so neighbours stay distinguishable.

``color_for(name)`` returns RGBA floats in [0, 1]: the table's colour when the
name is a TotalSegmentator class (case-insensitive, ``-``/space treated as
``_``), otherwise a deterministic colour derived from a hash of the name
(identical across runs, machines and Python versions: no ``hash()``).
"""
from __future__ import annotations

import colorsys
import hashlib
import re

RGB = tuple[int, int, int]
RGBA = tuple[float, float, float, float]

# tissue colours ---------------------------------------------------------------
_BONE: RGB = (241, 214, 145)
_ARTERY: RGB = (216, 101, 79)
_VEIN: RGB = (0, 151, 206)
_MUSCLE: RGB = (192, 104, 88)
_LUNG: RGB = (197, 165, 145)

_BASE: dict[str, RGB] = {
    "spleen": (157, 108, 162),
    "kidney_right": (185, 102, 83),
    "kidney_left": (185, 102, 83),
    "kidney_cyst_left": (205, 205, 100),
    "kidney_cyst_right": (205, 205, 100),
    "gallbladder": (139, 150, 98),
    "liver": (221, 130, 101),
    "stomach": (216, 132, 105),
    "pancreas": (249, 180, 111),
    "adrenal_gland_right": (244, 186, 150),
    "adrenal_gland_left": (244, 186, 150),
    "lung_upper_lobe_left": (172, 138, 115),
    "lung_lower_lobe_left": (202, 164, 140),
    "lung_upper_lobe_right": (224, 186, 162),
    "lung_middle_lobe_right": (188, 135, 166),
    "lung_lower_lobe_right": (154, 150, 201),
    "esophagus": (211, 171, 143),
    "trachea": (182, 228, 255),
    "thyroid_gland": (220, 245, 20),
    "small_bowel": (205, 167, 142),
    "duodenum": (255, 253, 229),
    "colon": (204, 168, 143),
    "urinary_bladder": (222, 154, 132),
    "prostate": (230, 158, 140),
    "sacrum": (241, 214, 145),
    "heart": (206, 110, 84),
    "aorta": (224, 97, 76),
    "pulmonary_vein": (0, 122, 171),
    "brachiocephalic_trunk": (196, 121, 79),
    "subclavian_artery_right": (216, 101, 79),
    "subclavian_artery_left": (216, 101, 79),
    "common_carotid_artery_right": (216, 101, 79),
    "common_carotid_artery_left": (216, 101, 79),
    "brachiocephalic_vein_left": (0, 120, 190),
    "brachiocephalic_vein_right": (0, 120, 190),
    "atrial_appendage_left": (255, 175, 156),
    "superior_vena_cava": (0, 141, 209),
    "inferior_vena_cava": (0, 151, 206),
    "portal_vein_and_splenic_vein": (0, 151, 206),
    "iliac_artery_left": (216, 101, 79),
    "iliac_artery_right": (216, 101, 79),
    "iliac_vena_left": (0, 151, 206),
    "iliac_vena_right": (0, 151, 206),
    "humerus_left": (255, 239, 172),
    "humerus_right": (255, 239, 172),
    "scapula_left": (212, 188, 102),
    "scapula_right": (212, 188, 102),
    "clavicula_left": (205, 179, 108),
    "clavicula_right": (205, 179, 108),
    "femur_left": (255, 224, 140),
    "femur_right": (255, 224, 140),
    "hip_left": (230, 212, 137),
    "hip_right": (230, 212, 137),
    "spinal_cord": (244, 214, 49),
    "gluteus_maximus_left": (188, 95, 76),
    "gluteus_maximus_right": (188, 95, 76),
    "gluteus_medius_left": (178, 105, 90),
    "gluteus_medius_right": (178, 105, 90),
    "gluteus_minimus_left": (168, 115, 100),
    "gluteus_minimus_right": (168, 115, 100),
    "autochthon_left": (180, 110, 95),
    "autochthon_right": (180, 110, 95),
    "iliopsoas_left": (192, 104, 88),
    "iliopsoas_right": (192, 104, 88),
    "brain": (250, 250, 225),
    "skull": (241, 213, 144),
    "sternum": (244, 217, 154),
    "costal_cartilages": (111, 184, 210),
}


def _shade(rgb: RGB, i: int, n: int, spread: float = 0.28) -> RGB:
    """i-th of n shades of ``rgb``, lightness varied within +-spread/2."""
    h, l, s = colorsys.rgb_to_hls(*(c / 255 for c in rgb))
    l = min(0.92, max(0.25, l - spread / 2 + spread * (i / max(n - 1, 1))))
    return tuple(int(round(c * 255)) for c in colorsys.hls_to_rgb(h, l, s))  # type: ignore[return-value]


def _series() -> dict[str, RGB]:
    out: dict[str, RGB] = {}
    for side in ("left", "right"):
        for k in range(1, 13):
            out[f"rib_{side}_{k}"] = _shade((231, 202, 128), k - 1, 12)
    verts = [f"C{k}" for k in range(1, 8)] + [f"T{k}" for k in range(1, 13)] + [f"L{k}" for k in range(1, 6)] + ["S1"]
    for i, v in enumerate(verts):
        out[f"vertebrae_{v}"] = _shade((241, 214, 145), i % 8, 8, spread=0.3)
    return out


TOTALSEG_COLORS: dict[str, RGB] = {**_BASE, **_series()}
"""TotalSegmentator v2 ``total`` task class name -> RGB (0..255); 117 classes."""

# common names outside the v2 class list (older TotalSegmentator versions, merged structures)
ALIASES: dict[str, RGB] = {
    "lung_left": (181, 146, 124),
    "lung_right": (214, 180, 158),
    "lungs": _LUNG,
    "lung": _LUNG,
    "kidneys": (185, 102, 83),
    "ribs_left": (231, 202, 128),
    "ribs_right": (231, 202, 128),
    "ribs_all": (231, 202, 128),
    "ribs": (231, 202, 128),
    "vertebrae": _BONE,
    "spine": _BONE,
    "bones": _BONE,
    "skeleton": _BONE,
    "heart_myocardium": (206, 110, 84),
    "face": (200, 160, 140),
    "pulmonary_artery": (0, 122, 171),
    "kidney_cyst": (205, 205, 100),
    "vertebrae_S": _BONE,
    "muscles": _MUSCLE,
    "arteries": _ARTERY,
    "veins": _VEIN,
}


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
