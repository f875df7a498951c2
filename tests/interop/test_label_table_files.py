"""Issue 18.2: the field's label tables (ITK-SNAP, 3D Slicer, nnU-Net) read right or refused, and written."""
from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest

from medmask import load_mask
from medmask.convert.label_names import read_label_names
from medmask.convert.label_tables import (LabelTable, detect_format, format_itksnap, format_nnunet,
                                          format_slicer_ctbl, parse_itksnap, parse_json_labels, parse_slicer_ctbl,
                                          parse_table, read_table_file)
from medmask.errors import ConversionError

from interop_helpers import write_multilabel
from test_cli import assert_one_line_error, run

# The exact layout ITK-SNAP writes ("Export label descriptions"): its header block, Clear Label at 0.
ITKSNAP = """\
################################################
# ITK-SnAP Label Description File
# File format: 
# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
# Fields: 
#    IDX:   Zero-based index 
#    -R-:   Red color component (0..255)
#    -G-:   Green color component (0..255)
#    -B-:   Blue color component (0..255)
#    -A-:   Label transparency (0.00 .. 1.00)
#    VIS:   Label visibility (0 or 1)
#    IDX:   Label mesh visibility (0 or 1)
#  LABEL:   Label description 
################################################
    0     0    0    0        0  0  0    "Clear Label"
    1   255    0    0        1  1  1    "spleen"
    3     0  255    0      0.5  1  0    "kidney left"
    7     0    0  255        1  0  1    "liver"
"""
# The layout 3D Slicer writes for a colour table (.ctbl / .txt).
SLICER = """\
# Color table file /home/user/Segmentation-label_ColorTable.ctbl
# 4 values
0 Background 0 0 0 0
1 spleen 157 108 162 255
3 kidney_left 185 102 83 255
7 liver 221 130 101 128
"""
NAMES = {1: "spleen", 3: "kidney left", 7: "liver"}


def test_itksnap_file_gives_names_and_colours():
    fmt, table = parse_table(ITKSNAP)
    assert fmt == "itksnap"
    assert table.names == NAMES
    assert table.colors[1] == (1.0, 0.0, 0.0, 1.0) and table.colors[3] == (0.0, 1.0, 0.0, 0.5)


def test_slicer_colour_table_gives_names_and_colours():
    fmt, table = parse_table(SLICER)
    assert fmt == "slicer"
    assert table.names == {1: "spleen", 3: "kidney_left", 7: "liver"}
    assert table.colors[7] == pytest.approx((221 / 255, 130 / 255, 101 / 255, 128 / 255))
    # the same file without its header comment is still a colour table (content, not comments)
    assert parse_table(SLICER.split("\n", 2)[2])[0] == "slicer"


@pytest.mark.parametrize("fmt", ["itksnap", "slicer"])
def test_formatters_and_parsers_are_inverse(fmt):
    table = LabelTable({1: "spleen", 2: "liver", 10: "rib_left_1"},
                       {1: (1.0, 0.0, 0.0, 1.0), 2: (0.0, 128 / 255, 1.0, 1.0), 10: (0.2, 0.4, 0.6, 1.0)})
    text = format_itksnap(table) if fmt == "itksnap" else format_slicer_ctbl(table)
    back = parse_itksnap(text) if fmt == "itksnap" else parse_slicer_ctbl(text)
    assert detect_format(text) == fmt
    assert back.names == table.names
    for k, c in table.colors.items():  # 8-bit colours
        assert back.colors[k] == pytest.approx(c, abs=0.5 / 255)
    if fmt == "itksnap":  # ITK-SNAP's own layout, line for line
        assert text.startswith(ITKSNAP.split("    0     0")[0])
        assert '    1   255    0    0        1  1  1    "spleen"' in text


def test_nnunet_dataset_json_v1_and_v2():
    v2 = {"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1, "tumor": 2}, "numTraining": 3,
          "file_ending": ".nii.gz"}
    v1 = {"modality": {"0": "CT"}, "labels": {"0": "background", "1": "liver", "2": "tumor"}}
    for data in (v2, v1):
        fmt, table = parse_json_labels(data)
        assert fmt == "nnunet" and table.names == {1: "liver", 2: "tumor"}
    # a one-label region is that label; a real region names no label: refused, saying why
    assert parse_json_labels({"labels": {"background": 0, "liver": [1]}})[1].names == {1: "liver"}
    with pytest.raises(ConversionError, match=r"'whole_tumor': \[1, 2, 3\] is an nnU-Net region"):
        parse_table(json.dumps({"labels": {"background": 0, "whole_tumor": [1, 2, 3], "edema": 1}}))
    assert read_label_names({"background": 0, "liver": 1}) == {1: "liver"}  # a Python dict too
    back = parse_json_labels(json.loads(format_nnunet(LabelTable({1: "liver", 2: "tumor"}))))
    assert back == ("nnunet", LabelTable({1: "liver", 2: "tumor"}))


def test_unknown_numbered_layout_is_refused_naming_the_line(tmp_path):
    bad = tmp_path / "labels.txt"
    bad.write_text("1 255 0 0 spleen extra\n2 0 255 0 liver extra\n")
    with pytest.raises(ConversionError) as err:
        read_label_names(bad)
    assert "'1 255 0 0 spleen extra'" in str(err.value) and str(bad) in str(err.value)
    # a plain list of names is still a list of names
    ok = tmp_path / "names.txt"
    ok.write_text("liver\nspleen\n")
    assert read_label_names(ok) == {1: "liver", 2: "spleen"}


def test_cli_labels_from_itksnap_and_slicer_files(tmp_path):
    src = tmp_path / "ml.nii.gz"
    data = write_multilabel(src)  # labels 1, 3, 7
    for name, text, want in (("labels.txt", ITKSNAP, NAMES), ("colors.ctbl", SLICER,
                                                             {1: "spleen", 3: "kidney_left", 7: "liver"})):
        spec = tmp_path / name
        spec.write_text(text)
        out = tmp_path / f"{name}.msk"
        run("convert", src, out, "--labels", spec)
        mask = load_mask(out)
        assert {v: n for n, v in mask.mapping.items()} == want
        assert np.array_equal(mask.data.transpose(2, 1, 0), data)
        assert mask.colors["liver"] == pytest.approx((0.0, 0.0, 1.0, 1.0) if name == "labels.txt"
                                                     else (221 / 255, 130 / 255, 101 / 255, 128 / 255), abs=1e-6)


@pytest.mark.parametrize("table_name", ["names.txt", "names.ctbl", "dataset.json", "names.csv"])
def test_labels_out_writes_a_table_the_next_tool_reads(tmp_path, table_name):
    src = tmp_path / "ml.nii.gz"
    write_multilabel(src)
    spec = tmp_path / "in.txt"
    spec.write_text(ITKSNAP)
    out, table = tmp_path / "ml_out.msk", tmp_path / table_name
    proc = run("convert", src, out, "--labels", spec, "--labels-out", table)
    assert "label table" in proc.stdout
    fmt, back = read_table_file(table)
    assert fmt == {"names.txt": "itksnap", "names.ctbl": "slicer", "dataset.json": "nnunet",
                   "names.csv": "csv"}[table_name]
    want = dict(NAMES)
    if table_name == "names.ctbl":
        want[3] = "kidney_left"  # Slicer names hold no spaces
    assert back.names == want
    # the table names the very labels of the label map written beside it
    assert load_mask(out).mapping.to_dict() == {n: v for v, n in NAMES.items()}


def test_labels_out_needs_a_label_map_output(tmp_path):
    src = tmp_path / "ml.nii.gz"
    write_multilabel(src)
    proc = run("convert", src, tmp_path / "x.mska", "--labels-out", tmp_path / "t.txt", ok=False)
    assert_one_line_error(proc, "goes with a label map output")
    proc = run("convert", src, tmp_path / "x.msk", "--labels-out", tmp_path / "t.xyz", ok=False)
    assert_one_line_error(proc, "cannot tell the label table format")
    assert not (tmp_path / "x.mska").exists() and not (tmp_path / "x.msk").exists()


def test_extract_multilabel_msk_into_per_organ_folder(tmp_path):
    src = tmp_path / "ml.nii.gz"
    data = write_multilabel(src, names={1: "liver", 3: "spleen", 7: "dot"})
    run("convert", src, tmp_path / "ml.msk")
    run("extract", tmp_path / "ml.msk", "*", "-o", tmp_path / "segmentations")
    files = sorted(p.name for p in (tmp_path / "segmentations").iterdir())
    assert files == ["dot.nii.gz", "liver.nii.gz", "spleen.nii.gz"]
    for name, value in (("liver", 1), ("spleen", 3), ("dot", 7)):
        img = nib.load(str(tmp_path / "segmentations" / f"{name}.nii.gz"))
        arr = np.asarray(img.dataobj)
        assert set(np.unique(arr).tolist()) == {0, 1}  # TotalSegmentator's 0/1 per-organ files
        assert np.array_equal(arr == 1, data == value)
        np.testing.assert_allclose(img.affine, nib.load(str(src)).affine, atol=1e-5)


def test_totalsegmentators_generated_colours_give_way_to_the_palette(tmp_path):
    """Its --ml table cycles 12 colours (kidney = lung = back muscle): exports use each structure's own."""
    from medmask.convert.label_tables import read_table_file
    from medmask.core.colors import default_color
    from medmask.core.totalseg import CLASS_MAPS
    from interop_helpers import write_totalseg_ml

    slicerio = pytest.importorskip("slicerio")
    src = tmp_path / "ml.nii.gz"
    write_totalseg_ml(src, {k: CLASS_MAPS["total"][k] for k in range(1, 31)})
    run("convert", src, tmp_path / "ml.seg.nrrd")
    seg = slicerio.read_segmentation(str(tmp_path / "ml.seg.nrrd"), skip_voxels=True)
    colours = {s["name"]: tuple(s["color"]) for s in seg["segments"]}
    assert len(set(colours.values())) == 30
    assert colours["kidney_left"] == pytest.approx(default_color("kidney_left")[:3], abs=1e-5)
    run("convert", src, tmp_path / "ml.msk", "--labels-out", tmp_path / "ml.txt")
    table = read_table_file(tmp_path / "ml.txt")[1]
    assert table.colors[3][:3] == pytest.approx(default_color("kidney_left")[:3], abs=0.5 / 255)


def test_split_entries_do_not_keep_totalsegmentators_generated_colours(tmp_path):
    from medmask import MaskArchive
    from medmask.core.totalseg import CLASS_MAPS
    from interop_helpers import write_totalseg_ml

    src = tmp_path / "ml.nii.gz"
    write_totalseg_ml(src, {k: CLASS_MAPS["total"][k] for k in range(1, 8)})
    run("convert", src, tmp_path / "s.mska", "--split")
    with MaskArchive(tmp_path / "s.mska") as a:
        assert all(not a.load_segmask(n).colors for n in a.all_names())
