"""The widget's Qt-free state model, colours, phantom and geometry helpers: no Qt here."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from napari_medmask.model import ArchiveModel, EntryRow, group_key, group_names, natural_key


def _model(names, **kw):
    return ArchiveModel([EntryRow(n, voxels=10 * (i + 1), volume_ml=0.1 * (i + 1)) for i, n in enumerate(names)], **kw)


NAMES = ["liver", "kidney_left", "kidney_right", "rib_left_1", "rib_left_2", "rib_left_10", "rib_right_1",
         "rib_right_2", "vertebrae_C1", "vertebrae_T12", "vertebrae_L5", "ribs_left", "ribs_right", "ribs_all",
         "lung_upper_lobe_left", "heart"]


def test_model_module_does_not_import_qt():
    import importlib
    import subprocess

    code = ("import sys, napari_medmask.model, medmask.core.colors, medmask.sample;"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('qtpy','PyQt6','PyQt5','PySide6','napari')];"
            "print(bad); sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    importlib.import_module("napari_medmask.model")


@pytest.mark.parametrize("name,key", [
    ("rib_left_3", "rib_left_*"), ("vertebrae_T7", "vertebrae_*"), ("vertebrae_C1", "vertebrae_*"),
    ("kidney_left", "kidney_left/_right"), ("ribs_all", None), ("liver", None),
    ("lung_upper_lobe_left", "lung_upper_lobe_left/_right"), ("gluteus_maximus_right", "gluteus_maximus_left/_right"),
])
def test_group_key(name, key):
    assert group_key(name) == key


def test_group_names_needs_two_members_and_sorts_naturally():
    groups, rest = group_names(NAMES)
    assert groups["rib_left_*"] == ["rib_left_1", "rib_left_2", "rib_left_10"]
    assert groups["vertebrae_*"] == ["vertebrae_C1", "vertebrae_L5", "vertebrae_T12"]
    assert groups["kidney_left/_right"] == ["kidney_left", "kidney_right"]
    assert groups["ribs_left/_right"] == ["ribs_left", "ribs_right"]
    assert "lung_upper_lobe_left" in rest and "liver" in rest and "ribs_all" in rest
    assert natural_key("rib_2") < natural_key("rib_10")


def test_tree_grouped_and_flat():
    m = _model(NAMES)
    keys = [(n.kind, n.key) for n in m.tree()]
    assert ("group", "rib_left_*") in keys and ("entry", "liver") in keys
    assert all(n.kind == "entry" for n in m.tree() if n.key == "heart")
    m.set_grouping(False)
    assert [n.kind for n in m.tree()] == ["entry"] * len(NAMES)


def test_search_filter_words_and_glob():
    m = _model(NAMES)
    m.set_filter("rib left")
    assert set(m.filtered_names()) == {"rib_left_1", "rib_left_2", "rib_left_10", "ribs_left"}
    m.set_filter("rib_*_1")
    assert set(m.filtered_names()) == {"rib_left_1", "rib_right_1"}
    m.set_filter("KIDNEY")
    tree = m.tree()
    assert len(tree) == 1 and tree[0].kind == "group" and len(tree[0].children) == 2
    m.set_filter("")
    assert len(m.filtered_names()) == len(NAMES)


def test_group_toggle_states_and_events():
    m = _model(NAMES)
    events = []
    m.subscribe(lambda ev, names: events.append((ev, tuple(names))))
    assert m.group_state("rib_left_*") == "unchecked"
    changed = m.set_group_visible("rib_left_*", True)
    assert changed == ["rib_left_1", "rib_left_2", "rib_left_10"]
    assert m.group_state("rib_left_*") == "checked"
    m.set_visible("rib_left_2", False)
    assert m.group_state("rib_left_*") == "partial"
    assert events[0] == ("visibility", ("rib_left_1", "rib_left_2", "rib_left_10"))
    assert m.set_visible("rib_left_1", True) == []  # no change, no event
    # a filter narrows what the group checkbox toggles
    m.set_filter("rib_left_1")
    m.set_group_visible("rib_left_*", False)
    assert m["rib_left_1"].visible is False and m["rib_left_10"].visible is False
    assert m.group_totals("kidney_left/_right") == (20 + 30, pytest.approx(0.5))


def test_group_show_skips_empty_members():
    m = _model(["rib_left_1", "rib_left_2", "rib_left_3"])
    m["rib_left_3"].voxels = 0
    assert m.set_group_visible("rib_left_*", True) == ["rib_left_1", "rib_left_2"]
    assert m.group_state("rib_left_*") == "checked"
    m.set_visible("rib_left_3", True)  # one by one, an empty entry can be shown (to paint it)
    assert m.set_group_visible("rib_left_*", False) == ["rib_left_1", "rib_left_2", "rib_left_3"]


def test_show_all_hide_all_respect_filter_and_skip_empty():
    m = _model(NAMES)
    m.add_entry(EntryRow("empty_one", voxels=0))
    m.set_filter("vertebrae")
    m.show_all()
    assert set(m.visible_names()) == {"vertebrae_C1", "vertebrae_T12", "vertebrae_L5"}
    m.set_filter("")
    m.show_all()
    assert "empty_one" not in m.visible_names() and len(m.visible_names()) == len(NAMES)
    m.hide_all()
    assert m.visible_names() == []


def test_dirty_and_state_roundtrip():
    m = _model(NAMES)
    m.set_dirty("liver")
    assert m.dirty_names() == ["liver"]
    m.set_visible("heart", True)
    m.set_filter("he")
    m.set_grouping(False)
    state = m.state()
    assert state == {"visible": ["heart"], "grouping": False, "filter": "he", "show_empty": True}
    other = _model(NAMES)
    other.restore(state)
    assert other.state() == state
    m.set_dirty("liver", False)
    assert m.dirty_names() == []


# colours ----------------------------------------------------------------------------------------
def test_colors_table_and_fallback():
    from medmask.core.colors import TOTALSEG_COLORS, color_for

    assert len(TOTALSEG_COLORS) == 117
    assert color_for("liver") == pytest.approx((221 / 255, 130 / 255, 101 / 255, 1.0), abs=1e-6)
    assert color_for("Liver") == color_for("liver")
    a, b = color_for("my_tumour"), color_for("my_tumour")
    assert a == b and len(a) == 4 and all(0 <= v <= 1 for v in a)
    assert color_for("my_tumour") != color_for("my_tumor")
    assert color_for("rib_left_1") != color_for("rib_left_2")


# phantom -----------------------------------------------------------------------------------------
def test_phantom_is_deterministic_and_has_flipped_anisotropic_space():
    from medmask.sample import ENTRY_NAMES, make_phantom, phantom_space

    a = make_phantom(shape=(32, 40, 40))
    b = make_phantom(shape=(32, 40, 40))
    assert list(a) == list(ENTRY_NAMES) and len(a) >= 20
    for name in a:
        assert np.array_equal(a[name].data, b[name].data)
        assert a[name].bbox is not None, name
    s = phantom_space()
    assert len(set(s.spacing)) == 3 and any(v != 0 for v in s.origin)
    assert tuple(s.x_orientation) == (0.0, 0.0, -1.0)
    # group entries overlap their members
    rib = a["rib_left_3"].data.astype(bool)
    grp = a["ribs_all"]
    assert (grp.data[rib] == grp.mapping["rib_left_3"]).all()


def test_phantom_placement_flipped_axis():
    from medmask.sample import phantom_space
    from napari_medmask.frame import frame_for, placement

    s = phantom_space()
    p = placement(s, frame_for(s))
    assert p.scale == (2.5, 1.25, 1.75) and p.axes == (0, 1, 2)  # slices head to foot: along I
    assert p.translate == (-180.25, -95.5, -111.125)  # (I, P, L) of voxel (0, 0, 0): LPS (-111.125, -95.5, 180.25)


def test_group_cache_follows_entries_and_grouping():
    m = _model(["kidney_left", "liver"])
    assert m.groups() == {} and m.group_of("kidney_left") is None
    m.add_entry(EntryRow("kidney_right", voxels=5))
    assert m.group_of("kidney_left") == "kidney_left/_right"
    assert m.groups_of(["kidney_right", "liver", "kidney_left"]) == ["kidney_left/_right"]
    m.set_grouping(False)
    assert m.groups() == {} and m.groups_of(["kidney_left"]) == []


def test_empty_entries_sort_last_and_can_be_hidden():
    rows = [EntryRow("aorta", voxels=0, volume_ml=0.0), EntryRow("liver", voxels=50, volume_ml=1.0),
            EntryRow("kidney_left", voxels=0, volume_ml=0.0), EntryRow("kidney_right", voxels=0, volume_ml=0.0),
            EntryRow("rib_left_1", voxels=5, volume_ml=0.1), EntryRow("rib_left_2", voxels=0, volume_ml=0.0),
            EntryRow("brain", voxels=0, volume_ml=0.0)]
    m = ArchiveModel(rows)
    events = []
    m.subscribe(lambda e, names: events.append(e))
    assert [n.key for n in m.tree()] == ["liver", "rib_left_*", "aorta", "brain", "kidney_left/_right"]
    m.set_show_empty(False)
    assert events == ["filter"]
    tree = m.tree()
    assert [n.key for n in tree] == ["liver", "rib_left_*"]
    assert [c.key for c in tree[1].children] == ["rib_left_1"]
    m.set_grouping(False)
    assert [n.key for n in m.tree()] == ["liver", "rib_left_1"]
    state = m.state()
    m2 = ArchiveModel(rows)
    m2.restore(state)
    assert not m2.show_empty


def test_layer_to_mask_never_reuses_a_label_name():
    """A painted value whose default name is already taken gets another name; nothing is relabelled."""
    from medmask.core.geometry import space_to_dict
    from napari_medmask._layers import META_KEY, layer_to_mask
    from spacetransformer import Space

    data = np.zeros((2, 3, 4), np.uint8)
    data[0, 0, 0] = 1
    data[1, 1, 1] = 2
    meta = {"metadata": {META_KEY: {"space": space_to_dict(Space(shape=(2, 3, 4))), "offset": [0, 0, 0],
                                    "mapping": {"label_2": 1}, "dtype": "uint8"}}}
    mask = layer_to_mask(data, meta)
    assert mask.mapping["label_2"] == 1 and mask.mapping.inverse(2) == "label_2_"
    assert mask.voxel_counts() == {1: 1, 2: 1}
