"""Benchmark of the napari plugin on a real TotalSegmentator case (117 organs).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python benchmarks/bench_napari.py [--runs 3]

1. Converts ../shared/data/totalseg_s0000/*.nii.gz (read with nibabel,
   transposed to z, y, x, geometry as a medmask Space) into one archive, one
   entry per organ, in a temporary folder.
2. In a fresh process per run (so RSS is not polluted by the previous run):
   - open: ``viewer.open(archive)`` until every non-empty organ is drawn
     (one forced canvas render);
   - toggle entry: uncheck + check one organ in the dock widget (with renders);
   - toggle group: uncheck + check the ``rib_left_*`` group (12 layers);
   - lazy create: a layer removed, then checked again (read + add layer);
   - RSS growth of the process from before the open to after it.
   The same process then adds the 117 organs as *full-volume* layers, which
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


def nifti_space(img, shape_zyx):
    """Space in array axis order (z, y, x) from a NIfTI (RAS) affine."""
    import numpy as np
    from spacetransformer import Space

    aff = np.asarray(img.affine, dtype=float)
    lps = np.diag([-1.0, -1.0, 1.0]) @ aff[:3, :4]
    cols = [lps[:, k] for k in (2, 1, 0)]  # array axis 0 = NIfTI k, 1 = j, 2 = i
    spacing = [float(np.linalg.norm(c)) for c in cols]
    dirs = [tuple(float(v) for v in c / s) for c, s in zip(cols, spacing)]
    return Space(shape=tuple(int(v) for v in shape_zyx), origin=tuple(float(v) for v in lps[:, 3]),
                 spacing=tuple(spacing), x_orientation=dirs[0], y_orientation=dirs[1], z_orientation=dirs[2])


def convert(folder: Path, out: Path) -> dict:
    import nibabel as nib
    import numpy as np

    from medmask import MaskArchive, SegmentationMask
    from medmask.core.colors import color_for

    t0 = time.perf_counter()
    files = sorted(folder.glob("*.nii.gz"))
    space = None
    raw = 0
    with MaskArchive(out, "w") as archive:
        for f in files:
            img = nib.load(str(f))
            arr = np.asarray(img.dataobj, dtype=np.uint8).transpose(2, 1, 0)
            raw += arr.nbytes
            if space is None:
                space = nifti_space(img, arr.shape)
            name = f.name[:-len(".nii.gz")]
            mask = SegmentationMask(arr, {name: 1}, space=space, colors={name: color_for(name)})
            archive.add_segmask(mask, name)
    return {"organs": len(files), "shape": list(space.shape), "seconds": time.perf_counter() - t0,
            "archive_bytes": out.stat().st_size, "full_volume_bytes": raw // len(files)}


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
    import numpy as np
    import psutil
    from qtpy.QtWidgets import QApplication

    os.environ["NAPARI_MEDMASK_AUTO_DOCK"] = "1"
    import napari

    from medmask import MaskArchive
    from napari_medmask._layers import mask_to_layer_data
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
    t_open = time.perf_counter() - t0
    rss1 = proc.memory_info().rss
    (widget,) = ArchiveWidget.instances_for(viewer)
    non_empty = [r.name for r in widget.model if not r.empty]
    assert len(layers) == len(non_empty), (len(layers), len(non_empty))
    crop_bytes = sum(l.data.nbytes for l in layers)

    def timed(fn, render=True):
        t = time.perf_counter()
        fn()
        if render:
            draw()
        return time.perf_counter() - t

    groups = widget.model.groups()
    group = max(groups, key=lambda k: sum(not widget.model[m].empty for m in groups[k]))
    n_group = sum(not widget.model[m].empty for m in groups[group])

    big = sorted(non_empty, key=lambda n: -widget.model[n].voxels)
    entry, lazy = big[0], big[1]
    t_entry = timed(lambda: widget.set_entry_visible(entry, False)) + timed(
        lambda: widget.set_entry_visible(entry, True))
    t_entry_nr = timed(lambda: widget.set_entry_visible(entry, False), False) + timed(
        lambda: widget.set_entry_visible(entry, True), False)
    t_group = timed(lambda: widget.set_group_visible(group, False)) + timed(
        lambda: widget.set_group_visible(group, True))
    t_group_nr = timed(lambda: widget.set_group_visible(group, False), False) + timed(
        lambda: widget.set_group_visible(group, True), False)
    draw()
    t_render = timed(lambda: None)
    viewer.layers.remove(viewer.layers[lazy])
    t_lazy = timed(lambda: widget.set_entry_visible(lazy, True))
    viewer.close()
    return {"open_s": t_open, "toggle_entry_s": t_entry, "toggle_group_s": t_group, "lazy_create_s": t_lazy,
            "toggle_entry_nr_s": t_entry_nr, "toggle_group_nr_s": t_group_nr, "render_s": t_render,
            "group": group, "group_n": n_group,
            "rss_open_mb": (rss1 - rss0) / 2**20, "crop_data_mb": crop_bytes / 2**20,
            "layers": len(layers), "entries": len(widget.model), "entry": entry, "lazy": lazy}


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
            print(f"run {i + 1}/{args.runs}: open {result['open_s']:.2f} s (full volumes {result['full_open_s']:.2f} s)",
                  flush=True)
    med = {k: statistics.median(r[k] for r in runs) if isinstance(v, float) else v for k, v in runs[0].items()}
    rows = [
        ("viewer.open -> all non-empty organs drawn", f"{med['open_s']:.2f} s", f"{int(med['layers'])} cropped layers"),
        ("toggle one entry (hide + show, rendered)", f"{med['toggle_entry_s'] * 1000:.0f} ms", med["entry"]),
        ("toggle one entry (hide + show, layers only)", f"{med['toggle_entry_nr_s'] * 1000:.1f} ms", med["entry"]),
        ("toggle a group (hide + show, rendered)", f"{med['toggle_group_s'] * 1000:.0f} ms",
         f"{med['group']}, {med['group_n']} non-empty layers"),
        ("toggle a group (hide + show, layers only)", f"{med['toggle_group_nr_s'] * 1000:.1f} ms", med["group"]),
        ("one canvas render (software GL, 1400x850)", f"{med['render_s'] * 1000:.0f} ms", "for scale"),
        ("first check of an entry (lazy layer)", f"{med['lazy_create_s'] * 1000:.0f} ms", med["lazy"]),
        ("RSS growth, cropped layers", f"{med['rss_open_mb']:.0f} MiB", f"layer data {med['crop_data_mb']:.1f} MiB"),
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
