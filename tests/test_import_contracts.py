"""The layers, kept by a test: which module may import which (read from the source, not run).

- ``medmask.format`` is bytes in, bytes out: it never imports ``medmask.storage`` or the model
  objects (``medmask.core.segmask``, ``medmask.core.mapping``).
- ``medmask`` never imports Qt or napari (it runs on servers and in batch jobs).
- the plugin's I/O modules (readers, writer, sample data) never import its Qt widgets (``_qt``),
  directly or through other plugin modules.
- no import cycles inside ``medmask`` (function-level imports count too).

Every import is counted, at module level or inside a function.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUI = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy", "magicgui", "superqt")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules(package: str) -> dict[str, Path]:
    return {_module_name(p): p for p in (ROOT / package).rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Absolute names of everything ``path`` imports (resolved to modules where they are modules)."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in known)
    return out


MEDMASK = _modules("medmask")
PLUGIN = _modules("napari_medmask")
KNOWN = set(MEDMASK) | set(PLUGIN)
GRAPH = {n: _imports(n, p, KNOWN) for n, p in {**MEDMASK, **PLUGIN}.items()}


def _under(mod: str, prefix: str) -> bool:
    return mod == prefix or mod.startswith(prefix + ".")


def _violations(importers, forbidden) -> list[str]:
    return sorted(f"{m} imports {i}" for m in importers for i in GRAPH[m] if any(_under(i, f) for f in forbidden))


def test_the_resolver_sees_imports():
    # guards the other tests against passing because nothing was parsed
    assert "medmask.format.v2" in GRAPH["medmask.storage.container_v2"]
    assert "medmask.storage.archive" in GRAPH["medmask"]


def test_format_layer_is_pure():
    fmt = [m for m in MEDMASK if _under(m, "medmask.format")]
    assert _violations(fmt, ("medmask.storage", "medmask.core.segmask", "medmask.core.mapping",
                             "medmask.convert", "medmask.cli", "medmask.batch")) == []


def test_codecs_know_no_files_or_models():
    codecs = [m for m in MEDMASK if _under(m, "medmask.codecs")]
    assert _violations(codecs, ("medmask.storage", "medmask.format", "medmask.core.segmask")) == []


def test_medmask_never_imports_gui():
    assert _violations(MEDMASK, GUI + ("napari_medmask",)) == []


PLUGIN_IO = ("napari_medmask._reader", "napari_medmask._writer", "napari_medmask._sample")


@pytest.mark.parametrize("io_module", PLUGIN_IO)
def test_plugin_io_never_imports_qt(io_module):
    assert io_module in PLUGIN, f"{io_module} moved: update PLUGIN_IO"
    seen, todo = set(), [io_module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(i for i in GRAPH.get(m, ()) if i in PLUGIN)
    assert sorted(m for m in seen if _under(m, "napari_medmask._qt")) == []


def _cycles(nodes: set[str]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in nodes or w == v:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_in_medmask():
    # package __init__ files re-export their children; an edge into a package is not a cycle
    nodes = {m for m, p in MEDMASK.items() if p.name != "__init__.py"}
    assert _cycles(nodes) == []


def test_no_import_cycles_in_the_plugin():
    nodes = {m for m, p in PLUGIN.items() if p.name != "__init__.py"}
    assert _cycles(nodes) == []
