import pickle

import pytest

from medmask import LabelError, LabelMapping


def test_dict_like_and_inverse():
    m = LabelMapping({"liver": 1, "spleen": 2})
    assert m["liver"] == 1 and m.spleen == 2
    assert m.inverse(2) == "spleen"
    assert "liver" in m and "heart" not in m
    assert list(m) == ["liver", "spleen"] and len(m) == 2
    assert dict(m.items()) == {"liver": 1, "spleen": 2}
    assert m == {"liver": 1, "spleen": 2} and m == LabelMapping({"liver": 1, "spleen": 2})
    assert m.max_label == 2


def test_unknown_names_and_labels_name_the_value():
    m = LabelMapping({"liver": 1})
    with pytest.raises(LabelError, match="heart"):
        m["heart"]
    with pytest.raises(LabelError, match="7"):
        m.inverse(7)
    with pytest.raises(AttributeError):
        m.heart


@pytest.mark.parametrize("bad", [0, -1, 1.5, "x", None])
def test_rejects_bad_labels(bad):
    with pytest.raises(LabelError):
        LabelMapping({"a": bad})


def test_label_cannot_have_two_names():
    m = LabelMapping({"a": 1})
    with pytest.raises(LabelError, match="already named 'a'"):
        m["b"] = 1


def test_relabel_and_delete_keep_inverse_consistent():
    m = LabelMapping({"a": 1})
    m["a"] = 5
    assert m.inverse(5) == "a" and not m.has_label(1)
    del m["a"]
    assert len(m) == 0 and not m.has_label(5)


def test_pickle_roundtrip():
    m = LabelMapping({"a": 1, "b": 3})
    assert pickle.loads(pickle.dumps(m)) == m
