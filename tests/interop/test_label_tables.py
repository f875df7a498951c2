"""Issue 11.1: a file's own label table wins; TotalSegmentator's other class maps; colours and date kept."""
from __future__ import annotations

import numpy as np
import pytest

from medmask import load_mask
from medmask.convert import load_nifti_mask, save_nifti_mask
from medmask.convert.label_names import choose_label_names, read_label_names
from medmask.core.totalseg import CLASS_MAPS, class_map, identify_task
from medmask.errors import ConversionError

from interop_helpers import read_totalseg_table, totalseg_color, write_totalseg_ml, TOTALSEG_DATE
from test_cli import assert_one_line_error, run

TOTAL_MR = CLASS_MAPS["total_mr"]


def test_class_maps_match_totalsegmentator():
    # counts and spot checks against TotalSegmentator's map_to_binary.class_map
    assert (len(CLASS_MAPS["total"]), len(CLASS_MAPS["total_v1"]), len(TOTAL_MR)) == (117, 104, 50)
    assert TOTAL_MR[10] == "lung_left" and TOTAL_MR[12] == "esophagus" and TOTAL_MR[50] == "brain"
    assert CLASS_MAPS["total"][12] == "lung_upper_lobe_right"
    assert CLASS_MAPS["pleural_pericard_effusion"] == {2: "pleural_effusion", 3: "pericardial_effusion"}
    assert len(CLASS_MAPS["vertebrae_mr"]) == 25 and CLASS_MAPS["vertebrae_mr"][1] == "sacrum"
    assert class_map("TotalSeg_MR") == TOTAL_MR
    assert identify_task(TOTAL_MR) == "total_mr"
    assert identify_task({1: "spleen", 5: "liver"}) in ("total", "total_mr", "total_v1")
    assert identify_task({1: "my_organ"}) is None


def test_unknown_map_name_suggests_close_ones(tmp_path):
    with pytest.raises(ConversionError, match="did you mean 'total_mr'"):
        read_label_names("totl_mr")


def test_embedded_table_wins_and_contradiction_is_an_error(tmp_path):
    src = tmp_path / "mr_ml.nii.gz"
    data = write_totalseg_ml(src, TOTAL_MR)
    own = load_nifti_mask(src)
    assert {v: n for n, v in own.mapping.items()} == TOTAL_MR
    with pytest.raises(ConversionError) as err:
        load_nifti_mask(src, "total")
    msg = str(err.value)
    assert "label 10 is 'lung_left'" in msg and "'lung_upper_lobe_left'" in msg and "'total_mr'" in msg
    assert str(src) in msg
    same = load_nifti_mask(src, "total_mr")  # agrees with the table: fine
    assert same.mapping.to_dict() == own.mapping.to_dict()
    forced = load_nifti_mask(src, "total", force=True)
    assert forced.mapping.inverse(12) == "lung_upper_lobe_right"
    assert np.array_equal(forced.data, own.data) and own.data.transpose(2, 1, 0).tolist() == data.tolist()


def test_given_map_fills_labels_the_table_does_not_name():
    assert choose_label_names({1: "liver"}, {1: "liver", 2: "tumour"}) == {1: "liver", 2: "tumour"}
    with pytest.raises(ConversionError, match="label 1 is 'liver'"):
        choose_label_names({1: "liver"}, {1: "spleen"}, spec="names.json")


def test_cli_total_mr_file_with_wrong_map(tmp_path):
    src = tmp_path / "mr_ml.nii.gz"
    write_totalseg_ml(src, TOTAL_MR)
    proc = run("convert", src, tmp_path / "x.msk", "--labels", "total", ok=False)
    assert_one_line_error(proc, "label 10 is 'lung_left'", "total_mr", code=1)
    assert not (tmp_path / "x.msk").exists()
    run("convert", src, tmp_path / "x.msk")
    assert load_mask(tmp_path / "x.msk").mapping.inverse(12) == "esophagus"
    run("convert", src, tmp_path / "y.msk", "--labels", "total", "--force")
    assert load_mask(tmp_path / "y.msk").mapping.inverse(12) == "lung_upper_lobe_right"


def test_table_colours_and_date_survive_msk_and_back(tmp_path):
    src = tmp_path / "mr_ml.nii.gz"
    write_totalseg_ml(src, TOTAL_MR)
    run("convert", src, tmp_path / "x.msk")
    mask = load_mask(tmp_path / "x.msk")
    assert mask.colors["esophagus"] == pytest.approx(totalseg_color(12))
    run("convert", tmp_path / "x.msk", tmp_path / "back.nii.gz")
    names, colors, date = read_totalseg_table(tmp_path / "back.nii.gz")
    assert names == TOTAL_MR
    # the same 8-bit colours (medmask keeps colours to 6 decimals: 128/255 comes back as 0.501961)
    assert all(colors[k] == pytest.approx(totalseg_color(k), abs=1e-6) for k in names)
    assert date == TOTALSEG_DATE


def test_python_api_round_trip_keeps_table(tmp_path):
    src = tmp_path / "ml.nii.gz"
    write_totalseg_ml(src, {1: "spleen", 5: "liver"})
    mask = load_nifti_mask(src)
    save_nifti_mask(mask, tmp_path / "out.nii.gz")
    names, colors, date = read_totalseg_table(tmp_path / "out.nii.gz")
    assert names == {1: "spleen", 5: "liver"} and date == TOTALSEG_DATE
    assert colors[5] == pytest.approx(totalseg_color(5), abs=1e-6)
