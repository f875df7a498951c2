"""Demo: the bundled real CT with its organs in napari, plus the phantom's conversion round trips.

    python -m napari_medmask.demo --out OUTDIR [--screenshot PNG] [--skip-convert]

1. Writes OUTDIR/phantom.mska (synthetic) and runs ``medmask.convert.convert_examples`` on it
   (NIfTI folder and 3D Slicer .seg.nrrd and back, checked identical).
2. Copies the bundled real case (TotalSegmentator's aorta CT and its 18 masks, Apache-2.0) to
   OUTDIR/totalseg_aorta/ and opens the archive in napari with the "MedMask archive" dock, which
   opens the CT the archive records under the organs; coronal view through the aorta.
With ``--screenshot`` it saves a full-window screenshot (1400x850) and exits; otherwise it runs
the napari event loop.
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


def convert_examples(archive_path: str, outdir: str) -> list[str]:
    from medmask.convert import convert_examples as run

    written = [str(p) for p in run(archive_path, outdir)]
    for path in written:
        print(f"converted: {path}")
    return written


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
    for _ in range(50):  # the dock opens the recorded scan one event-loop turn after the archive
        QApplication.processEvents()
        if len(viewer.layers) > 1:
            break
    if shown is not None:
        model = widget.model
        model.set_many({n: n in shown for n in model.entries})
    widget.tree.expandAll()
    if widget.session.composite_layer is not None:  # its label controls, not the CT's
        viewer.layers.selection.active = widget.session.composite_layer
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
    viewer.dims.order = (1, 0, 2)  # coronal: slice along the frame's P axis, superior up, patient right on the left
    layer = widget.session.composite_layer
    if layer is not None:  # the middle of the organs front to back
        hit = np.flatnonzero(np.asarray(layer.data).any(axis=(0, 2)))
        if hit.size:
            viewer.dims.set_point(1, float(layer.data_to_world(np.array([0, np.median(hit), 0]))[1]))
    widget.fit_view()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m napari_medmask.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder (phantom, conversions, the real case)")
    parser.add_argument("--screenshot", help="save a full-window PNG here and exit")
    parser.add_argument("--skip-convert", action="store_true", help="do not run the conversion round trips")
    args = parser.parse_args(argv)
    phantom = build(args.out)
    if not args.skip_convert:
        convert_examples(phantom, args.out)
    from ._sample import aorta_paths

    ct, archive = aorta_paths(os.path.join(args.out, "totalseg_aorta"))
    print(f"real case: {archive} (records its scan {os.path.basename(ct)})")
    viewer = show(archive, args.screenshot)
    if viewer is not None:
        import napari

        napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
