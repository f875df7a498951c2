"""TotalSegmentator's class maps (label value -> name) and display colours, as plain data.

Class names of the ``total`` task of TotalSegmentator v2 (117 classes) and of v1
(104 classes), label value -> name, as published by the TotalSegmentator project.

``TOTALSEG_COLORS`` maps every v2 ``total`` class name to an RGB triple (0..255). The
base colours follow the anatomical colour conventions 3D Slicer uses for
TotalSegmentator results (its GenericAnatomyColors terminology: liver 221,130,101,
spleen 157,108,162, bone 241,214,145 ...); structures of a numbered series (ribs,
vertebrae) get slightly different shades of their tissue colour so neighbours stay
distinguishable.
"""
from __future__ import annotations

import colorsys
from typing import Dict, Tuple

RGB = Tuple[int, int, int]

_TOTAL_V2 = """
spleen kidney_right kidney_left gallbladder liver stomach pancreas adrenal_gland_right adrenal_gland_left
lung_upper_lobe_left lung_lower_lobe_left lung_upper_lobe_right lung_middle_lobe_right lung_lower_lobe_right
esophagus trachea thyroid_gland small_bowel duodenum colon urinary_bladder prostate kidney_cyst_left
kidney_cyst_right sacrum vertebrae_S1 vertebrae_L5 vertebrae_L4 vertebrae_L3 vertebrae_L2 vertebrae_L1
vertebrae_T12 vertebrae_T11 vertebrae_T10 vertebrae_T9 vertebrae_T8 vertebrae_T7 vertebrae_T6 vertebrae_T5
vertebrae_T4 vertebrae_T3 vertebrae_T2 vertebrae_T1 vertebrae_C7 vertebrae_C6 vertebrae_C5 vertebrae_C4
vertebrae_C3 vertebrae_C2 vertebrae_C1 heart aorta pulmonary_vein brachiocephalic_trunk subclavian_artery_right
subclavian_artery_left common_carotid_artery_right common_carotid_artery_left brachiocephalic_vein_left
brachiocephalic_vein_right atrial_appendage_left superior_vena_cava inferior_vena_cava
portal_vein_and_splenic_vein iliac_artery_left iliac_artery_right iliac_vena_left iliac_vena_right
humerus_left humerus_right scapula_left scapula_right clavicula_left clavicula_right femur_left femur_right
hip_left hip_right spinal_cord gluteus_maximus_left gluteus_maximus_right gluteus_medius_left
gluteus_medius_right gluteus_minimus_left gluteus_minimus_right autochthon_left autochthon_right
iliopsoas_left iliopsoas_right brain skull rib_left_1 rib_left_2 rib_left_3 rib_left_4 rib_left_5 rib_left_6
rib_left_7 rib_left_8 rib_left_9 rib_left_10 rib_left_11 rib_left_12 rib_right_1 rib_right_2 rib_right_3
rib_right_4 rib_right_5 rib_right_6 rib_right_7 rib_right_8 rib_right_9 rib_right_10 rib_right_11
rib_right_12 sternum costal_cartilages
"""

_TOTAL_V1 = """
spleen kidney_right kidney_left gallbladder liver stomach aorta inferior_vena_cava portal_vein_and_splenic_vein
pancreas adrenal_gland_right adrenal_gland_left lung_upper_lobe_left lung_lower_lobe_left lung_upper_lobe_right
lung_middle_lobe_right lung_lower_lobe_right vertebrae_L5 vertebrae_L4 vertebrae_L3 vertebrae_L2 vertebrae_L1
vertebrae_T12 vertebrae_T11 vertebrae_T10 vertebrae_T9 vertebrae_T8 vertebrae_T7 vertebrae_T6 vertebrae_T5
vertebrae_T4 vertebrae_T3 vertebrae_T2 vertebrae_T1 vertebrae_C7 vertebrae_C6 vertebrae_C5 vertebrae_C4
vertebrae_C3 vertebrae_C2 vertebrae_C1 esophagus trachea heart_myocardium heart_atrium_left
heart_ventricle_left heart_atrium_right heart_ventricle_right pulmonary_artery brain iliac_artery_left
iliac_artery_right iliac_vena_left iliac_vena_right small_bowel duodenum colon rib_left_1 rib_left_2
rib_left_3 rib_left_4 rib_left_5 rib_left_6 rib_left_7 rib_left_8 rib_left_9 rib_left_10 rib_left_11
rib_left_12 rib_right_1 rib_right_2 rib_right_3 rib_right_4 rib_right_5 rib_right_6 rib_right_7 rib_right_8
rib_right_9 rib_right_10 rib_right_11 rib_right_12 humerus_left humerus_right scapula_left scapula_right
clavicula_left clavicula_right femur_left femur_right hip_left hip_right sacrum face gluteus_maximus_left
gluteus_maximus_right gluteus_medius_left gluteus_medius_right gluteus_minimus_left gluteus_minimus_right
autochthon_left autochthon_right iliopsoas_left iliopsoas_right urinary_bladder
"""


def _numbered(text: str) -> dict[int, str]:
    return {i + 1: name for i, name in enumerate(text.split())}


CLASS_MAPS: Dict[str, Dict[int, str]] = {
    "total": _numbered(_TOTAL_V2),
    "total_v1": _numbered(_TOTAL_V1),
}
# accepted spellings for ``labels=...`` / ``--labels``
MAP_ALIASES = {
    "total": "total", "totalseg": "total", "totalsegmentator": "total", "total_v2": "total",
    "totalseg_v2": "total", "total_v1": "total_v1", "totalseg_v1": "total_v1",
}

assert len(CLASS_MAPS["total"]) == 117 and len(CLASS_MAPS["total_v1"]) == 104


def class_map(name: str) -> dict[int, str] | None:
    """The class map called ``name`` (case-insensitive alias), or None."""
    key = MAP_ALIASES.get(name.strip().lower())
    return dict(CLASS_MAPS[key]) if key else None


# tissue colours ---------------------------------------------------------------
_BONE: RGB = (241, 214, 145)
_ARTERY: RGB = (216, 101, 79)
_VEIN: RGB = (0, 151, 206)
_MUSCLE: RGB = (192, 104, 88)
_LUNG: RGB = (197, 165, 145)

_BASE: Dict[str, RGB] = {
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


def _series() -> Dict[str, RGB]:
    out: Dict[str, RGB] = {}
    for side in ("left", "right"):
        for k in range(1, 13):
            out[f"rib_{side}_{k}"] = _shade((231, 202, 128), k - 1, 12)
    verts = [f"C{k}" for k in range(1, 8)] + [f"T{k}" for k in range(1, 13)] + [f"L{k}" for k in range(1, 6)] + ["S1"]
    for i, v in enumerate(verts):
        out[f"vertebrae_{v}"] = _shade((241, 214, 145), i % 8, 8, spread=0.3)
    return out


TOTALSEG_COLORS: Dict[str, RGB] = {**_BASE, **_series()}
"""TotalSegmentator v2 ``total`` task class name -> RGB (0..255); 117 classes."""

# common names outside the v2 class list (older TotalSegmentator versions, merged structures)
COLOR_ALIASES: Dict[str, RGB] = {
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
