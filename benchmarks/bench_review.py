"""Benchmark of the review queue: time from Next to the next case drawn, on real-size cases.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python benchmarks/bench_review.py [--cases 5]

Queues (built once in a temporary folder):

* ``s0000``: ../shared/data/totalseg_s0000 (117 TotalSegmentator masks, 294x192x179, 1.5 mm,
  18 degrees oblique) converted by ``medmask convert``, with a CT of its grid beside it (int16
  NIfTI, gzip, smooth noise; recorded in the archive as its scan), copied ``--cases`` times.
* ``aorta``: the bundled real CT (164x126x120) with its 18 organs (``medmask.sample.aorta_queue``).

Per queue, in one napari window (shown, under Xvfb) with the review dock: the first case opens, then
for each following case the read-ahead is let finish (a reviewer looks at a case for longer than it
takes), and Next is timed: to ``next_case()``'s return (the previous case's layers given the new data, the
archive dock listing the new case), and to the window drawn (plus the one event-loop turn that
paints it, canvas included: vispy's paintGL runs in it). A forced canvas render
(``viewer.screenshot(canvas_only=True)``) right after, with nothing changed, says what one draw
costs. Side by side in the same run: opening the same case without the queue (``viewer.open`` of
the archive, which reads the CT and the organs, then one event-loop turn and a forced render),
which is what moving to a case by hand costs. Medians over the Next steps.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
S0000 = HERE.parent.parent / "shared" / "data" / "totalseg_s0000"


def build_s0000_queue(folder: Path, n: int) -> None:
    import nibabel as nib
    import numpy as np

    from medmask import MaskArchive
    from medmask.convert.image_link import image_reference_for

    first = folder / "s0000_01"
    first.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "medmask", "convert", str(S0000), str(first / "organs.mska")],
                   check=True, capture_output=True, text=True)
    ref = nib.load(str(S0000 / "liver.nii.gz"))
    rng = np.random.default_rng(0)
    shape = ref.shape
    ct = (rng.normal(40, 30, size=shape)).astype(np.int16)  # soft tissue with noise, real-size volume
    ct[:, :, : shape[2] // 8] = -1000
    nib.save(nib.Nifti1Image(ct, ref.affine), str(first / "ct.nii.gz"))
    with MaskArchive(first / "organs.mska", "a") as a:
        a.image_reference = image_reference_for(first / "ct.nii.gz", first / "organs.mska", a.space)
    for i in range(2, n + 1):
        shutil.copytree(first, folder / f"s0000_{i:02d}")


def measure(folder: Path, label: str) -> dict:
    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 850)
    _, review = viewer.window.add_plugin_dock_widget("medmask", "MedMask review")
    review.open_queue([folder])
    q = review.queue

    def drain(seconds=0.3):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            QApplication.processEvents()

    drain(1.0)
    returned, drawn, waits, renders = [], [], [], []
    for _ in range(len(q) - 1):
        future = q._ahead.get(q.index + 1)
        while future is not None and not future.done():
            drain(0.05)
        drain(0.5)  # the reviewer is looking at the case: the event loop is idle
        t0 = time.perf_counter()
        assert review.next_case()
        t1 = time.perf_counter()
        QApplication.processEvents()  # the event-loop turn that paints the window, canvas included
        t2 = time.perf_counter()
        viewer.screenshot(canvas_only=True)  # a forced render on top, nothing changed: what one draw costs
        renders.append(time.perf_counter() - t2)
        returned.append(t1 - t0)
        drawn.append(t2 - t0)
        waits.append(review.last_switch["wait_read"])
    # by hand: open the last case again without the queue (nothing read ahead)
    path = q.path
    review._remove_case(path)
    cold = []
    for _ in range(3):
        drain(0.3)
        t0 = time.perf_counter()
        viewer.open(path, plugin="medmask")
        QApplication.processEvents()
        viewer.screenshot(canvas_only=True)
        cold.append(time.perf_counter() - t0)
        review._remove_case(os.path.abspath(path))
    q.close()
    viewer.close()
    med = statistics.median
    return {"queue": label, "steps": len(drawn), "next_returned_s": med(returned), "next_drawn_s": med(drawn),
            "next_drawn_max_s": max(drawn), "render_alone_s": med(renders), "waited_for_read_s": med(waits), "open_by_hand_drawn_s": med(cold),
            "by_hand_over_next": med(cold) / med(drawn)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=5)
    args = p.parse_args()
    from medmask.sample import aorta_queue

    tmp = Path(tempfile.mkdtemp(prefix="bench-review-"))
    try:
        results = []
        if S0000.is_dir():
            build_s0000_queue(tmp / "s0000", args.cases)
            results.append(measure(tmp / "s0000", "s0000 (117 organs + CT 294x192x179)"))
        aorta_queue(tmp / "aorta", args.cases)
        results.append(measure(tmp / "aorta", "aorta (18 organs + real CT 164x126x120)"))
        for r in results:
            print(f"{r['queue']}: Next -> drawn median {r['next_drawn_s'] * 1000:.0f} ms "
                  f"(max {r['next_drawn_max_s'] * 1000:.0f} ms, next_case() returned in "
                  f"{r['next_returned_s'] * 1000:.0f} ms, waited for the read {r['waited_for_read_s'] * 1000:.1f} ms, "
                  f"a forced render alone {r['render_alone_s'] * 1000:.0f} ms; "
                  f"{r['steps']} steps); opening it by hand: {r['open_by_hand_drawn_s'] * 1000:.0f} ms "
                  f"({r['by_hand_over_next']:.1f}x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
