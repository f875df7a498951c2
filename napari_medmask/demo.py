"""Demo: build the phantom archive, open it in napari with the MedMask dock.

    python -m napari_medmask.demo --out OUTDIR [--screenshot PNG]

Writes OUTDIR/phantom.mska, converts it with ``medmask.convert.convert_examples``
(NIfTI, Slicer ...), opens the archive in
napari with the "MedMask archive" dock widget and a few organs shown. With
``--screenshot`` it saves a full-window screenshot (1400x850) and exits;
otherwise it runs the napari event loop.
"""
from __future__ import annotations

import argparse
import os
import sys

WINDOW = (1400, 850)


def build(outdir: str) -> str:
    from medmask.sample import make_phantom

    os.makedirs(outdir, exist_ok=True)
    path = os.path.join(outdir, "phantom.mska")
    make_phantom(path)  # one atomic archive write (storage/atomic.py)
    print(f"wrote {path} ({os.path.getsize(path):,} bytes)")
    return path


def show(path: str, screenshot: str | None = None, *, image: str | None = None, shown=None):
    """Open the archive (and its scan) with the dock, a coronal view through the organs."""
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="MedMask demo", show=True)
    viewer.window.resize(*WINDOW)
    _, widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")
    viewer.open(path, plugin="medmask")  # one composite layer draws every organ; the dock finds it
    if image:
        widget.open_image(widget.session.path, image)
    for _ in range(5):
        QApplication.processEvents()
    if shown is not None:
        model = widget.model
        model.set_many({n: n in shown for n in model.entries})
    widget.tree.expandAll()
    _coronal_view(viewer, widget)
    if screenshot:
        for _ in range(5):
            QApplication.processEvents()
        _coronal_view(viewer, widget)
        for _ in range(5):
            QApplication.processEvents()
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        viewer.screenshot(screenshot, canvas_only=False)
        print(f"screenshot: {screenshot}")
        viewer.close()
        return None
    return viewer


def _coronal_view(viewer, widget) -> None:
    """Coronal slice through the middle of the organs, head up, patient's right on the left."""
    import numpy as np

    viewer.dims.ndisplay = 2
    viewer.dims.order = (1, 0, 2)  # slice along the frame's P axis; S vertical, L horizontal
    layer = widget.session.composite_layer
    if layer is not None:  # the middle of the organs front to back
        hit = np.flatnonzero(np.asarray(layer.data).any(axis=(0, 2)))
        if hit.size:
            viewer.dims.set_point(1, float(layer.data_to_world(np.array([0, np.median(hit), 0]))[1]))
    widget.fit_view()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_medmask.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (phantom.mska and conversions go here)")
    parser.add_argument("--screenshot", help="save a full-window PNG here and exit")
    parser.add_argument("--skip-convert", action="store_true", help="do not run the conversion examples")
    args = parser.parse_args(argv)
    path = build(args.out)
    if not args.skip_convert:
        from medmask.convert import convert_examples

        for written in convert_examples(path, args.out):
            print(f"converted: {written}")
    viewer = show(path, args.screenshot)
    if viewer is not None:
        import napari

        napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
