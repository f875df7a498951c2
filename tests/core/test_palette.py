"""Issue 18.3 / 19.5: one distinct colour per structure; touching structures differ; a user's colours are kept."""
from __future__ import annotations

import itertools

from medmask.core.colors import (DISTINCT, TOTALSEG_COLORS, TOTALSEG_CYCLE, colors_generated, default_color,
                                 delta_e, display_color, display_colors, is_generated_color)
from medmask.core.totalseg import CLASS_MAPS

from anatomy_neighbours import NEIGHBOURS


def test_every_total_class_has_its_own_colour():
    names = list(CLASS_MAPS["total"].values())
    assert set(TOTALSEG_COLORS) == set(names)
    colours = [TOTALSEG_COLORS[n] for n in names]
    assert len(set(colours)) == len(names)
    assert min(delta_e(a, b) for a, b in itertools.combinations(colours, 2)) >= 4.0


def test_touching_structures_differ_clearly():
    assert len(NEIGHBOURS) > 400
    close = [(a, b, round(delta_e(TOTALSEG_COLORS[a], TOTALSEG_COLORS[b]), 1)) for a, b in NEIGHBOURS
             if delta_e(TOTALSEG_COLORS[a], TOTALSEG_COLORS[b]) < 28]
    assert close == []
    # the pairs issue 19 found in the same salmon/brown
    for a, b in (("liver", "kidney_right"), ("kidney_left", "iliopsoas_left"), ("kidney_right", "autochthon_right"),
                 ("colon", "small_bowel"), ("vertebrae_L1", "vertebrae_L2"), ("rib_left_5", "rib_left_6")):
        assert delta_e(TOTALSEG_COLORS[a], TOTALSEG_COLORS[b]) >= 28, (a, b)


def test_unknown_names_by_index_differ_from_their_neighbours():
    got = [default_color(f"structure_{i}", i) for i in range(1, 41)]
    rgb = [tuple(round(c * 255) for c in g[:3]) for g in got]
    assert all(delta_e(a, b) >= 20 for a, b in zip(rgb, rgb[1:]))
    assert len(set(rgb[:len(DISTINCT)])) == len(DISTINCT)
    assert default_color("my_lesion") == default_color("my_lesion")  # no index: stable per name


def test_display_colors_keep_user_colours_and_replace_totalsegmentators_cycle():
    mine = (0.1, 0.2, 0.3, 1.0)
    assert display_color("liver", 5, mine) == mine
    assert display_color("liver", 5, None) == default_color("liver")

    def cycle(v):
        return tuple(c / 255 for c in TOTALSEG_CYCLE[v % 12]) + (1.0,)

    mapping = {"spleen": 1, "kidney_right": 2, "liver": 5}
    generated = {n: cycle(v) for n, v in mapping.items()}
    assert colors_generated(mapping, generated) and is_generated_color(5, cycle(5))
    assert display_colors(mapping, generated) == {n: default_color(n) for n in mapping}
    # one pure green on label 1 is a user's choice, not the cycle; so is a table with one other colour
    assert display_colors({"small": 1}, {"small": (0.0, 1.0, 0.0, 1.0)}) == {"small": (0.0, 1.0, 0.0, 1.0)}
    mixed = {**generated, "liver": mine}
    assert not colors_generated(mapping, mixed) and display_colors(mapping, mixed)["liver"] == mine
    # no colour at all: the palette, by label value for names it does not know
    assert display_colors({"a": 1, "b": 2}, None) == {"a": default_color("a", 1), "b": default_color("b", 2)}


def test_single_label_entries_of_unknown_names_do_not_all_get_one_colour():
    """Every entry of a folder of masks is label 1: colouring by label value made the bundled aorta
    case's 10 non-TotalSegmentator structures all the same yellow in the dock and on the canvas."""
    from medmask.core.colors import display_colors

    names = ["annulus_proper", "aorta_false_lumen", "aorta_true_lumen", "celiac_trunk", "organ_aorta_T264",
             "sinotubular_junction", "superior_mesenteric_artery", "renal_arteries"]
    shown = [display_colors({n: 1}, None)[n] for n in names]
    assert len(set(shown)) == len(names)
    assert display_colors({"x": 1}, None) == display_colors({"x": 1}, None)  # stable
    multi = display_colors({"a": 1, "b": 2, "c": 3}, None)  # labels of one mask: still Kelly's, by value
    assert len(set(multi.values())) == 3
