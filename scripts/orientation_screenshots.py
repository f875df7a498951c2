"""Screenshots to look at the orientation with your own eyes: the phantom and the bundled aorta CT in 3D.

    xvfb-run -a -s "-screen 0 1400x900x24" python scripts/orientation_screenshots.py out/orientation

Writes, for a person to check (tests/napari/test_orientation.py checks the same automatically):
* ``phantom_<grid>_front_3d.png``: the orientation phantom (tests/napari/napari_cases.py) seen from
  the front, superior up: the red plate over the patient's RIGHT half must be on the viewer's LEFT,
  the blue marker on top, the green posterior bar behind, in the middle.
* ``phantom_axial_{axial,coronal,sagittal}_2d.png``: the default 2D planes.
* ``aorta_front_3d.png`` (vessels over a faint bone iso-surface) and ``aorta_front_3d_attenuated_mip.png``:
  the bundled TotalSegmentator CT from the front, superior up: the left subclavian artery and the
  cardiac apex are on the viewer's RIGHT, the brachiocephalic trunk and the superior vena cava on
  the viewer's LEFT.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "napari"))

L, P, S = np.eye(3)


def look(viewer, frame, view, up) -> None:
    displayed = list(viewer.dims.displayed)
    viewer.scene.camera.set_view_direction(view_direction=tuple((frame.T @ view)[displayed]),
                                           up_direction=tuple((frame.T @ up)[displayed]))


def phantom(out: Path) -> None:
    import napari

    from napari_cases import PHANTOM_CENTRE, PHANTOM_GRIDS, write_phantom_archive

    work = out / "phantom_cases"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for grid in PHANTOM_GRIDS:
        _, archive = write_phantom_archive(work, grid)
        viewer = napari.Viewer(show=True)
        viewer.window.resize(900, 750)
        viewer.open(str(archive), plugin="medmask")
        frame = np.asarray(viewer.layers[-1].metadata["medmask"]["frame"])
        if grid == "axial":
            for plane, order, rel in (("axial", (0, 1, 2), (0, 0, -5.0)), ("coronal", (1, 0, 2), (0, -37.0, 0)),
                                      ("sagittal", (2, 0, 1), (0, 0, 0))):
                viewer.dims.order = order
                viewer.reset_view()
                viewer.dims.set_point(order[0], (frame.T @ (PHANTOM_CENTRE + np.asarray(rel)))[order[0]])
                viewer.screenshot(str(out / f"phantom_axial_{plane}_2d.png"), canvas_only=True, flash=False)
            viewer.dims.order = (0, 1, 2)
        viewer.layers[0].visible = False
        viewer.dims.ndisplay = 3
        viewer.reset_view()
        look(viewer, frame, P, S)
        viewer.screenshot(str(out / f"phantom_{grid}_front_3d.png"), canvas_only=True, flash=False)
        viewer.close()


def aorta(out: Path) -> None:
    import napari

    from medmask.sample import aorta_case

    _, archive = aorta_case()
    viewer = napari.Viewer(show=True)
    viewer.window.resize(900, 900)
    viewer.open(archive, plugin="medmask")  # the CT the archive records, then the vessels
    ct, vessels = viewer.layers
    frame = np.asarray(vessels.metadata["medmask"]["frame"])
    viewer.dims.ndisplay = 3
    viewer.reset_view()
    look(viewer, frame, P, S)
    ct.rendering = "attenuated_mip"
    ct.contrast_limits = (-200.0, 1200.0)
    ct.blending = "translucent"
    vessels.visible = False
    viewer.screenshot(str(out / "aorta_front_3d_attenuated_mip.png"), canvas_only=True, flash=False)
    ct.rendering = "iso"
    ct.iso_threshold = 700.0  # cortical bone and the sternal wires
    ct.opacity = 0.35
    vessels.visible = True
    viewer.screenshot(str(out / "aorta_front_3d.png"), canvas_only=True, flash=False)
    viewer.close()


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "out/orientation")
    target.mkdir(parents=True, exist_ok=True)
    phantom(target)
    aorta(target)
    print("\n".join(str(p) for p in sorted(target.glob("*.png"))))
