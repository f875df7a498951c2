"""Issue 18.3 / 19.5: one distinct colour per structure; touching structures differ; a user's colours are kept."""
from __future__ import annotations

import itertools

from medmask.core.colors import (DISTINCT, TOTALSEG_COLORS, TOTALSEG_CYCLE, default_color, delta_e, display_color,
                                 is_generated_color)
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


def test_display_color_keeps_user_colours_and_replaces_totalsegmentators_cycle():
    mine = (0.1, 0.2, 0.3, 1.0)
    assert display_color("liver", 5, mine) == mine
    cycle5 = tuple(c / 255 for c in TOTALSEG_CYCLE[5]) + (1.0,)
    assert is_generated_color(5, cycle5) and not is_generated_color(6, cycle5)
    assert display_color("liver", 5, cycle5) == default_color("liver")
    assert display_color("liver", 6, cycle5) == cycle5  # the same colour on another label was chosen
    assert display_color("liver", 5, None) == default_color("liver")
