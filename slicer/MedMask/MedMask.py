"""3D Slicer scripted module: open medmask .msk / .mska files as segmentations.

Drag a .msk or .mska file into Slicer (or File > Add Data): the MedMaskFileReader below
converts it with medmask's own code to a temporary .seg.nrrd and loads that as a
segmentation node. Overlapping archive entries become separate layers; names, colours,
geometry and the Slicer fields medmask keeps (terminology, segment IDs...) come along.

Supported: 3D Slicer 5.0 and later (Python 3.9+). medmask itself is installed into
Slicer's Python on first use from this repository - a wheel in ``wheels/`` beside this
file (``make slicer-wheel``), else the checkout this file lives in - never from PyPI,
whose ``medmask`` is an older, different package. See docs/interop.md.
"""
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from slicer.ScriptedLoadableModule import ScriptedLoadableModule

HERE = Path(__file__).resolve().parent
# medmask modules this reader needs; an install without them (PyPI's 0.1.3) is replaced
NEEDED = ("medmask.convert.seg_nrrd", "nrrd")


def package_source():
    """(where to install medmask from, its version): a wheel beside the module, else the repository."""
    wheels = sorted(HERE.joinpath("wheels").glob("medmask-*.whl"))
    if wheels:
        m = re.match(r"medmask-([^-]+)-", wheels[-1].name)
        return wheels[-1], (m.group(1) if m else None)
    repo = HERE.parent.parent
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file() and (repo / "medmask" / "__init__.py").is_file():
        m = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(encoding="utf-8"), re.M)
        return repo, (m.group(1) if m else None)
    return None, None


def _forget_medmask():
    for name in [n for n in sys.modules if n == "medmask" or n.startswith("medmask.")]:
        del sys.modules[name]


def installed_version():
    """The version of the medmask Slicer's Python would import, or None if it lacks what the reader needs."""
    import importlib

    try:
        import medmask

        modules = [importlib.import_module(name) for name in NEEDED]
    except ImportError:
        return None
    package = Path(medmask.__file__).resolve().parent
    if package not in Path(modules[0].__file__).resolve().parents:  # pieces of two different installs
        return None
    return getattr(medmask, "__version__", None)


def ensure_medmask():
    """Import medmask.convert, installing this project's medmask into Slicer's Python first if needed."""
    import importlib

    import slicer

    source, version = package_source()
    have = installed_version()
    if have is not None and (version is None or have == version):
        return importlib.import_module("medmask.convert")
    if source is None:
        raise RuntimeError("medmask is not installed in Slicer's Python and no wheel or checkout of it was found "
                           f"beside {HERE}; see docs/interop.md")
    # a file: URI has no spaces to split on, whatever the folder (pip_install splits its argument)
    slicer.util.pip_install(f"--upgrade {source.as_uri()}")
    slicer.util.pip_install("pynrrd>=1.0")
    _forget_medmask()
    importlib.invalidate_caches()
    have = installed_version()
    if have is None or (version is not None and have != version):
        raise RuntimeError(f"installing medmask {version} from {source} did not take effect (found {have}); "
                           f"restart Slicer and try again")
    return importlib.import_module("medmask.convert")


class MedMask(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = "MedMask"
        parent.categories = ["Segmentation"]
        parent.contributors = ["MedMask developers"]
        parent.helpText = ("Opens medmask .msk / .mska mask files as segmentations (drag and drop). "
                           "Works with 3D Slicer 5.0 and later.")
        parent.acknowledgementText = ""
        parent.hidden = True  # a reader only, no panel


class MedMaskFileReader:
    def __init__(self, parent):
        self.parent = parent

    def description(self):
        return "medmask segmentation"

    def fileType(self):
        return "MedMaskFile"

    def extensions(self):
        return ["medmask mask (*.msk)", "medmask archive (*.mska)"]

    def canLoadFile(self, filePath):
        return filePath.lower().endswith((".msk", ".mska"))

    def load(self, properties):
        import slicer

        path = properties["fileName"]
        name = properties.get("name") or os.path.basename(path).rsplit(".", 1)[0]
        tmp = tempfile.mkdtemp(prefix="medmask-")
        try:
            seg_path = os.path.join(tmp, name + ".seg.nrrd")
            convert = ensure_medmask()
            convert.medmask_to_seg_nrrd(path, seg_path)
            # loadNodeFromFile has taken (file, type, properties) since before 5.0; loadSegmentation's second
            # argument was returnNode in 5.0, so it is not used here
            node = slicer.util.loadNodeFromFile(seg_path, "SegmentationFile", {"name": name})
            if isinstance(node, (list, tuple)):
                node = node[-1] if node else None
            if node is None:
                raise RuntimeError("Slicer did not load the converted segmentation")
            node.SetName(name)
            self._detach_from(node, tmp, path, name)
        except Exception as exc:
            slicer.util.errorDisplay(f"Could not load {path}: {exc}")
            return False
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.parent.loadedNodes = [node.GetID()]
        return True

    @staticmethod
    def _detach_from(node, tmp, source, name):
        """Point the node's storage away from the temporary folder (deleted right after loading).

        Save then proposes ``<name>.seg.nrrd`` beside the source file instead of a path that
        no longer exists; the .msk/.mska itself is never overwritten.
        """
        storage = node.GetStorageNode()
        target = os.path.join(os.path.dirname(os.path.abspath(source)), name + ".seg.nrrd")
        if storage is None:
            node.AddDefaultStorageNode(target)
            return
        if os.path.abspath(storage.GetFileName() or "").startswith(os.path.abspath(tmp)):
            storage.SetFileName(target)
