"""Demo: build the phantom archive, open it in napari with the MedMask dock.

    python -m napari_medmask.demo --out OUTDIR [--screenshot PNG]

Writes OUTDIR/phantom.mska, converts it with ``medmask.convert`` when that
module offers ``convert_examples`` (NIfTI, Slicer ...), opens the archive in
napari with the "MedMask archive" dock widget and a few organs shown. With
``--screenshot`` it saves a full-window screenshot (1400x850) and exits;
otherwise it runs the napari event loop.
"""
from __future__ import annotations

import argparse
import os
import sys

SHOWN = ("liver", "spleen", "kidney_left", "kidney_right", "heart", "aorta", "lung_left", "lung_right")
WINDOW = (1400, 850)


def convert_examples(archive_path: str, outdir: str) -> list[str]:
    """Hook for the conversion steps (NIfTI, Slicer ...): calls medmask.convert.convert_examples if present."""
    try:
        from medmask.convert import convert_examples as _convert  # type: ignore[attr-defined]
    except Exception:
        print("medmask.convert.convert_examples not available yet: skipping conversions")
        return []
    written = _convert(archive_path, outdir) or []
    for path in written:
        print(f"converted: {path}")
    return list(written)


def build(outdir: str) -> str:
    from medmask.sample import make_phantom

    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, "phantom.mska")
    tmp = path + ".tmp"
    make_phantom(tmp)
    os.replace(tmp, path)
    print(f"wrote {path} ({os.path.getsize(path):,} bytes)")
    return path


def show(path: str, screenshot: str | None = None, *, shown=SHOWN):
    import napari
    from qtpy.QtWidgets import QApplication

    from ._qt.archive_widget import ArchiveWidget

    viewer = napari.Viewer(title="MedMask demo", show=True)
    viewer.open(path, plugin="medmask")  # overview layer at once; the dock makes the entry layers
    (widget,) = ArchiveWidget.instances_for(viewer)
    if screenshot:
        viewer.window.resize(*WINDOW)
        while widget.loading:  # wait for the background entry layers (the overview goes away)
            QApplication.processEvents()
    model = widget.model
    model.set_many({n: n in shown or n.startswith("rib_") for n in model.entries})
    widget.refresh()
    widget.tree.expandAll()
    _coronal_view(viewer, widget.session.space)
    if "liver" in viewer.layers:
        viewer.layers.selection = {viewer.layers["liver"]}
    if screenshot:
        for _ in range(5):
            QApplication.processEvents()
        _coronal_view(viewer, widget.session.space)
        for _ in range(5):
            QApplication.processEvents()
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        viewer.screenshot(screenshot, canvas_only=False)
        print(f"screenshot: {screenshot}")
        viewer.close()
        return None
    return viewer


def _coronal_view(viewer, space) -> None:
    """Coronal slice through the trunk, head up, patient's right on the left (radiological)."""
    viewer.dims.ndisplay = 2
    viewer.dims.order = (1, 0, 2)  # show world z (vertical) and x (horizontal); slice along y
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera  # napari >= 0.9 / older
    camera.orientation2d = ("up", "right")
    # 12 mm behind the volume centre: heart, aorta, liver, spleen, kidneys and lungs all cut
    y_center = space.origin[1] + space.spacing[1] * (space.shape[1] - 1) / 2
    viewer.dims.set_point(1, y_center + 12.0)
    viewer.reset_view()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_medmask.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (phantom.mska and conversions go here)")
    parser.add_argument("--screenshot", help="save a full-window PNG here and exit")
    parser.add_argument("--skip-convert", action="store_true", help="do not run the conversion examples")
    args = parser.parse_args(argv)
    path = build(args.out)
    if not args.skip_convert:
        convert_examples(path, args.out)
    viewer = show(path, args.screenshot)
    if viewer is not None:
        import napari

        napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
