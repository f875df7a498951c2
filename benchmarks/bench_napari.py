"""Benchmark of the napari plugin on a real TotalSegmentator case (117 organs).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python benchmarks/bench_napari.py [--runs 3]

1. Converts ../shared/data/totalseg_s0000/*.nii.gz into one archive with
   medmask's own converter (``medmask.convert.convert``), one entry per organ.
2. In a fresh process per run (so RSS is not polluted by the previous run):
   - open -> overview: ``viewer.open(archive)`` until the overview layer (every
     non-empty organ in one label map) is drawn (one forced canvas render) - the target;
   - open -> all entry layers: until the dock has created every per-entry cropped
     layer in the background and removed the overview;
   - toggle entry: uncheck, check one organ in the dock widget; each toggle
     timed to its return (layers only) and through one event-loop turn (the
     window repaint, what a user waits for), plus with a forced canvas render;
   - toggle group: the same for the group with the most non-empty members;
   - lazy create: a layer removed, then checked again (read + add layer);
   - RSS growth of the process from before the open to after the background load.
   The same process then adds the non-empty organs as *full-volume* layers, which
   is what you get without cropping, and records that RSS growth too.
Prints medians over ``--runs`` runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data" / "totalseg_s0000"


def convert(folder: Path, out: Path) -> dict:
    import numpy as np

    from medmask import MaskArchive
    from medmask.convert import convert as medmask_convert

    t0 = time.perf_counter()
    medmask_convert(folder, out)
    seconds = time.perf_counter() - t0
    with MaskArchive(out) as archive:
        shape = [int(v) for v in archive.space.shape]
        organs = len(archive.entries())
    return {"organs": organs, "shape": shape, "seconds": seconds, "archive_bytes": out.stat().st_size,
            "full_volume_bytes": int(np.prod(shape))}


# --------------------------------------------------------------------------------------------------
def child_full(archive: str) -> dict:
    """The alternative without cropping, in a fresh process: every non-empty organ as a full volume."""
    import psutil
    from qtpy.QtWidgets import QApplication

    import napari

    from medmask import MaskArchive
    from napari_medmask._layers import mask_to_layer_data

    proc = psutil.Process()
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 850)

    def draw():
        QApplication.processEvents()
        viewer.screenshot(canvas_only=True, flash=False)

    draw()
    rss0 = proc.memory_info().rss
    t = time.perf_counter()
    full_bytes = 0
    n = 0
    with MaskArchive(archive) as ar:
        for info in ar.entries():
            if info.bbox is None:
                continue
            data, kwargs, _ = mask_to_layer_data(ar.load_segmask(info.name), name=info.name, crop=False)
            full_bytes += data.nbytes
            n += 1
            viewer.add_labels(data, **kwargs)
    draw()
    t_full = time.perf_counter() - t
    rss1 = proc.memory_info().rss
    viewer.close()
    return {"full_open_s": t_full, "rss_full_mb": (rss1 - rss0) / 2**20, "full_data_mb": full_bytes / 2**20,
            "full_layers": n}


def child(archive: str) -> dict:
    """One measured run in this (fresh) process; returns the figures as a dict."""
    import statistics

    import psutil
    from qtpy.QtWidgets import QApplication

    os.environ["NAPARI_MEDMASK_AUTO_DOCK"] = "1"
    import napari

    from napari_medmask._qt.archive_widget import ArchiveWidget

    proc = psutil.Process()
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 850)
    for _ in range(3):
        QApplication.processEvents()

    def draw():
        QApplication.processEvents()
        viewer.screenshot(canvas_only=True, flash=False)  # forces one full render of the canvas

    draw()
    rss0 = proc.memory_info().rss
    t0 = time.perf_counter()
    layers = viewer.open(archive, plugin="medmask")
    draw()
    t_overview = time.perf_counter() - t0
    (widget,) = ArchiveWidget.instances_for(viewer)
    assert len(layers) == 1 and layers[0].name.endswith("(overview)"), [l.name for l in layers]
    while widget.loading:
        QApplication.processEvents()
    draw()
    t_all = time.perf_counter() - t0
    rss1 = proc.memory_info().rss
    non_empty = [r.name for r in widget.model if not r.empty]
    assert len(viewer.layers) == len(non_empty), (len(viewer.layers), len(non_empty))
    crop_bytes = sum(l.data.nbytes for l in viewer.layers)

    def timed(fn, how):
        t = time.perf_counter()
        fn()
        if how == "turn":
            QApplication.processEvents()  # one event-loop turn: the window repaint after the change
        elif how == "render":
            draw()
        return time.perf_counter() - t

    def toggles(set_visible, key, how, n=5):
        """Median time of one toggle (hide or show) over n hide+show pairs."""
        out = []
        for _ in range(n):
            out.append(timed(lambda: set_visible(key, False), how))
            out.append(timed(lambda: set_visible(key, True), how))
        return statistics.median(out)

    groups = widget.model.groups()
    group = max(groups, key=lambda k: sum(not widget.model[m].empty for m in groups[k]))
    n_group = sum(not widget.model[m].empty for m in groups[group])
    big = sorted(non_empty, key=lambda n: -widget.model[n].voxels)
    entry, lazy = big[0], big[1]
    res = {}
    for how in ("layers", "turn", "render"):
        res[f"toggle_entry_{how}_s"] = toggles(widget.set_entry_visible, entry, how)
        res[f"toggle_group_{how}_s"] = toggles(widget.set_group_visible, group, how)
    draw()
    t_render = timed(lambda: None, "render")
    viewer.layers.remove(viewer.layers[lazy])
    t_lazy = timed(lambda: widget.set_entry_visible(lazy, True), "render")
    viewer.close()
    return {"overview_s": t_overview, "all_layers_s": t_all, **res, "lazy_create_s": t_lazy,
            "render_s": t_render, "group": group, "group_n": n_group,
            "rss_open_mb": (rss1 - rss0) / 2**20, "crop_data_mb": crop_bytes / 2**20,
            "layers": len(non_empty), "entries": len(widget.model), "entry": entry, "lazy": lazy}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("RESULT " + json.dumps(child_full(args.child) if args.full else child(args.child)))
        return 0
    if not os.environ.get("DISPLAY"):
        print("needs a display: run under xvfb-run -a -s '-screen 0 1400x900x24'", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-napari-") as tmp:
        archive = Path(tmp) / "totalseg_s0000.mska"
        conv = convert(Path(args.data), archive)
        print(f"converted {conv['organs']} organs, shape {conv['shape']} in {conv['seconds']:.1f} s -> "
              f"{conv['archive_bytes'] / 1024:.0f} KiB archive; one full uint8 volume is "
              f"{conv['full_volume_bytes'] / 2**20:.1f} MiB, 117 of them "
              f"{conv['organs'] * conv['full_volume_bytes'] / 2**20:.0f} MiB")
        runs = []
        env = {**os.environ, "QT_API": os.environ.get("QT_API", "pyqt6")}
        for i in range(args.runs):
            result = {}
            for extra in ([], ["--full"]):
                res = subprocess.run([sys.executable, __file__, "--child", str(archive), *extra],
                                     capture_output=True, text=True, env=env, timeout=900)
                line = [l for l in res.stdout.splitlines() if l.startswith("RESULT ")]
                if res.returncode != 0 or not line:
                    print(res.stdout[-3000:], res.stderr[-3000:], file=sys.stderr)
                    return 1
                result.update(json.loads(line[0][7:]))
            runs.append(result)
            print(f"run {i + 1}/{args.runs}: overview {result['overview_s']:.2f} s, all layers "
                  f"{result['all_layers_s']:.2f} s (full volumes {result['full_open_s']:.2f} s)", flush=True)
    med = {k: statistics.median(r[k] for r in runs) if isinstance(v, float) else v for k, v in runs[0].items()}
    ms = lambda k: f"{med[k] * 1000:.0f} ms"  # noqa: E731
    rows = [
        ("viewer.open -> overview drawn (all non-empty organs)", f"{med['overview_s']:.2f} s",
         "one full-volume label layer"),
        ("viewer.open -> all per-entry layers created", f"{med['all_layers_s']:.2f} s",
         f"{int(med['layers'])} cropped layers, in the background"),
        ("toggle one entry (call returns)", ms("toggle_entry_layers_s"), med["entry"]),
        ("toggle one entry (+ one event-loop turn: repaint)", ms("toggle_entry_turn_s"), med["entry"]),
        ("toggle one entry (+ forced canvas render)", ms("toggle_entry_render_s"), med["entry"]),
        ("toggle a group (call returns)", ms("toggle_group_layers_s"),
         f"{med['group']}, {med['group_n']} non-empty layers"),
        ("toggle a group (+ one event-loop turn: repaint)", ms("toggle_group_turn_s"), med["group"]),
        ("toggle a group (+ forced canvas render)", ms("toggle_group_render_s"), med["group"]),
        ("one canvas render (software GL, 1400x850)", ms("render_s"), "for scale"),
        ("first check of an entry (lazy layer)", ms("lazy_create_s"), med["lazy"]),
        ("RSS growth, open + background load", f"{med['rss_open_mb']:.0f} MiB",
         f"layer data {med['crop_data_mb']:.1f} MiB"),
        (f"RSS growth, {med['full_layers']} full-volume layers instead", f"{med['rss_full_mb']:.0f} MiB",
         f"layer data {med['full_data_mb']:.0f} MiB; drawn in {med['full_open_s']:.1f} s"),
    ]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"\nnapari plugin, totalseg_s0000 ({int(med['entries'])} entries, {int(med['layers'])} non-empty), "
          f"median of {args.runs} runs; 117 full uint8 volumes would hold "
          f"{conv['organs'] * conv['full_volume_bytes'] / 2**20:.0f} MiB of layer data")
    print(f"{'measure':<{w0}}  {'value':>{w1}}  notes")
    print(f"{'-' * w0}  {'-' * w1}  -----")
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:>{w1}}  {c}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
