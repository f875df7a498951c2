"""``pip install medmask`` alone: .msk/.mska work; conversions name the extra that is missing.

Each test runs a fresh interpreter in which the optional packages cannot be imported
(``sys.modules[name] = None`` makes ``import name`` raise ImportError), as on a machine
where they were never installed.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import pytest

from interop_helpers import REPO, write_multilabel

OPTIONAL = ("nibabel", "nrrd", "tqdm")


def run_without(modules, code: str, *, cwd) -> subprocess.CompletedProcess:
    prelude = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def cli_without(modules, *args, cwd) -> subprocess.CompletedProcess:
    return run_without(modules, f"from medmask.cli import main\nsys.exit(main({list(map(str, args))!r}))", cwd=cwd)


def test_core_reads_and_writes_without_any_extra(tmp_path):
    proc = run_without(OPTIONAL, """
        import numpy as np
        import medmask, medmask.convert, medmask.cli, medmask.batch
        from medmask import MaskArchive, SegmentationMask, axial_space, load_mask, save_mask
        space = axial_space((4, 5, 6), spacing=(2.0, 0.5, 0.7))
        arr = np.zeros((4, 5, 6), np.uint8); arr[1:3, 2:4, 1:5] = 2
        m = SegmentationMask(arr, {"liver": 2}, space=space)
        save_mask(m, "a.msk")
        assert np.array_equal(load_mask("a.msk").data, arr)
        with MaskArchive("b.mska", mode="w", space=space) as a:
            a.add_segmask(m, "organs")
        with MaskArchive("b.mska") as a:
            assert np.array_equal(a.load_segmask("organs").data, arr)
        loaded = sorted(n for n in ("nibabel", "nrrd", "tqdm") if sys.modules.get(n) is not None)
        print("ok", loaded)
    """, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok []"
    for args in (["info", "b.mska"], ["verify", "a.msk", "b.mska"], ["extract", "b.mska", "organs", "-o", "c.msk"],
                 ["convert", "a.msk", "d.mska"]):
        proc = cli_without(OPTIONAL, *args, cwd=tmp_path)
        assert proc.returncode == 0, (args, proc.stderr)


@pytest.mark.parametrize("args, module, extra", [
    (["convert", "ml.nii.gz", "ml.msk"], "nibabel", "medmask[nifti]"),
    (["convert", "a.msk", "a.nii.gz"], "nibabel", "medmask[nifti]"),
    (["convert", "a.msk", "a.seg.nrrd"], "nrrd", "medmask[slicer]"),
    (["batch", "cases", "out"], "nibabel", "medmask[nifti]"),
])
def test_cli_names_the_missing_extra_in_one_line(tmp_path, args, module, extra):
    import numpy as np

    from medmask import SegmentationMask, axial_space, save_mask

    write_multilabel(tmp_path / "ml.nii.gz", "oblique")
    (tmp_path / "cases" / "c1").mkdir(parents=True)
    shutil.copy(tmp_path / "ml.nii.gz", tmp_path / "cases" / "c1" / "ml.nii.gz")
    arr = np.zeros((3, 4, 5), np.uint8)
    arr[1, 1:3, 2:4] = 1
    save_mask(SegmentationMask(arr, {"liver": 1}, space=axial_space((3, 4, 5))), tmp_path / "a.msk")
    proc = cli_without([module], *args, cwd=tmp_path)
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("medmask: error:") and f"pip install '{extra}'" in err and repr(module) in err, err
    assert not (tmp_path / "out").exists()  # batch stops before creating anything


def test_core_dependencies_are_the_three_format_packages():
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = sorted(d.split(">")[0].split("=")[0].split("[")[0].strip() for d in meta["dependencies"])
    assert core == ["numpy", "spacetransformer-core", "zstandard"]
    extras = meta["optional-dependencies"]
    assert any(d.startswith("nibabel") for d in extras["nifti"])
    assert any(d.startswith("pynrrd") for d in extras["slicer"])
    for bundle in ("napari", "test"):  # the plugin and the test suite pull the conversions in
        assert "medmask[nifti,slicer]" in extras[bundle]
