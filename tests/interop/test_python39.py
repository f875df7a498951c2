"""3D Slicer 5.0-5.8 runs Python 3.9: medmask (not the napari plugin) must stay 3.9-compatible.

Checked on every module: 3.9 grammar (no ``match``, no parenthesised context managers),
and ``X | Y`` annotations only under ``from __future__ import annotations`` (so they are
never evaluated). Runtime 3.10-only calls are not caught here; the suite was run under
Python 3.9 once (docs/interop.md says how).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "medmask"
FILES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_is_python_39(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, feature_version=(3, 9))
    future = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and
                 any(a.name == "annotations" for a in n.names) for n in tree.body)
    if future:
        return
    for node in ast.walk(tree):
        ann = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            ann = [a.annotation for a in node.args.args + node.args.kwonlyargs if a.annotation] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            ann = [node.annotation]
        for a in ann:
            if a is not None and any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr) for n in ast.walk(a)):
                pytest.fail(f"{path.name}:{a.lineno}: 'X | Y' annotation without 'from __future__ import annotations'")
