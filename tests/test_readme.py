"""The README's Python examples run as written, each on its own (a reader copies one block)."""
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[tuple[int, str]]:
    """(line number, code) of every ```python block of the README."""
    text = README.read_text()
    return [(text.count("\n", 0, m.start()) + 2, m.group(1))
            for m in re.finditer(r"```python\n(.*?)```", text, flags=re.S)]


def test_readme_has_python_examples():
    assert _blocks(), "README has no python example"


@pytest.mark.parametrize("line,block", _blocks(), ids=[f"line{n}" for n, _ in _blocks()])
def test_readme_python_block_runs_alone(line, block, tmp_path, monkeypatch):
    """A fresh namespace and folder per block: a block that uses a name another block imported fails."""
    monkeypatch.chdir(tmp_path)
    code = "\n" * (line - 1) + block  # tracebacks point at the README's own line numbers
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_readme_starts_with_the_two_commands():
    lines = [l for l in README.read_text().splitlines() if l.strip()]
    code = lines[lines.index("```bash") + 1: lines.index("```bash") + 3]
    assert code[0].startswith("make demo") and code[1].startswith("make test")
