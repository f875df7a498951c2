"""medmask must stay free of Qt and napari: it is used on servers and in batch jobs."""
import subprocess
import sys


def test_medmask_imports_no_gui_toolkit():
    code = ("import sys, medmask, medmask.convert, medmask.cli, medmask.batch, medmask.sample; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'napari', 'qtpy', 'PyQt6', 'PyQt5', 'PySide6', 'vispy', 'magicgui'}); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
