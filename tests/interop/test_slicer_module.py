"""The 3D Slicer scripted module, run against a stand-in for Slicer's Python API."""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.convert._geometry import space_from_ras_affine

from interop_helpers import SHAPE_IJK, make_affine

MODULE = Path(__file__).resolve().parents[2] / "slicer" / "MedMask" / "MedMask.py"


@pytest.fixture
def fake_slicer(monkeypatch):
    loaded = {}

    class Node:
        def GetID(self):
            return "vtkMRMLSegmentationNode1"

    def load_segmentation(path, properties=None):
        import slicerio

        loaded["seg"] = slicerio.read_segmentation(path)  # read while the temp file exists
        loaded["properties"] = properties
        return Node()

    slicer = types.ModuleType("slicer")
    slicer.util = types.SimpleNamespace(loadSegmentation=load_segmentation, errorDisplay=lambda m: loaded.setdefault("error", m),
                                        pip_install=lambda *a: None)
    slm = types.ModuleType("slicer.ScriptedLoadableModule")

    class ScriptedLoadableModule:
        def __init__(self, parent):
            self.parent = parent

    slm.ScriptedLoadableModule = ScriptedLoadableModule
    slicer.ScriptedLoadableModule = slm
    monkeypatch.setitem(sys.modules, "slicer", slicer)
    monkeypatch.setitem(sys.modules, "slicer.ScriptedLoadableModule", slm)
    spec = importlib.util.spec_from_file_location("MedMask", MODULE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, loaded


def test_reader_loads_an_archive_as_a_segmentation(tmp_path, fake_slicer):
    pytest.importorskip("slicerio")
    mod, loaded = fake_slicer
    space = space_from_ras_affine(make_affine("oblique"), SHAPE_IJK)
    a = np.zeros(tuple(space.shape), bool)
    a[2:6, 3:9, 4:8] = True
    with MaskArchive(tmp_path / "case.mska", mode="w", space=space) as ar:
        ar.add_segmask(SegmentationMask(a, {"liver": 1}, space=space), "liver")
        ar.add_segmask(SegmentationMask(a.copy(), {"copy": 1}, space=space), "copy")
    parent = types.SimpleNamespace()
    reader = mod.MedMaskFileReader(parent)
    assert reader.canLoadFile(str(tmp_path / "case.mska")) and not reader.canLoadFile("x.nii.gz")
    assert reader.load({"fileName": str(tmp_path / "case.mska")})
    assert parent.loadedNodes == ["vtkMRMLSegmentationNode1"]
    assert [s["name"] for s in loaded["seg"]["segments"]] == ["liver", "copy"]
    assert loaded["seg"]["voxels"].ndim == 4  # overlapping entries: two layers
    assert loaded["properties"] == {"name": "case"}


def test_reader_reports_a_bad_file(tmp_path, fake_slicer):
    mod, loaded = fake_slicer
    (tmp_path / "bad.msk").write_bytes(b"garbage")
    reader = mod.MedMaskFileReader(types.SimpleNamespace())
    assert reader.load({"fileName": str(tmp_path / "bad.msk")}) is False
    assert "bad.msk" in loaded["error"]


def test_module_metadata(fake_slicer):
    mod, _ = fake_slicer
    parent = types.SimpleNamespace()
    mod.MedMask(parent)
    assert parent.title == "MedMask"
