"""Name <-> label mapping of one label array."""
from __future__ import annotations

from typing import Iterator, Mapping

from ..errors import LabelError


class LabelMapping:
    """A bijection between organ names and positive integer labels.

    Behaves like a ``dict`` name -> label (``mapping["liver"]``, ``in``, iteration,
    ``items()``), with ``inverse(label)`` for the other direction and attribute
    access (``mapping.liver``) as the original medmask offered.
    """

    __slots__ = ("_name_to_label", "_label_to_name")

    def __init__(self, name_to_label: Mapping[str, int] | None = None):
        object.__setattr__(self, "_name_to_label", {})
        object.__setattr__(self, "_label_to_name", {})
        for name, label in (name_to_label or {}).items():
            self[name] = label

    @classmethod
    def _from_checked(cls, name_to_label: dict[str, int]) -> "LabelMapping":
        """A mapping from a dict already known to be a valid bijection (an index record's, checked
        when its row was read): no per-name re-check when every entry of an archive is read."""
        self = cls.__new__(cls)
        object.__setattr__(self, "_name_to_label", dict(name_to_label))
        object.__setattr__(self, "_label_to_name", {v: k for k, v in name_to_label.items()})
        return self

    # dict-like -----------------------------------------------------------------
    def __getitem__(self, name: str) -> int:
        try:
            return self._name_to_label[name]
        except KeyError:
            raise LabelError(f"no label named {name!r}; known names: {sorted(self._name_to_label)}") from None

    def __setitem__(self, name: str, label: int) -> None:
        if not isinstance(name, str) or not name:
            raise LabelError(f"label name must be a non-empty string, got {name!r}")
        label = _as_label(label)
        if label in self._label_to_name and self._label_to_name[label] != name:
            raise LabelError(f"label {label} is already named {self._label_to_name[label]!r}, cannot also name it {name!r}")
        old = self._name_to_label.get(name)
        if old is not None and old != label:
            del self._label_to_name[old]
        self._name_to_label[name] = label
        self._label_to_name[label] = name

    def __delitem__(self, name: str) -> None:
        label = self[name]
        del self._name_to_label[name]
        del self._label_to_name[label]

    def __contains__(self, name: object) -> bool:
        return name in self._name_to_label

    def __iter__(self) -> Iterator[str]:
        return iter(self._name_to_label)

    def __len__(self) -> int:
        return len(self._name_to_label)

    def keys(self):
        return self._name_to_label.keys()

    def values(self):
        return self._name_to_label.values()

    def items(self):
        return self._name_to_label.items()

    def get(self, name: str, default=None):
        return self._name_to_label.get(name, default)

    # the other direction ----------------------------------------------------------
    def inverse(self, label: int) -> str:
        try:
            return self._label_to_name[int(label)]
        except KeyError:
            raise LabelError(f"no name for label {label}; known labels: {sorted(self._label_to_name)}") from None

    def has_label(self, label: int) -> bool:
        return int(label) in self._label_to_name

    @property
    def labels(self) -> list[int]:
        return list(self._label_to_name)

    @property
    def max_label(self) -> int:
        return max(self._label_to_name, default=0)

    # attribute access: mapping.liver ------------------------------------------------
    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._name_to_label[name]
        except KeyError:
            raise AttributeError(f"LabelMapping has no name {name!r}") from None

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError("LabelMapping is changed with mapping[name] = label")

    # conversions ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, int]:
        return dict(self._name_to_label)

    def copy(self) -> "LabelMapping":
        return LabelMapping(self._name_to_label)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LabelMapping):
            return self._name_to_label == other._name_to_label
        if isinstance(other, Mapping):
            return self._name_to_label == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"LabelMapping({self._name_to_label!r})"

    def __getstate__(self):
        return self._name_to_label

    def __setstate__(self, state):
        object.__setattr__(self, "_name_to_label", {})
        object.__setattr__(self, "_label_to_name", {})
        for n, v in state.items():
            self[n] = v


def _as_label(label) -> int:
    try:
        value = int(label)
    except (TypeError, ValueError):
        raise LabelError(f"label must be an integer, got {label!r}") from None
    if value != label or value <= 0:
        raise LabelError(f"label must be a positive integer (0 is background), got {label!r}")
    return value
