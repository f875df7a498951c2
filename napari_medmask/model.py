"""Qt-free state of the "MedMask archive" dock widget.

:class:`ArchiveModel` knows the entries of one archive (name, voxel count,
volume), which are shown, which have unsaved edits, how they are grouped and
what the search box filters. The Qt widget only renders it and forwards clicks;
the session (``napari_medmask.session``) listens to it and creates, shows and
hides layers. Everything here is plain Python and tested without Qt.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

__all__ = ["EntryRow", "Node", "ArchiveModel", "group_key", "group_names", "natural_key"]

_SERIES = re.compile(r"^(?P<prefix>.+?)_(?P<index>[A-Za-z]{0,2}\d+)$")
_SIDE = re.compile(r"^(?P<prefix>.+)_(?P<side>left|right)$")


def natural_key(text: str):
    """Sort key with numbers compared as numbers: rib_2 < rib_10."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", text) if t]


def group_key(name: str) -> str | None:
    """The pattern a name may be grouped under, or None.

    ``rib_left_3`` -> ``rib_left_*``, ``vertebrae_T7`` -> ``vertebrae_*``,
    ``kidney_left`` -> ``kidney_left/_right``. Numbered series win over sides.
    """
    m = _SERIES.match(name)
    if m:
        return f"{m['prefix']}_*"
    m = _SIDE.match(name)
    if m:
        return f"{m['prefix']}_left/_right"
    return None


def group_names(names: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """Split names into {pattern: members} (groups of two or more) and the ungrouped rest."""
    buckets: dict[str, list[str]] = {}
    order: list[str] = []
    for n in names:
        k = group_key(n)
        if k is None:
            order.append(n)
            continue
        buckets.setdefault(k, []).append(n)
    groups = {}
    rest = list(order)
    for k, members in buckets.items():
        if len(members) >= 2:
            groups[k] = sorted(members, key=natural_key)
        else:
            rest.extend(members)
    return groups, rest


@dataclass
class EntryRow:
    """One row of the list: an archive entry, or one label (organ) of a multi-label entry.

    ``name`` is the row's unique key and its text: the entry name, or for a label of a
    multi-label entry the label name (``entry: label`` when another row has that name), so
    search and grouping treat an organ of a TotalSegmentator ``--ml`` entry like an entry.
    """

    name: str
    voxels: int = 0
    volume_ml: float = 0.0
    labels: dict[str, int] = field(default_factory=dict)
    colors: list = field(default_factory=list)  # display colours (rgba) of its labels, in label order
    visible: bool = False
    loaded: bool = False  # a layer exists for it
    dirty: bool = False  # the layer has edits not yet saved
    entry: str = ""  # archive entry of the row ("" = ``name``)
    label: str = ""  # label of a multi-label entry this row is ("" = the whole entry)
    value: int = 0  # that label's value

    @property
    def empty(self) -> bool:
        return self.voxels == 0

    @property
    def entry_name(self) -> str:
        return self.entry or self.name

    @property
    def title(self) -> str:
        """The row's item title in the composite (``Item.title``): ``entry`` or ``entry: label``."""
        return f"{self.entry_name}: {self.label}" if self.label else self.entry_name


@dataclass
class Node:
    """A row of the tree: a group (with children) or an entry."""

    kind: str  # "group" | "entry"
    key: str  # group pattern or entry name
    children: list["Node"] = field(default_factory=list)


Listener = Callable[[str, list[str]], None]


class ArchiveModel:
    """Entries, visibility, dirty flags, grouping and search filter of one archive.

    Listeners are called as ``listener(event, names)`` with event one of
    ``"visibility"`` (names whose visibility changed), ``"dirty"``, ``"filter"``,
    ``"grouping"``, ``"entries"``. Empty entries (96 of TotalSegmentator's 117 on a
    partial scan) sort after the others and can be left out with ``set_show_empty``.
    """

    def __init__(self, entries: Iterable[EntryRow] = (), *, grouping: bool = True, path: str | None = None):
        self.path = path
        self.entries: dict[str, EntryRow] = {}
        for e in entries:
            self.entries[e.name] = e
        self.grouping = grouping
        self.filter_text = ""
        self.show_empty = True
        self._listeners: list[Listener] = []
        self._groups: dict[str, list[str]] | None = None  # cache of group_names (entries, grouping)
        self._group_of: dict[str, str] = {}

    # listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: str, names: list[str]) -> None:
        for listener in list(self._listeners):
            listener(event, names)

    # entries -------------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[EntryRow]:
        return iter(self.entries.values())

    def __getitem__(self, name: str) -> EntryRow:
        return self.entries[name]

    def add_entry(self, row: EntryRow) -> None:
        self.entries[row.name] = row
        self._groups = None
        self._emit("entries", [row.name])

    def update_counts(self, name: str, voxels: int, volume_ml: float) -> None:
        row = self.entries[name]
        row.voxels, row.volume_ml = int(voxels), float(volume_ml)
        self._emit("entries", [name])

    # filtering -------------------------------------------------------------------------------
    def set_filter(self, text: str) -> None:
        text = (text or "").strip()
        if text != self.filter_text:
            self.filter_text = text
            self._emit("filter", self.visible_names_in_filter())

    def matches(self, name: str) -> bool:
        """Does ``name`` pass the search box? Glob (``rib_*_3``) or case-insensitive substrings.

        Several words must all match (``rib left`` finds ``rib_left_1``).
        """
        text = self.filter_text.lower()
        if not text:
            return True
        low = name.lower()
        if any(ch in text for ch in "*?["):
            return fnmatch.fnmatchcase(low, text)
        return all(word in low for word in text.replace(",", " ").split())

    def set_show_empty(self, on: bool) -> None:
        if bool(on) != self.show_empty:
            self.show_empty = bool(on)
            self._emit("filter", self.visible_names_in_filter())

    def filtered_names(self) -> list[str]:
        return [n for n, r in self.entries.items() if self.matches(n) and (self.show_empty or not r.empty)]

    def visible_names_in_filter(self) -> list[str]:
        return [n for n in self.filtered_names() if self.entries[n].visible]

    # grouping ---------------------------------------------------------------------------------
    def set_grouping(self, on: bool) -> None:
        if bool(on) != self.grouping:
            self.grouping = bool(on)
            self._groups = None
            self._emit("grouping", [])

    def groups(self) -> dict[str, list[str]]:
        """All groups over all entries (independent of the filter); cached until entries/grouping change."""
        if not self.grouping:
            return {}
        if self._groups is None:
            self._groups = group_names(self.entries)[0]
            self._group_of = {m: k for k, members in self._groups.items() for m in members}
        return self._groups

    def group_of(self, name: str) -> str | None:
        if not self.grouping:
            return None
        self.groups()
        return self._group_of.get(name)

    def groups_of(self, names: Iterable[str]) -> list[str]:
        """The groups holding any of ``names`` (each once, in first-seen order)."""
        out: dict[str, None] = {}
        for n in names:
            k = self.group_of(n)
            if k is not None:
                out[k] = None
        return list(out)

    def tree(self) -> list[Node]:
        """Rows to show, filtered, sorted naturally; groups hold their matching members."""
        names = self.filtered_names()
        if not self.grouping:
            return [Node("entry", n) for n in sorted(names, key=self._sort_key)]
        groups = self.groups()
        rest = [n for n in self.entries if n not in self._group_of]
        keep = set(names)
        nodes: list[Node] = []
        for key, members in groups.items():
            shown = [m for m in members if m in keep]
            if shown:
                nodes.append(Node("group", key, [Node("entry", m) for m in shown]))
        nodes.extend(Node("entry", n) for n in rest if n in keep)
        nodes.sort(key=lambda nd: (all(self.entries[c.key].empty for c in nd.children),
                                   natural_key(nd.key)) if nd.kind == "group" else self._sort_key(nd.key))
        return nodes

    def _sort_key(self, name: str):
        """Entries with voxels first, then empty ones; each part in natural order."""
        return (self.entries[name].empty, natural_key(name))

    def group_members(self, key: str, *, filtered: bool = True) -> list[str]:
        members = self.groups().get(key, [])
        if not filtered or not self.filter_text:
            return list(members)
        return [m for m in members if self.matches(m)]

    def group_state(self, key: str) -> str:
        """``"checked"``, ``"unchecked"`` or ``"partial"`` over the members the filter shows."""
        members = self.group_members(key) or self.group_members(key, filtered=False)
        members = [m for m in members if not self.entries[m].empty] or members
        shown = sum(self.entries[m].visible for m in members)
        if shown == 0:
            return "unchecked"
        return "checked" if shown == len(members) else "partial"

    def group_totals(self, key: str) -> tuple[int, float]:
        members = self.group_members(key, filtered=False)
        return (sum(self.entries[m].voxels for m in members),
                sum(self.entries[m].volume_ml for m in members))

    # visibility ---------------------------------------------------------------------------------
    def set_visible(self, name: str, visible: bool) -> list[str]:
        return self.set_many({name: visible})

    def set_many(self, changes: dict[str, bool]) -> list[str]:
        changed = []
        for name, vis in changes.items():
            row = self.entries[name]
            if row.visible != bool(vis):
                row.visible = bool(vis)
                changed.append(name)
        if changed:
            self._emit("visibility", changed)
        return changed

    def set_group_visible(self, key: str, visible: bool) -> list[str]:
        """Show/hide the group's members that pass the filter (all of them if none does).

        Showing skips empty entries (nothing to draw); check those one by one to paint them.
        """
        members = self.group_members(key) or self.group_members(key, filtered=False)
        if visible:
            members = [m for m in members if not self.entries[m].empty]
        return self.set_many({m: visible for m in members})

    def show_all(self) -> list[str]:
        """Show every entry the filter lets through (empty entries have nothing to show)."""
        return self.set_many({n: True for n in self.filtered_names() if not self.entries[n].empty})

    def hide_all(self) -> list[str]:
        return self.set_many({n: False for n in self.filtered_names()})

    def visible_names(self) -> list[str]:
        return [n for n, r in self.entries.items() if r.visible]

    # edits -----------------------------------------------------------------------------------------
    def set_dirty(self, name: str, dirty: bool = True) -> None:
        row = self.entries[name]
        if row.dirty != bool(dirty):
            row.dirty = bool(dirty)
            self._emit("dirty", [name])

    def dirty_names(self) -> list[str]:
        return [n for n, r in self.entries.items() if r.dirty]

    # persistence of the UI state (plain dict) ---------------------------------------------------------
    def state(self) -> dict:
        return {"visible": self.visible_names(), "grouping": self.grouping, "filter": self.filter_text,
                "show_empty": self.show_empty}

    def restore(self, state: dict) -> None:
        self.set_grouping(state.get("grouping", True))
        self.set_filter(state.get("filter", ""))
        self.set_show_empty(state.get("show_empty", True))
        wanted = set(state.get("visible", []))
        self.set_many({n: n in wanted for n in self.entries})
