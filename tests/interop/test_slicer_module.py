"""The 3D Slicer scripted module, run against a stand-in of the Slicer API it calls (5.0 signatures)."""
from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import pytest

from medmask import MaskArchive, SegmentationMask
from medmask.convert._geometry import space_from_ras_affine

from interop_helpers import SHAPE_IJK, make_affine

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "slicer" / "MedMask" / "MedMask.py"


class StorageNode:
    """vtkMRMLSegmentationStorageNode: GetFileName / SetFileName."""

    def __init__(self, filename):
        self._file = filename

    def GetFileName(self):
        return self._file

    def SetFileName(self, filename):
        self._file = filename


class SegmentationNode:
    """vtkMRMLSegmentationNode as loading a .seg.nrrd leaves it: a storage node pointing at that file."""

    def __init__(self, filename, name):
        self._storage = StorageNode(filename)
        self._name = name

    def GetID(self):
        return "vtkMRMLSegmentationNode1"

    def GetName(self):
        return self._name

    def SetName(self, name):
        self._name = name

    def GetStorageNode(self):
        return self._storage

    def AddDefaultStorageNode(self, filename=None):
        self._storage = StorageNode(filename)
        return True


@pytest.fixture
def slicer_api(monkeypatch):
    """``slicer`` as Slicer 5.0 has it, for what MedMask.py uses; records every call."""
    calls = {"pip": [], "load": [], "errors": [], "loadSegmentation": []}

    def loadNodeFromFile(filename, filetype, properties={}, returnNode=False):  # noqa: B006 - Slicer's signature
        import slicerio

        assert os.path.isfile(filename), "Slicer reads the file during the call"
        calls["load"].append((filename, filetype, dict(properties)))
        calls["seg"] = slicerio.read_segmentation(filename)
        node = SegmentationNode(filename, properties.get("name", Path(filename).name))
        return (True, node) if returnNode else node

    def loadSegmentation(filename, returnNode=False):  # 5.0: no properties argument
        calls["loadSegmentation"].append((filename, returnNode))
        return loadNodeFromFile(filename, "SegmentationFile", {}, returnNode)

    slicer = types.ModuleType("slicer")
    slicer.util = types.SimpleNamespace(loadNodeFromFile=loadNodeFromFile, loadSegmentation=loadSegmentation,
                                        errorDisplay=lambda m: calls["errors"].append(m),
                                        pip_install=lambda req: calls["pip"].append(req))
    slm = types.ModuleType("slicer.ScriptedLoadableModule")

    class ScriptedLoadableModule:
        def __init__(self, parent):
            self.parent = parent

    slm.ScriptedLoadableModule = ScriptedLoadableModule
    slicer.ScriptedLoadableModule = slm
    monkeypatch.setitem(sys.modules, "slicer", slicer)
    monkeypatch.setitem(sys.modules, "slicer.ScriptedLoadableModule", slm)
    saved = {k: v for k, v in sys.modules.items() if k == "medmask" or k.startswith("medmask.")}
    spec = importlib.util.spec_from_file_location("MedMask", MODULE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    yield mod, calls, slicer
    for k in [k for k in sys.modules if k == "medmask" or k.startswith("medmask.")]:
        del sys.modules[k]
    sys.modules.update(saved)  # the very module objects the other tests hold


def two_entry_archive(tmp_path) -> Path:
    space = space_from_ras_affine(make_affine("oblique"), SHAPE_IJK)
    a = np.zeros(tuple(space.shape), bool)
    a[2:6, 3:9, 4:8] = True
    path = tmp_path / "case dir" / "case.mska"  # a space in the folder, as on many Windows machines
    path.parent.mkdir()
    with MaskArchive(path, mode="w", space=space) as ar:
        ar.add_segmask(SegmentationMask(a, {"liver": 1}, space=space), "liver")
        ar.add_segmask(SegmentationMask(a.copy(), {"copy": 1}, space=space), "copy")
    return path


def test_reader_loads_an_archive_as_a_segmentation(tmp_path, slicer_api):
    pytest.importorskip("slicerio")
    mod, calls, _ = slicer_api
    path = two_entry_archive(tmp_path)
    parent = types.SimpleNamespace()
    reader = mod.MedMaskFileReader(parent)
    assert reader.canLoadFile(str(path)) and not reader.canLoadFile("x.nii.gz")
    before = set(os.listdir(tempfile.gettempdir()))
    assert reader.load({"fileName": str(path)}), calls["errors"]
    assert parent.loadedNodes == ["vtkMRMLSegmentationNode1"]
    assert [s["name"] for s in calls["seg"]["segments"]] == ["liver", "copy"]
    assert calls["seg"]["voxels"].ndim == 4  # overlapping entries: two layers
    (loaded_file, filetype, props), = calls["load"]
    assert filetype == "SegmentationFile" and props == {"name": "case"}
    assert calls["loadSegmentation"] == []  # its 2nd argument is returnNode in 5.0: not used
    assert not os.path.exists(loaded_file)  # the temporary copy is gone ...
    assert set(os.listdir(tempfile.gettempdir())) - before == set()


def test_storage_node_does_not_point_into_the_deleted_temp_folder(tmp_path, slicer_api):
    pytest.importorskip("slicerio")
    mod, calls, _ = slicer_api
    path = two_entry_archive(tmp_path)
    nodes = []
    real = sys.modules["slicer"].util.loadNodeFromFile

    def keep(*a, **k):
        node = real(*a, **k)
        nodes.append(node)
        return node

    sys.modules["slicer"].util.loadNodeFromFile = keep
    assert mod.MedMaskFileReader(types.SimpleNamespace()).load({"fileName": str(path)})
    (node,) = nodes
    target = node.GetStorageNode().GetFileName()
    assert target == str(path.parent / "case.seg.nrrd")  # Save proposes a file beside the archive
    assert os.path.isdir(os.path.dirname(target)) and node.GetName() == "case"


def test_reader_reports_a_bad_file(tmp_path, slicer_api):
    mod, calls, _ = slicer_api
    (tmp_path / "bad.msk").write_bytes(b"garbage")
    reader = mod.MedMaskFileReader(types.SimpleNamespace())
    assert reader.load({"fileName": str(tmp_path / "bad.msk")}) is False
    assert "bad.msk" in calls["errors"][0]


def test_installs_this_project_not_pypi(tmp_path, slicer_api, monkeypatch):
    """Slicer's Python holds PyPI's medmask 0.1.3 (no medmask.convert): the module installs the checkout."""
    pytest.importorskip("slicerio")
    mod, calls, slicer = slicer_api
    old = tmp_path / "site" / "medmask"
    old.mkdir(parents=True)
    (old / "__init__.py").write_text('__version__ = "0.1.3"\n')
    for k in [k for k in sys.modules if k == "medmask" or k.startswith("medmask.")]:
        del sys.modules[k]
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert mod.installed_version() is None  # 0.1.3 lacks medmask.convert

    def pip_install(req):  # what pip does: the new version replaces the old one
        calls["pip"].append(req)
        if "--upgrade" in req:
            sys.path.remove(str(tmp_path / "site"))

    slicer.util.pip_install = pip_install
    path = two_entry_archive(tmp_path)
    assert mod.MedMaskFileReader(types.SimpleNamespace()).load({"fileName": str(path)}), calls["errors"]
    assert calls["pip"][0] == f"--upgrade {REPO.as_uri()}" and " " not in REPO.as_uri()
    assert calls["pip"][1] == "pynrrd>=1.0"


def test_wheel_beside_the_module_wins(tmp_path, slicer_api, monkeypatch):
    mod, _, _ = slicer_api
    (tmp_path / "wheels").mkdir()
    wheel = tmp_path / "wheels" / "medmask-0.2.0-py3-none-any.whl"
    wheel.write_bytes(b"")
    monkeypatch.setattr(mod, "HERE", tmp_path)
    assert mod.package_source() == (wheel, "0.2.0")
    monkeypatch.setattr(mod, "HERE", MODULE.parent)
    source, version = mod.package_source()
    assert source == REPO and version and version[0].isdigit()


def test_module_metadata(slicer_api):
    mod, _, _ = slicer_api
    parent = types.SimpleNamespace()
    mod.MedMask(parent)
    assert parent.title == "MedMask" and "5.0" in parent.helpText


def test_module_source_is_python_39_syntax():
    import ast

    ast.parse(MODULE.read_text(), feature_version=(3, 9))
