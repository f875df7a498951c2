"""The README's Python examples run as written."""
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run_each_alone(tmp_path, monkeypatch):
    """Users copy one block, not the page: each runs in a fresh namespace and an empty folder
    (two blocks once passed only because an earlier one had imported MaskArchive and written organs.mska)."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    for i, block in enumerate(blocks):
        folder = tmp_path / f"block{i}"
        folder.mkdir()
        monkeypatch.chdir(folder)
        exec(compile(block, f"{README} (python block {i + 1})", "exec"), {})


def test_readme_starts_with_the_two_commands():
    lines = [l for l in README.read_text().splitlines() if l.strip()]
    code = lines[lines.index("```bash") + 1: lines.index("```bash") + 3]
    assert code[0].startswith("make demo") and code[1].startswith("make test")
