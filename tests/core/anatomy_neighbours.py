"""Hand-written anatomical neighbour pairs of TotalSegmentator 'total' classes (touching structures)."""
def _pairs():
    P = []
    def add(a, *bs):
        for b in bs: P.append((a, b))
    add("liver", "kidney_right", "gallbladder", "stomach", "duodenum", "inferior_vena_cava", "portal_vein_and_splenic_vein",
        "adrenal_gland_right", "colon", "heart", "lung_lower_lobe_right", "lung_middle_lobe_right", "pancreas", "esophagus",
        "small_bowel", "costal_cartilages", "rib_right_7", "rib_right_8", "rib_right_9", "rib_right_10", "rib_right_11")
    add("spleen", "stomach", "kidney_left", "colon", "pancreas", "lung_lower_lobe_left", "adrenal_gland_left",
        "rib_left_9", "rib_left_10", "rib_left_11", "portal_vein_and_splenic_vein")
    add("kidney_right", "duodenum", "adrenal_gland_right", "iliopsoas_right", "autochthon_right", "colon",
        "inferior_vena_cava", "kidney_cyst_right", "small_bowel", "rib_right_12")
    add("kidney_left", "pancreas", "adrenal_gland_left", "iliopsoas_left", "autochthon_left", "colon", "aorta",
        "kidney_cyst_left", "small_bowel", "stomach", "rib_left_12")
    add("stomach", "esophagus", "pancreas", "colon", "small_bowel", "duodenum", "heart", "lung_lower_lobe_left")
    add("pancreas", "duodenum", "portal_vein_and_splenic_vein", "small_bowel", "aorta", "inferior_vena_cava")
    add("duodenum", "small_bowel", "inferior_vena_cava", "colon", "gallbladder")
    add("colon", "small_bowel", "urinary_bladder", "iliopsoas_left", "iliopsoas_right", "sacrum", "hip_left", "hip_right")
    add("small_bowel", "urinary_bladder", "iliopsoas_left", "iliopsoas_right", "iliac_artery_left", "iliac_vena_right")
    add("urinary_bladder", "prostate", "hip_left", "hip_right")
    add("lung_upper_lobe_left", "lung_lower_lobe_left", "heart", "aorta", "pulmonary_vein", "subclavian_artery_left")
    add("lung_upper_lobe_right", "lung_middle_lobe_right", "lung_lower_lobe_right", "superior_vena_cava", "trachea")
    add("lung_middle_lobe_right", "lung_lower_lobe_right", "heart")
    add("lung_lower_lobe_left", "heart", "aorta", "esophagus", "autochthon_left")
    add("lung_lower_lobe_right", "heart", "esophagus", "inferior_vena_cava", "autochthon_right")
    add("heart", "aorta", "pulmonary_vein", "atrial_appendage_left", "superior_vena_cava", "inferior_vena_cava",
        "esophagus", "sternum", "costal_cartilages")
    add("aorta", "esophagus", "trachea", "brachiocephalic_trunk", "subclavian_artery_left", "common_carotid_artery_left",
        "iliac_artery_left", "iliac_artery_right", "inferior_vena_cava", "pulmonary_vein", "brachiocephalic_vein_left",
        "vertebrae_T5", "vertebrae_T8", "vertebrae_L1", "vertebrae_L3", "iliopsoas_left")
    add("inferior_vena_cava", "iliac_vena_left", "iliac_vena_right", "iliopsoas_right", "portal_vein_and_splenic_vein")
    add("iliac_artery_left", "iliac_vena_left", "iliopsoas_left", "iliac_vena_right")
    add("iliac_artery_right", "iliac_vena_right", "iliopsoas_right")
    add("superior_vena_cava", "brachiocephalic_vein_left", "brachiocephalic_vein_right", "brachiocephalic_trunk")
    add("brachiocephalic_trunk", "brachiocephalic_vein_left", "subclavian_artery_right", "common_carotid_artery_right",
        "trachea")
    add("subclavian_artery_right", "common_carotid_artery_right", "brachiocephalic_vein_right")
    add("subclavian_artery_left", "common_carotid_artery_left", "brachiocephalic_vein_left")
    add("esophagus", "trachea", "vertebrae_T3", "thyroid_gland")
    add("trachea", "thyroid_gland", "common_carotid_artery_left", "common_carotid_artery_right")
    add("thyroid_gland", "common_carotid_artery_left", "common_carotid_artery_right")
    add("atrial_appendage_left", "pulmonary_vein")
    verts = [f"C{k}" for k in range(1, 8)] + [f"T{k}" for k in range(1, 13)] + [f"L{k}" for k in range(1, 6)] + ["S1"]
    for a, b in zip(verts, verts[1:]):
        add(f"vertebrae_{a}", f"vertebrae_{b}")
    for v in verts:
        add("spinal_cord", f"vertebrae_{v}")
        add(f"vertebrae_{v}", "autochthon_left", "autochthon_right")
    for k in range(1, 13):
        for side in ("left", "right"):
            add(f"rib_{side}_{k}", f"vertebrae_T{k}", f"autochthon_{side}", "costal_cartilages")
            if k > 1: add(f"rib_{side}_{k}", f"vertebrae_T{k-1}")
            if k < 12: add(f"rib_{side}_{k}", f"rib_{side}_{k+1}")
    add("rib_left_1", "clavicula_left", "subclavian_artery_left", "lung_upper_lobe_left")
    add("rib_right_1", "clavicula_right", "subclavian_artery_right", "lung_upper_lobe_right")
    for k in (3, 5, 7):
        add(f"rib_left_{k}", "lung_upper_lobe_left", "scapula_left"); add(f"rib_right_{k}", "lung_upper_lobe_right", "scapula_right")
    for k in (8, 9, 10):
        add(f"rib_left_{k}", "lung_lower_lobe_left"); add(f"rib_right_{k}", "lung_lower_lobe_right")
    add("sacrum", "vertebrae_S1", "vertebrae_L5", "hip_left", "hip_right", "autochthon_left", "autochthon_right",
        "gluteus_maximus_left", "gluteus_maximus_right", "iliopsoas_left", "iliopsoas_right")
    add("sternum", "costal_cartilages", "clavicula_left", "clavicula_right")
    add("clavicula_left", "scapula_left"); add("clavicula_right", "scapula_right")
    add("scapula_left", "humerus_left"); add("scapula_right", "humerus_right")
    add("autochthon_left", "autochthon_right")
    add("gluteus_maximus_left", "gluteus_maximus_right")
    add("hip_left", "hip_right")
    for s in ("left", "right"):
        add(f"hip_{s}", f"femur_{s}", f"gluteus_maximus_{s}", f"gluteus_medius_{s}", f"gluteus_minimus_{s}", f"iliopsoas_{s}")
        add(f"femur_{s}", f"gluteus_maximus_{s}", f"gluteus_medius_{s}", f"gluteus_minimus_{s}", f"iliopsoas_{s}")
        add(f"gluteus_maximus_{s}", f"gluteus_medius_{s}"); add(f"gluteus_medius_{s}", f"gluteus_minimus_{s}")
        add(f"iliopsoas_{s}", "vertebrae_L3", "vertebrae_L4", "vertebrae_L5")
        add(f"kidney_cyst_{s}", f"kidney_{s}")
    add("brain", "skull"); add("skull", "vertebrae_C1"); add("spinal_cord", "brain")
    add("vertebrae_C2", "skull")
    return sorted({tuple(sorted(p)) for p in P})
NEIGHBOURS = _pairs()
