"""TotalSegmentator's class maps (label value -> name) and display colours, as plain data.

Class names of the ``total`` task of TotalSegmentator v2 (117 classes) and of v1
(104 classes), label value -> name, as published by the TotalSegmentator project.

``TOTALSEG_COLORS`` maps every v2 ``total`` class name to an RGB triple (0..255), one
distinct colour per structure. They start from the anatomical colour conventions 3D Slicer
uses (its GenericAnatomyColors terminology: liver 221,130,101, spleen 157,108,162, bone
241,214,145 ..., ``PREFERRED``) and are moved just enough that touching structures differ
(those conventions give liver, kidneys and the back muscles nearly the same brown).
"""
from __future__ import annotations

import colorsys
import re
from typing import Dict, List, Mapping, Optional, Tuple

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

# The other tasks of TotalSegmentator (``--task NAME --ml``), from its
# ``totalsegmentator/map_to_binary.py`` (class_map). ``N:`` restarts the numbering at N
# (a task whose first label is not 1).
_OTHER_TASKS = """
total_mr: spleen kidney_right kidney_left gallbladder liver stomach pancreas adrenal_gland_right
  adrenal_gland_left lung_left lung_right esophagus small_bowel duodenum colon urinary_bladder prostate sacrum
  vertebrae intervertebral_discs spinal_cord heart aorta inferior_vena_cava portal_vein_and_splenic_vein
  iliac_artery_left iliac_artery_right iliac_vena_left iliac_vena_right humerus_left humerus_right scapula_left
  scapula_right clavicula_left clavicula_right femur_left femur_right hip_left hip_right gluteus_maximus_left
  gluteus_maximus_right gluteus_medius_left gluteus_medius_right gluteus_minimus_left gluteus_minimus_right
  autochthon_left autochthon_right iliopsoas_left iliopsoas_right brain
lung_vessels: lung_vessels lung_trachea_bronchia
oculomotor_muscles: skull eyeball_right lateral_rectus_muscle_right superior_oblique_muscle_right
  levator_palpebrae_superioris_right superior_rectus_muscle_right medial_rectus_muscle_left
  inferior_oblique_muscle_right inferior_rectus_muscle_right optic_nerve_left eyeball_left
  lateral_rectus_muscle_left superior_oblique_muscle_left levator_palpebrae_superioris_left
  superior_rectus_muscle_left medial_rectus_muscle_right inferior_oblique_muscle_left inferior_rectus_muscle_left
  optic_nerve_right
covid: lung_covid_infiltrate
cerebral_bleed: intracerebral_hemorrhage
hip_implant: hip_implant
coronary_arteries: coronary_arteries
body: body_trunc body_extremities
body_mr: body_trunc body_extremities
vertebrae_mr: sacrum vertebrae_L5 vertebrae_L4 vertebrae_L3 vertebrae_L2 vertebrae_L1 vertebrae_T12 vertebrae_T11
  vertebrae_T10 vertebrae_T9 vertebrae_T8 vertebrae_T7 vertebrae_T6 vertebrae_T5 vertebrae_T4 vertebrae_T3
  vertebrae_T2 vertebrae_T1 vertebrae_C7 vertebrae_C6 vertebrae_C5 vertebrae_C4 vertebrae_C3 vertebrae_C2
  vertebrae_C1
pleural_pericard_effusion: 2: pleural_effusion pericardial_effusion
liver_vessels: liver_vessels liver_tumor
vertebrae_body: vertebrae_body intervertebral_discs
heartchambers_highres: heart_myocardium heart_atrium_left heart_ventricle_left heart_atrium_right
  heart_ventricle_right aorta pulmonary_artery
appendicular_bones: patella tibia fibula tarsal metatarsal phalanges_feet ulna radius carpal metacarpal
  phalanges_hand
appendicular_bones_mr: patella tibia fibula tarsal metatarsal phalanges_feet ulna radius
tissue_types: subcutaneous_fat torso_fat skeletal_muscle
tissue_types_mr: subcutaneous_fat torso_fat skeletal_muscle
tissue_4_types: subcutaneous_fat torso_fat skeletal_muscle intermuscular_fat
face: face
face_mr: face
brain_structures: brainstem subarachnoid_space venous_sinuses septum_pellucidum cerebellum caudate_nucleus
  lentiform_nucleus insular_cortex internal_capsule ventricle central_sulcus frontal_lobe parietal_lobe
  occipital_lobe temporal_lobe thalamus
head_glands_cavities: eye_left eye_right eye_lens_left eye_lens_right optic_nerve_left optic_nerve_right
  parotid_gland_left parotid_gland_right submandibular_gland_right submandibular_gland_left nasopharynx
  oropharynx hypopharynx nasal_cavity_right nasal_cavity_left auditory_canal_right auditory_canal_left
  soft_palate hard_palate
headneck_bones_vessels: larynx_air thyroid_cartilage hyoid cricoid_cartilage zygomatic_arch_right
  zygomatic_arch_left styloid_process_right styloid_process_left internal_carotid_artery_right
  internal_carotid_artery_left internal_jugular_vein_right internal_jugular_vein_left
head_muscles: masseter_right masseter_left temporalis_right temporalis_left lateral_pterygoid_right
  lateral_pterygoid_left medial_pterygoid_right medial_pterygoid_left tongue digastric_right digastric_left
headneck_muscles: sternocleidomastoid_right sternocleidomastoid_left superior_pharyngeal_constrictor
  middle_pharyngeal_constrictor inferior_pharyngeal_constrictor trapezius_right trapezius_left platysma_right
  platysma_left levator_scapulae_right levator_scapulae_left anterior_scalene_right anterior_scalene_left
  middle_scalene_right middle_scalene_left posterior_scalene_right posterior_scalene_left sterno_thyroid_right
  sterno_thyroid_left thyrohyoid_right thyrohyoid_left prevertebral_right prevertebral_left
thigh_shoulder_muscles: quadriceps_femoris_left quadriceps_femoris_right thigh_medial_compartment_left
  thigh_medial_compartment_right thigh_posterior_compartment_left thigh_posterior_compartment_right
  sartorius_left sartorius_right deltoid supraspinatus infraspinatus subscapularis coracobrachial trapezius
  pectoralis_minor serratus_anterior teres_major triceps_brachii
thigh_shoulder_muscles_mr: quadriceps_femoris_left quadriceps_femoris_right thigh_medial_compartment_left
  thigh_medial_compartment_right thigh_posterior_compartment_left thigh_posterior_compartment_right
  sartorius_left sartorius_right deltoid supraspinatus infraspinatus subscapularis coracobrachial trapezius
  pectoralis_minor serratus_anterior teres_major triceps_brachii
lung_nodules: lung lung_nodules
kidney_cysts: kidney_cyst_left kidney_cyst_right
breasts: breast
ventricle_parts: ventricle_frontal_horn_left ventricle_occipital_horn_left ventricle_body_left
  ventricle_temporal_horn_left ventricle_trigone_left ventricle_frontal_horn_right ventricle_occipital_horn_right
  ventricle_body_right ventricle_temporal_horn_right ventricle_trigone_right third_ventricle fourth_ventricle
aortic_sinuses: left_ventricular_outflow_tract right_coronary_cusp left_coronary_cusp non_coronary_cusp
liver_segments: liver_segment_1 liver_segment_2 liver_segment_3 liver_segment_4 liver_segment_5 liver_segment_6
  liver_segment_7 liver_segment_8
liver_segments_mr: liver_segment_1 liver_segment_2 liver_segment_3 liver_segment_4 liver_segment_5
  liver_segment_6 liver_segment_7 liver_segment_8
"""


def _numbered(text: str, start: int = 1) -> Dict[int, str]:
    out: Dict[int, str] = {}
    label = start
    for word in text.split():
        if word.endswith(":") and word[:-1].isdigit():
            label = int(word[:-1])
            continue
        out[label] = word
        label += 1
    return out


def _tasks(text: str) -> Dict[str, Dict[int, str]]:
    out: Dict[str, Dict[int, str]] = {}
    for block in re.split(r"\n(?=\S)", text.strip()):
        task, names = block.split(":", 1)
        out[task.strip()] = _numbered(names)
    return out


CLASS_MAPS: Dict[str, Dict[int, str]] = {
    "total": _numbered(_TOTAL_V2),
    "total_v1": _numbered(_TOTAL_V1),
    **_tasks(_OTHER_TASKS),
}
# accepted spellings for ``labels=...`` / ``--labels`` (plus every task name itself)
MAP_ALIASES = {
    **{task: task for task in CLASS_MAPS},
    "totalseg": "total", "totalsegmentator": "total", "total_v2": "total", "totalseg_v2": "total",
    "totalseg_v1": "total_v1", "totalseg_mr": "total_mr", "totalsegmentator_mr": "total_mr",
}


def class_map(name: str) -> Optional[Dict[int, str]]:
    """The class map called ``name`` (case-insensitive alias), or None."""
    key = MAP_ALIASES.get(name.strip().lower())
    return dict(CLASS_MAPS[key]) if key else None


def task_names() -> List[str]:
    """Names of the class maps shipped, for messages and ``--help``."""
    return sorted(CLASS_MAPS)


def identify_task(names: Mapping[int, str]) -> Optional[str]:
    """The TotalSegmentator task whose class map agrees with every (label, name) of ``names``, or None.

    A file's own table may hold a subset of a task (classes with no voxels left out);
    the smallest task that contains all of it wins.
    """
    hits = [t for t, m in CLASS_MAPS.items() if names and all(m.get(k) == v for k, v in names.items())]
    return min(hits, key=lambda t: (len(CLASS_MAPS[t]), t)) if hits else None


# tissue colours ---------------------------------------------------------------
# Source of the anatomical starting colours: 3D Slicer's terminology, the
# recommendedDisplayRGBValue of Slicer/Slicer Modules/Loadable/Terminologies/Resources/
# SegmentationCategoryTypeModifier-SlicerGeneralAnatomy.json (3D Slicer license, BSD-style):
# Organ 221,130,101 (liver), Bone 241,214,145, Artery 216,101,79, Vein 0,151,206, Muscle
# 192,104,88, Nerve 244,214,49 (spinal cord), Cartilage 111,184,210, Adrenal gland 249,186,150.
# Those make touching organs look alike; TOTALSEG_COLORS below moves them apart.
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


PREFERRED: Dict[str, RGB] = {**_BASE, **_series()}
"""Anatomical tissue colour of every v2 ``total`` class: what ``scripts/make_palette.py`` starts from."""

# fmt: off
TOTALSEG_COLORS: Dict[str, RGB] = {
    "spleen": (157, 108, 162),
    "kidney_right": (140, 63, 71),
    "kidney_left": (140, 56, 0),
    "gallbladder": (139, 150, 98),
    "liver": (221, 130, 101),
    "stomach": (255, 153, 173),
    "pancreas": (255, 199, 115),
    "adrenal_gland_right": (255, 204, 153),
    "adrenal_gland_left": (244, 186, 150),
    "lung_upper_lobe_left": (140, 118, 84),
    "lung_lower_lobe_left": (217, 190, 163),
    "lung_upper_lobe_right": (217, 173, 163),
    "lung_middle_lobe_right": (178, 107, 143),
    "lung_lower_lobe_right": (154, 150, 201),
    "esophagus": (140, 116, 105),
    "trachea": (182, 228, 255),
    "thyroid_gland": (220, 245, 20),
    "small_bowel": (140, 112, 84),
    "duodenum": (255, 249, 191),
    "colon": (217, 184, 163),
    "urinary_bladder": (217, 130, 130),
    "prostate": (217, 173, 130),
    "kidney_cyst_left": (205, 205, 100),
    "kidney_cyst_right": (205, 217, 98),
    "sacrum": (255, 224, 153),
    "vertebrae_S1": (217, 156, 65),
    "vertebrae_L5": (163, 217, 195),
    "vertebrae_L4": (182, 217, 130),
    "vertebrae_L3": (245, 225, 174),
    "vertebrae_L2": (224, 255, 153),
    "vertebrae_L1": (217, 191, 130),
    "vertebrae_T12": (255, 255, 153),
    "vertebrae_T11": (217, 181, 98),
    "vertebrae_T10": (255, 168, 38),
    "vertebrae_T9": (191, 255, 230),
    "vertebrae_T8": (247, 232, 193),
    "vertebrae_T7": (199, 217, 130),
    "vertebrae_T6": (178, 165, 134),
    "vertebrae_T5": (240, 210, 135),
    "vertebrae_T4": (255, 166, 77),
    "vertebrae_T3": (217, 193, 98),
    "vertebrae_T2": (217, 143, 33),
    "vertebrae_T1": (250, 239, 213),
    "vertebrae_C7": (255, 235, 153),
    "vertebrae_C6": (178, 178, 134),
    "vertebrae_C5": (249, 255, 191),
    "vertebrae_C4": (217, 182, 130),
    "vertebrae_C3": (255, 245, 153),
    "vertebrae_C2": (217, 169, 98),
    "vertebrae_C1": (166, 178, 54),
    "heart": (140, 69, 21),
    "aorta": (224, 97, 76),
    "pulmonary_vein": (0, 122, 171),
    "brachiocephalic_trunk": (178, 120, 80),
    "subclavian_artery_right": (217, 95, 65),
    "subclavian_artery_left": (217, 139, 130),
    "common_carotid_artery_right": (178, 80, 90),
    "common_carotid_artery_left": (140, 72, 42),
    "brachiocephalic_vein_left": (0, 89, 178),
    "brachiocephalic_vein_right": (54, 91, 178),
    "atrial_appendage_left": (255, 175, 156),
    "superior_vena_cava": (0, 141, 209),
    "inferior_vena_cava": (0, 151, 206),
    "portal_vein_and_splenic_vein": (0, 84, 140),
    "iliac_artery_left": (140, 42, 42),
    "iliac_artery_right": (140, 21, 33),
    "iliac_vena_left": (130, 199, 217),
    "iliac_vena_right": (0, 153, 255),
    "humerus_left": (255, 210, 191),
    "humerus_right": (236, 255, 191),
    "scapula_left": (217, 217, 130),
    "scapula_right": (178, 164, 107),
    "clavicula_left": (178, 139, 80),
    "clavicula_right": (217, 217, 98),
    "femur_left": (255, 214, 153),
    "femur_right": (255, 224, 140),
    "hip_left": (169, 178, 80),
    "hip_right": (179, 217, 163),
    "spinal_cord": (244, 214, 49),
    "gluteus_maximus_left": (188, 95, 76),
    "gluteus_maximus_right": (178, 71, 0),
    "gluteus_medius_left": (178, 134, 134),
    "gluteus_medius_right": (178, 100, 80),
    "gluteus_minimus_left": (140, 109, 63),
    "gluteus_minimus_right": (140, 123, 105),
    "autochthon_left": (180, 110, 95),
    "autochthon_right": (217, 163, 179),
    "iliopsoas_left": (217, 130, 139),
    "iliopsoas_right": (217, 121, 98),
    "brain": (191, 255, 242),
    "skull": (211, 217, 163),
    "rib_left_1": (217, 186, 65),
    "rib_left_2": (178, 178, 107),
    "rib_left_3": (140, 116, 21),
    "rib_left_4": (255, 194, 153),
    "rib_left_5": (178, 148, 27),
    "rib_left_6": (193, 217, 98),
    "rib_left_7": (255, 185, 115),
    "rib_left_8": (140, 140, 84),
    "rib_left_9": (255, 213, 115),
    "rib_left_10": (164, 178, 107),
    "rib_left_11": (255, 242, 191),
    "rib_left_12": (255, 198, 191),
    "rib_right_1": (217, 161, 33),
    "rib_right_2": (178, 169, 80),
    "rib_right_3": (217, 195, 0),
    "rib_right_4": (178, 150, 107),
    "rib_right_5": (178, 178, 54),
    "rib_right_6": (217, 145, 98),
    "rib_right_7": (217, 171, 65),
    "rib_right_8": (178, 157, 107),
    "rib_right_9": (217, 205, 98),
    "rib_right_10": (217, 211, 163),
    "rib_right_11": (245, 255, 153),
    "rib_right_12": (255, 223, 191),
    "sternum": (244, 217, 154),
    "costal_cartilages": (111, 184, 210),
}
# fmt: on
"""TotalSegmentator v2 ``total`` class name -> RGB (0..255), one distinct colour per structure: the
anatomical colour (``PREFERRED``) moved just enough that touching structures differ by at least
28 CIE76 units (liver and right kidney, iliopsoas and kidney, neighbouring vertebrae...). Made by
``scripts/make_palette.py``; ``tests/core/test_palette.py`` checks the neighbours."""

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
