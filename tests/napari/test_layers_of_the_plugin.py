"""The plugin's layers: reader/writer/model/session never import Qt or the dock; no import cycle."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "napari_medmask"


def _imports(path: Path) -> set[str]:
    """Modules of napari_medmask (and qtpy) a file imports, at any level (function bodies too)."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    base = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                pkg = base[: len(base) - node.level + 1]
                mod = ".".join(pkg + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return {m for m in out if m.startswith(("napari_medmask", "qtpy", "PyQt"))}


MODULES = {".".join(p.relative_to(PKG.parent).with_suffix("").parts): p for p in PKG.rglob("*.py")}
GRAPH = {m: {i for i in _imports(p) if i in MODULES or i.startswith(("qtpy", "PyQt"))} for m, p in MODULES.items()}


def test_the_graph_sees_imports():  # else the tests below would pass on nothing
    assert "napari_medmask.session" in GRAPH["napari_medmask._qt.archive_widget"]
    assert "qtpy.QtWidgets" in GRAPH["napari_medmask._qt.archive_widget"]
    assert "napari_medmask.composite" in GRAPH["napari_medmask._reader"]


def test_io_model_and_session_never_import_qt():
    plain = [m for m in MODULES if "._qt" not in m and not m.endswith(".demo")]
    bad = sorted(f"{m} imports {i}" for m in plain for i in GRAPH[m] if "._qt" in i or i.startswith(("qtpy", "PyQt")))
    assert bad == []
    assert "napari_medmask._reader" in plain and "napari_medmask.session" in plain


def test_no_import_cycle():
    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for nxt in GRAPH.get(todo.pop(), ()):
                if nxt in MODULES and nxt not in seen and not nxt.endswith("__init__"):
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted(m for m in MODULES if not m.endswith("__init__") and m in reach(m))
    assert cycles == []
    # the old one: _reader -> _qt.archive_widget -> session -> _reader
    assert "napari_medmask._qt.archive_widget" not in reach("napari_medmask._reader")
