"""docs/review.png: the MedMask review dock over the bundled real CT, in a queue of 6 copies of the case.

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/review_screenshot.py docs/review.png

Case 1 is reviewed, case 2 in progress (aorta accepted, the false lumen needs a fix, an aggregate
rejected with a comment, the next organ selected); coronal view through the aorta.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WINDOW = (1500, 960)


def main(out: str) -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from medmask import MaskArchive
    from medmask.sample import aorta_queue
    from napari_medmask.demo import _coronal_view

    folder = Path(tempfile.mkdtemp(prefix="medmask-review-shot-")) / "aorta_study"
    paths = aorta_queue(folder, 6)
    with MaskArchive(paths[0], "a") as a:  # case 1: done
        for n in a.names:
            if a.entry_info(n).voxel_count:
                a.set_review(n, "accepted", reviewer="dr.lee")
    with MaskArchive(paths[1], "a") as a:  # case 2: in progress
        a.set_review("aorta", "accepted", reviewer="dr.lee")
        a.set_review("aorta_false_lumen", "needs_fix", reviewer="dr.lee", comment="leaks into the true lumen")
        a.set_review("aorta_true_lumen", "accepted", reviewer="dr.lee")
        a.set_review("T710_renal", "rejected", reviewer="dr.lee", comment="duplicate of organ_aorta_T264")
    viewer = napari.Viewer(title="MedMask review", show=True)
    viewer.window.resize(*WINDOW)
    _, review = viewer.window.add_plugin_dock_widget("medmask", "MedMask review")
    review.open_queue([folder], reviewer="dr.lee")
    aw = review.archive_widget
    for _ in range(20):
        QApplication.processEvents()
    aw.empty_box.setChecked(False)
    review.select_entry("brachiocephalic_trunk")
    if aw.session.composite_layer is not None:
        viewer.layers.selection.active = aw.session.composite_layer
    _coronal_view(viewer, aw)
    for _ in range(10):
        QApplication.processEvents()
    _coronal_view(viewer, aw)
    for _ in range(5):
        QApplication.processEvents()
    viewer.screenshot(out, canvas_only=False)
    print(f"screenshot: {out}")
    review.queue.close()
    viewer.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "docs" / "review.png"))
