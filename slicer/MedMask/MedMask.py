"""3D Slicer scripted module: open medmask .msk / .mska files as segmentations.

Drag a .msk or .mska file into Slicer (or File > Add Data): the MedMaskFileReader
below converts it with medmask's own code to a temporary .seg.nrrd and loads that with
slicer.util.loadSegmentation. Overlapping archive entries become separate layers;
names, colours and geometry are kept. Install: see docs/interop.md.
"""
import os
import tempfile

from slicer.ScriptedLoadableModule import ScriptedLoadableModule


def _medmask():
    try:
        import medmask.convert  # noqa: F401
    except ImportError:
        import slicer

        slicer.util.pip_install("medmask")  # into Slicer's own Python, once
    import medmask.convert

    return medmask.convert


class MedMask(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        parent.title = "MedMask"
        parent.categories = ["Segmentation"]
        parent.contributors = ["MedMask developers"]
        parent.helpText = "Opens medmask .msk / .mska mask files as segmentations (drag and drop)."
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
        with tempfile.TemporaryDirectory() as tmp:
            seg_path = os.path.join(tmp, name + ".seg.nrrd")
            try:
                _medmask().medmask_to_seg_nrrd(path, seg_path)
                node = slicer.util.loadSegmentation(seg_path, {"name": name})
            except Exception as exc:
                slicer.util.errorDisplay(f"Could not load {path}: {exc}")
                return False
        self.parent.loadedNodes = [node.GetID()]
        return True
