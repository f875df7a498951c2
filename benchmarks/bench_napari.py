"""Benchmark of the napari plugin: open -> every organ drawn, toggles, memory; a big CT's memory.

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python benchmarks/bench_napari.py [--runs 3] [--no-big-ct]

Cases (archives built once, then measured in a fresh process per run so RSS is clean):

* ``s0000``: ../shared/data/totalseg_s0000 (117 TotalSegmentator masks, 18 degrees oblique) made
  into an archive by the command line, ``medmask convert <folder> s0000.mska``.
* ``synthetic117``: 117 entries named like TotalSegmentator's classes, 110 non-empty (ellipsoids
  of 0.2-200 ml, many overlapping), 7 empty, on a 300x256x256 grid of 1.5x1x1 mm.

Per run, with the MedMask dock already open (as a user has it):

* open -> all drawn: ``viewer.open(archive)`` until one forced canvas render shows the composite
  layer; then it checks that every non-empty organ is drawn (its colour in the colormap) and
  reports how many, and whether ``rib_right_12`` is. The clock starts at ``viewer.open``. Before
  it, the event loop runs until the dock's warm-up (``napari_medmask.warmup``: napari's one-time
  first-Labels-layer set-up, done in idle turns once the dock is open) is over, as it is when a
  user drops a file on a napari with the dock open; its duration and longest turn are reported.
  The same open is also measured with no dock (nothing warmed up: napari's first layer of the
  session) and after an earlier layer warmed napari up;
* idle after: how long the event loop stays busy after that (the plugin schedules no background
  work; this shows napari's own settling);
* toggle: hiding then showing one entry (the largest, and ``rib_right_12`` or the smallest), timed
  to the call's return, through one event-loop turn (the window repaint) and through a forced
  canvas render; the same for the largest group;
* edit: first ``Edit`` of an entry (its own cropped layer);
* RSS growth from before the open to after the toggles, and the composite's bytes;
* side by side, the previous design: one cropped Labels layer per non-empty entry (time to create
  them all and RSS growth).

Big CT: a 512x512x1000 int16 .nii.gz (500 MiB of voxels) opened with the plugin's reader into an
Image layer and rendered: peak RSS growth over the array's size (1.0 = one copy).
Prints medians over ``--runs`` runs. The machine may be shared: compare figures of one run only.
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
AORTA = HERE.parent.parent / "shared" / "data" / "totalseg_aorta_ct"


# -- building the archives --------------------------------------------------------------------------
def build_s0000(out: Path) -> None:
    subprocess.run([sys.executable, "-m", "medmask", "convert", str(DATA), str(out)], check=True,
                   capture_output=True, text=True)


def build_synthetic(out: Path, n_entries: int = 117, n_empty: int = 7, shape=(300, 256, 256)) -> None:
    import numpy as np

    from medmask import MaskArchive, SegmentationMask, axial_space
    from medmask.core.totalseg import TOTALSEG_COLORS

    names = list(TOTALSEG_COLORS)[:n_entries]
    space = axial_space(shape, spacing=(1.5, 1.0, 1.0), origin=(-128.0, -128.0, -200.0))
    rng = np.random.default_rng(117)
    zz, yy, xx = (np.arange(n, dtype=np.float32) for n in shape)
    with MaskArchive(out, "w", space=space) as archive:
        for k, name in enumerate(names):
            arr = np.zeros(shape, np.uint8)
            if k < n_entries - n_empty:
                r = rng.uniform(3, 30, size=3) * np.array([0.67, 1.0, 1.0])  # radii in voxels
                c = rng.uniform(r + 1, np.array(shape) - r - 1)
                lo = np.maximum(0, np.floor(c - r)).astype(int)
                hi = np.minimum(shape, np.ceil(c + r) + 1).astype(int)
                sub = ((zz[lo[0]:hi[0], None, None] - c[0]) / r[0]) ** 2 + \
                      ((yy[None, lo[1]:hi[1], None] - c[1]) / r[1]) ** 2 + \
                      ((xx[None, None, lo[2]:hi[2]] - c[2]) / r[2]) ** 2 <= 1
                arr[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = sub
            archive.add_segmask(SegmentationMask(arr, {name: 1}, space=space), name)


# -- measured in a child process ------------------------------------------------------------------------
def _turn() -> None:
    """One event-loop turn as napari's running loop makes it, deferred deletions included.

    ``QApplication.processEvents`` alone never runs ``deleteLater``: ``viewer.open``'s progress bar
    then outlives the open and napari's "in progress" animation repaints the whole window ~30
    times a second for ever (0.8 s CPU per 2 s, with napari's own reader too), a state no user's
    napari is in and one that slowed every figure measured after an open.
    """
    from qtpy.QtCore import QEvent
    from qtpy.QtWidgets import QApplication

    deferred = QEvent.Type.DeferredDelete
    QApplication.sendPostedEvents(None, int(getattr(deferred, "value", deferred)))
    QApplication.processEvents()


def _viewer(dock: bool = True):
    """A shown viewer (and the MedMask dock), idle: the dock's warm-up has run, as when a user drops a file."""
    import napari

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 850)
    widget = viewer.window.add_plugin_dock_widget("medmask", "MedMask archive")[1] if dock else None
    for _ in range(3):
        _turn()

    def draw():
        _turn()
        viewer.screenshot(canvas_only=True, flash=False)  # forces one full render of the canvas

    draw()
    t0 = time.perf_counter()
    while widget is not None and not getattr(widget, "warm_up_done", True) and time.perf_counter() - t0 < 60:
        _turn()
        time.sleep(0.002)
    steps = getattr(widget, "warm_up_times", [])  # an older dock has no warm-up
    return viewer, widget, draw, {"warmup_s": float(sum(steps)), "warmup_turn_s": float(max(steps, default=0.0))}


def _idle_after(seconds: float = 2.0) -> float:
    """CPU seconds the process spends while its event loop runs ``seconds`` after the first render.

    CPU rather than wall time: on a shared machine wall time counts other processes too.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        _turn()
        time.sleep(0.005)
    return time.process_time() - c0


def _drawn_of(layer) -> tuple[int, int, bool | None]:
    """(organs drawn, non-empty organs, rib_right_12 drawn) read off the composite layer itself."""
    import numpy as np

    from napari_medmask.composite import Composite

    comp = Composite.from_meta(layer.data, layer.metadata["medmask"]["composite"])
    non_empty = comp.entries
    cmap = layer.colormap

    def drawn(name):
        values = [v for v in range(1, len(comp.combos)) if any(comp.items[k].entry == name for k in comp.combos[v])]
        return bool(values) and bool((cmap.map(np.array(values))[:, 3] > 0).any())

    return (sum(drawn(n) for n in non_empty), len(non_empty),
            drawn("rib_right_12") if "rib_right_12" in non_empty else None)


def child_nodock(archive: str) -> dict:
    """No dock open: the archive dropped on a fresh napari (nothing warmed up: napari's first layer)."""
    import psutil

    proc = psutil.Process()
    viewer, _, draw, _ = _viewer(dock=False)
    rss0 = proc.memory_info().rss
    t0, c0 = time.perf_counter(), time.process_time()
    layers = viewer.open(archive, plugin="medmask")
    draw()
    t_open, c_open = time.perf_counter() - t0, time.process_time() - c0
    (layer,) = [ly for ly in layers if ly.metadata.get("medmask", {}).get("kind") == "composite"]
    n_drawn, n_non_empty, rib12 = _drawn_of(layer)
    rss1 = proc.memory_info().rss
    viewer.close()
    return {"nodock_open_s": t_open, "nodock_open_cpu_s": c_open, "nodock_drawn": n_drawn,
            "nodock_rib_right_12_drawn": rib12, "nodock_rss_mb": (rss1 - rss0) / 2**20}


def child(archive: str, warm: bool = False) -> dict:
    import numpy as np
    import psutil

    proc = psutil.Process()
    viewer, widget, draw, warmup = _viewer()
    if warm:  # napari's one-time set-up (first layer of a session: units registry, shaders) done before
        viewer.layers.remove(viewer.add_labels(np.zeros((2, 2, 2), np.uint8)))
        draw()
    rss0 = proc.memory_info().rss
    t0, c0 = time.perf_counter(), time.process_time()
    viewer.open(archive, plugin="medmask")
    draw()
    t_open, c_open = time.perf_counter() - t0, time.process_time() - c0
    idle = _idle_after()
    s = widget.session
    comp, layer = s.composite, s.composite_layer
    cmap = layer.colormap
    non_empty = [r.name for r in widget.model if not r.empty]

    def drawn(name):
        values = [v for v in range(1, len(comp.combos)) if any(comp.items[k].entry == name for k in comp.combos[v])]
        return bool(values) and bool((cmap.map(np.array(values))[:, 3] > 0).any())

    n_drawn = sum(drawn(n) for n in non_empty)
    rib12 = drawn("rib_right_12") if "rib_right_12" in non_empty else None

    def timed(fn, how):
        t = time.perf_counter()
        fn()
        if how == "turn":
            _turn()
        elif how == "render":
            draw()
        return time.perf_counter() - t

    def toggles(fn, key, how, n=5):
        out = []
        for _ in range(n):
            out.append(timed(lambda: fn(key, False), how))
            out.append(timed(lambda: fn(key, True), how))
        return statistics.median(out)

    def toggles_cpu(fn, key, n=5):
        """CPU seconds of one toggle + forced render (all the process's threads: software GL included)."""
        c = time.process_time()
        for _ in range(n):
            timed(lambda: fn(key, False), "render")
            timed(lambda: fn(key, True), "render")
        return (time.process_time() - c) / (2 * n)

    big = max(non_empty, key=lambda n: widget.model[n].voxels)
    small = "rib_right_12" if "rib_right_12" in non_empty else min(non_empty, key=lambda n: widget.model[n].voxels)
    groups = widget.model.groups()
    group = max(groups, key=lambda k: sum(not widget.model[m].empty for m in groups[k]))
    res = {}
    for how in ("call", "turn", "render"):
        res[f"toggle_big_{how}_s"] = toggles(widget.set_entry_visible, big, how)
        res[f"toggle_small_{how}_s"] = toggles(widget.set_entry_visible, small, how)
        res[f"toggle_group_{how}_s"] = toggles(widget.set_group_visible, group, how)
    res["toggle_big_render_cpu_s"] = toggles_cpu(widget.set_entry_visible, big)
    res["toggle_small_render_cpu_s"] = toggles_cpu(widget.set_entry_visible, small)
    res["toggle_group_render_cpu_s"] = toggles_cpu(widget.set_group_visible, group)
    t_edit = timed(lambda: widget.edit(small), "render")
    rss1 = proc.memory_info().rss
    viewer.close()
    if warm:
        return {"warm_open_s": t_open, "warm_open_cpu_s": c_open}
    return {"open_s": t_open, "open_cpu_s": c_open, "idle_s": idle, **warmup, "drawn": n_drawn, "non_empty": len(non_empty),
            "entries": len(widget.model), "rib_right_12_drawn": rib12, **res, "edit_s": t_edit,
            "rss_mb": (rss1 - rss0) / 2**20, "composite_mb": layer.data.nbytes / 2**20,
            "combos": len(comp.combos), "big": big, "small": small, "group": group,
            "group_n": sum(not widget.model[m].empty for m in groups[group])}


def child_open(archive: str) -> dict:
    """Open -> all drawn only, dock open and idle; the scan too when the archive records one and
    ``NAPARI_MEDMASK_OPEN_IMAGE`` is not 0; then the time to read that scan's voxels alone."""
    from medmask import MaskArchive
    from medmask.convert.image_io import read_image
    from napari_medmask.image_link import open_image_by_default

    with MaskArchive(archive) as ar:
        ref = ar.image_reference
    scan = ref.resolve(archive) if ref is not None else None
    want = 2 if scan is not None and open_image_by_default() else 1
    viewer, widget, draw, _ = _viewer()
    t0 = time.perf_counter()
    viewer.open(archive, plugin="medmask")
    while len(viewer.layers) < want and time.perf_counter() - t0 < 60:
        _turn()
    draw()
    t_open = time.perf_counter() - t0
    layers = len(viewer.layers)
    t_read = None
    if scan is not None:
        t = time.perf_counter()
        read_image(scan)
        t_read = time.perf_counter() - t
    viewer.close()
    return {"open_s": t_open, "layers": layers, "read_scan_s": t_read}


def child_3d(archive: str) -> dict:
    """3D: switching to it, then toggling the largest entry, each through one event-loop turn (the
    window's repaint, as after a click); a frame: the same turn after a small camera turn only.

    ``slices``: how many times the composite's data was re-sent to vispy (in 3D the whole volume)
    per toggle; ``renders``: canvas draws per toggle.
    """
    viewer, widget, draw, _ = _viewer()
    viewer.open(archive, plugin="medmask")
    draw()
    layer = widget.session.composite_layer
    t = time.perf_counter()
    viewer.dims.ndisplay = 3
    _turn()
    t_3d = time.perf_counter() - t
    counts = {"slices": 0, "renders": 0}
    layer.events.set_data.connect(lambda e: counts.__setitem__("slices", counts["slices"] + 1))
    try:  # benchmark only (private): count vispy's draws of the canvas
        canvas = viewer.window._qt_viewer.canvas._scene_canvas
        canvas.events.draw.connect(lambda e: counts.__setitem__("renders", counts["renders"] + 1))
    except AttributeError:
        counts["renders"] = float("nan")
    camera = viewer.scene.camera if hasattr(viewer, "scene") else viewer.camera
    angles = tuple(camera.angles)

    def turned(fn) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        fn()
        _turn()
        return time.perf_counter() - t, time.process_time() - c

    frames = [turned(lambda i=i: setattr(camera, "angles", (angles[0], angles[1] + 0.2 * (i + 1), angles[2])))[0]
              for i in range(3)]
    non_empty = [r.name for r in widget.model if not r.empty]
    big = max(non_empty, key=lambda n: widget.model[n].voxels)
    counts.update(slices=0, renders=0 if counts["renders"] == counts["renders"] else counts["renders"])
    times, cpu = [], []
    n = 2
    for _ in range(n):
        for visible in (False, True):
            w, c = turned(lambda: widget.set_entry_visible(big, visible))
            times.append(w)
            cpu.append(c)
    voxels = int(layer.data.size)
    viewer.close()
    return {"voxels": voxels, "to_3d_s": t_3d, "toggle3d_s": statistics.median(times),
            "toggle3d_cpu_s": statistics.median(cpu), "frame3d_s": statistics.median(frames),
            "slices_per_toggle": counts["slices"] / (2 * n), "renders_per_toggle": counts["renders"] / (2 * n),
            "big": big}


def child_layers(archive: str) -> dict:
    """The previous design, side by side: one cropped Labels layer per non-empty entry."""
    import psutil

    from medmask import MaskArchive
    from napari_medmask._layers import mask_to_layer_data

    proc = psutil.Process()
    viewer, _, draw, _ = _viewer(dock=False)
    rss0 = proc.memory_info().rss
    t, c = time.perf_counter(), time.process_time()
    n = 0
    with MaskArchive(archive) as ar:
        for info in ar.entries():
            if info.bbox is None:
                continue
            data, kwargs, _ = mask_to_layer_data(ar.load_segmask(info.name), name=info.name)
            viewer.add_labels(data, **kwargs)
            n += 1
    draw()
    t_layers, c_layers = time.perf_counter() - t, time.process_time() - c
    rss1 = proc.memory_info().rss
    viewer.close()
    return {"layers_open_s": t_layers, "layers_open_cpu_s": c_layers, "layers_rss_mb": (rss1 - rss0) / 2**20, "layers_n": n}


def child_big_ct(path: str) -> dict:
    import resource

    import psutil

    proc = psutil.Process()
    viewer, _, draw, _ = _viewer(dock=False)
    rss0 = proc.memory_info().rss
    peak0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t = time.perf_counter()
    (layer,) = viewer.open(path, plugin="medmask")
    draw()
    seconds = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    rss1 = proc.memory_info().rss
    nbytes = layer.data.nbytes
    limits = list(layer.contrast_limits)
    viewer.close()
    return {"ct_open_s": seconds, "ct_mb": nbytes / 2**20, "ct_rss_mb": (rss1 - rss0) / 2**20,
            "ct_peak_mb": (max(peak, peak0) - rss0) / 2**20, "ct_limits": limits}


def write_big_ct(path: Path, shape=(512, 512, 1000)) -> None:
    """A .nii.gz: the reader must inflate it into one array (an uncompressed .nii is memory-mapped)."""
    import nibabel as nib
    import numpy as np

    data = np.full(shape, -1000, np.int16)
    data[64:448, 96:416, 50:950] = 40
    data[200:300, 200:260, 100:900] = 700  # "bone"
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.8, 1.0, 1.0])), str(path))


# -- driver -----------------------------------------------------------------------------------------------
def _run_child(args: list[str], **env_extra: str) -> dict:
    env = {**os.environ, "QT_API": os.environ.get("QT_API", "pyqt6"), **env_extra}
    res = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, timeout=1800)
    line = [l for l in res.stdout.splitlines() if l.startswith("RESULT ")]
    if res.returncode != 0 or not line:
        raise RuntimeError(res.stdout[-3000:] + res.stderr[-3000:])
    return json.loads(line[0][7:])


def _median(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) if isinstance(v, float) else v for k, v in runs[0].items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-big-ct", action="store_true", help="skip the 512x512x1000 CT")
    parser.add_argument("--cases", default="s0000,synthetic117,scan,3d",
                        help="cases to run (comma-separated): s0000, synthetic117 (open, toggles, edit, memory), "
                             "scan (an archive recording its .nii.gz scan against the same without), "
                             "3d (s0000 upsampled, see --scales)")
    parser.add_argument("--skip-old-design", action="store_true",
                        help="do not re-measure the previous design (one Labels layer per organ; a minute per run)")
    parser.add_argument("--baseline", metavar="TREE",
                        help="scan case: also measure the plugin of another source tree (e.g. a checkout of main) "
                             "in the same loop, in turns")
    parser.add_argument("--scales", default="1,2,3",
                        help="3d case: upsampling factors of s0000 (3 = 273 M voxels; cached in benchmarks/.cache)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, path = args.child
        fn = {"archive": child, "warm": lambda p: child(p, warm=True), "nodock": child_nodock,
              "layers": child_layers, "ct": child_big_ct, "3d": child_3d, "open": child_open}[kind]
        print("RESULT " + json.dumps(fn(path)))
        return 0
    if not os.environ.get("DISPLAY"):
        print("needs a display: run under xvfb-run -a -s '-screen 0 1400x900x24'", file=sys.stderr)
        return 2
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-napari-") as tmp:
        cases = {}
        wanted = {c for c in args.cases.split(",") if c}
        if "s0000" not in wanted:
            pass
        elif DATA.is_dir():
            cases["s0000"] = Path(tmp) / "s0000.mska"
            build_s0000(cases["s0000"])
        else:
            print(f"skipping s0000: {DATA} not found")
        if "synthetic117" in wanted:
            cases["synthetic117"] = Path(tmp) / "synthetic117.mska"
            build_synthetic(cases["synthetic117"])
        for name, path in cases.items():
            runs = []
            for i in range(args.runs):
                r = _run_child(["--child", "archive", str(path)])
                r.update(_run_child(["--child", "warm", str(path)]))
                r.update(_run_child(["--child", "nodock", str(path)]))
                if not args.skip_old_design:
                    r.update(_run_child(["--child", "layers", str(path)]))
                runs.append(r)
                print(f"{name} run {i + 1}/{args.runs}: open -> all drawn {r['open_s']:.2f} s "
                      f"({r['drawn']}/{r['non_empty']} organs)" + (
                          "" if args.skip_old_design else f"; one layer per entry {r['layers_open_s']:.2f} s"),
                      flush=True)
            results[name] = _median(runs)
        if "scan" in wanted:
            if AORTA.is_dir():
                results["scan"] = _scan_case(Path(tmp), args.runs, args.baseline)
            else:
                print(f"skipping scan: {AORTA} not found")
        if "3d" in wanted:
            if DATA.is_dir():
                results["3d"] = _3d_case(Path(tmp), [int(k) for k in args.scales.split(",") if k])
            else:
                print(f"skipping 3d: {DATA} not found")
        if not args.no_big_ct:
            ct = Path(tmp) / "big_ct.nii.gz"
            write_big_ct(ct)
            results["big_ct"] = _run_child(["--child", "ct", str(ct)])
    _print(results, args.runs)
    return 0


def _scan_case(tmp: Path, runs: int, baseline: str | None = None) -> dict:
    """The aorta case's 18 masks as two archives, one recording ct.nii.gz and one not; opened in
    turns in the same loop: no scan, scan recorded but "Open scan" off, scan opened with the organs
    (and the same with the ``baseline`` tree's plugin)."""
    with_scan, without = tmp / "aorta_scan.mska", tmp / "aorta_noscan.mska"
    for out, extra in ((with_scan, ["--image", str(AORTA / "ct.nii.gz")]), (without, ["--no-image"])):
        subprocess.run([sys.executable, "-m", "medmask", "convert", str(AORTA / "segmentations"), str(out), *extra],
                       check=True, capture_output=True, text=True)
    trees = {"": {}}
    if baseline:
        trees["baseline_"] = {"PYTHONPATH": os.path.abspath(baseline)}
    out: dict[str, list] = {}
    for i in range(runs):
        for prefix, env in trees.items():
            res = {"noscan": _run_child(["--child", "open", str(without)], **env)["open_s"],
                   "scan_off": _run_child(["--child", "open", str(with_scan)], NAPARI_MEDMASK_OPEN_IMAGE="0",
                                          **env)["open_s"]}
            r = _run_child(["--child", "open", str(with_scan)], NAPARI_MEDMASK_OPEN_IMAGE="1", **env)
            if r["layers"] != 2:
                raise RuntimeError(f"the scan did not open with {with_scan}: {r}")
            res.update(scan_on=r["open_s"], read_scan=r["read_scan_s"])
            for k, v in res.items():
                out.setdefault(prefix + k, []).append(v)
            print(f"scan run {i + 1}/{runs}{' ' + baseline if prefix else ''}: no scan {res['noscan']:.2f} s, "
                  f"scan recorded not opened {res['scan_off']:.2f} s, scan opened {res['scan_on']:.2f} s "
                  f"(its voxels alone {res['read_scan']:.2f} s)", flush=True)
    return {k: statistics.median(v) for k, v in out.items()}


def _3d_case(tmp: Path, scales: list[int]) -> dict:
    """s0000 upsampled k times (nearest, cached): switch to 3D, then organ toggles in 3D."""
    sys.path.insert(0, str(HERE))
    from upsampled import upsampled_archive

    src = tmp / "s0000.mska"
    if not src.exists():
        build_s0000(src)
    out = {}
    for k in scales:
        path = upsampled_archive(src, k) if k > 1 else src
        r = _run_child(["--child", "3d", str(path)])
        out[k] = r
        print(f"3d x{k} ({r['voxels'] / 1e6:.0f} M voxels): to 3D {r['to_3d_s']:.1f} s, toggle "
              f"{r['toggle3d_s']:.1f} s, one frame {r['frame3d_s']:.1f} s", flush=True)
    return out


def _print(results: dict, runs: int) -> None:
    ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
    for name in ("s0000", "synthetic117"):
        if name not in results:
            continue
        m = results[name]
        print(f"\n{name}: {int(m['entries'])} entries, {int(m['non_empty'])} non-empty, "
              f"{int(m['combos'])} label combinations; median of {runs} runs")
        rows = [
            ("viewer.open -> every non-empty organ drawn (forced render)",
             f"{m['open_s']:.2f} s (CPU {m['open_cpu_s']:.2f} s)",
             f"{int(m['drawn'])}/{int(m['non_empty'])} drawn; rib_right_12 drawn: {m['rib_right_12_drawn']}; "
             f"first layer of the session, dock open (its idle warm-up done)"),
            ("  dock's warm-up before that (idle event-loop turns)",
             f"{m['warmup_s']:.2f} s", f"in steps of at most {ms(m['warmup_turn_s'])}"),
            ("  the same open, no dock: nothing warmed up",
             f"{m['nodock_open_s']:.2f} s (CPU {m['nodock_open_cpu_s']:.2f} s)",
             f"{int(m['nodock_drawn'])}/{int(m['non_empty'])} drawn; rib_right_12 drawn: "
             f"{m['nodock_rib_right_12_drawn']}"),
            ("  the same, napari already warmed up by an earlier layer",
             f"{m['warm_open_s']:.2f} s (CPU {m['warm_open_cpu_s']:.2f} s)", ""),
            ("CPU used in the 2 s after that (background work)", f"{m['idle_s']:.2f} s",
             "the plugin schedules none"),
            ("toggle largest entry: call / + repaint turn / + render (its CPU)",
             f"{ms(m['toggle_big_call_s'])} / {ms(m['toggle_big_turn_s'])} / {ms(m['toggle_big_render_s'])} "
             f"(CPU {ms(m['toggle_big_render_cpu_s'])})",
             m["big"]),
            ("toggle small entry: call / + repaint turn / + render (its CPU)",
             f"{ms(m['toggle_small_call_s'])} / {ms(m['toggle_small_turn_s'])} / {ms(m['toggle_small_render_s'])} "
             f"(CPU {ms(m['toggle_small_render_cpu_s'])})",
             m["small"]),
            ("toggle group: call / + repaint turn / + render (its CPU)",
             f"{ms(m['toggle_group_call_s'])} / {ms(m['toggle_group_turn_s'])} / {ms(m['toggle_group_render_s'])} "
             f"(CPU {ms(m['toggle_group_render_cpu_s'])})",
             f"{m['group']} ({int(m['group_n'])} non-empty)"),
            ("Edit: entry's own layer (+ render)", ms(m["edit_s"]), m["small"]),
            ("RSS growth: open + toggles + one edit layer", f"{m['rss_mb']:.0f} MiB",
             f"composite {m['composite_mb']:.1f} MiB = one volume"),
        ]
        if "layers_open_s" in m:
            rows.append(("previous design: one cropped layer per non-empty entry",
                         f"{m['layers_open_s']:.2f} s (CPU {m['layers_open_cpu_s']:.2f} s)",
                         f"{int(m['layers_n'])} layers, RSS +{m['layers_rss_mb']:.0f} MiB"))
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        for a, b, c in rows:
            print(f"  {a:<{w0}}  {b:>{w1}}  {c}")
    if "scan" in results:
        c = results["scan"]
        print(f"\naorta case (18 masks, ct.nii.gz 164x126x120), open -> all drawn, dock open; median of {runs} runs:")
        for prefix, label in (("", "this tree"), ("baseline_", "baseline")):
            if prefix + "noscan" not in c:
                continue
            no, off, on, read = (c[prefix + k] for k in ("noscan", "scan_off", "scan_on", "read_scan"))
            print(f"  {label}: no scan recorded {no:.2f} s; scan recorded, 'Open scan' off {off:.2f} s "
                  f"({off / no:.2f}x); scan opened {on:.2f} s ({on / no:.2f}x; no scan + reading its voxels: "
                  f"{no + read:.2f} s)")
    if "3d" in results:
        print("\n3D (s0000 upsampled k times, dock open): switch to 3D, then hide/show the largest organ, each "
              "through one event-loop turn (the window's repaint after a click); one frame = the same turn after "
              "a 0.2 degree camera turn")
        for k, r in results["3d"].items():
            print(f"  x{k}: {r['voxels'] / 1e6:5.0f} M voxels  to 3D {r['to_3d_s']:5.1f} s  toggle "
                  f"{r['toggle3d_s']:5.1f} s (CPU {r['toggle3d_cpu_s']:.1f} s) = {r['toggle3d_s'] / r['frame3d_s']:.2f} "
                  f"frames of {r['frame3d_s']:.1f} s; volume re-sent {r['slices_per_toggle']:.0f}x, "
                  f"canvas draws {r['renders_per_toggle']:.1f} per toggle")
    if "big_ct" in results:
        c = results["big_ct"]
        print(f"\nbig CT 512x512x1000 int16 ({c['ct_mb']:.0f} MiB): open + render {c['ct_open_s']:.1f} s, "
              f"peak RSS growth {c['ct_peak_mb']:.0f} MiB ({c['ct_peak_mb'] / c['ct_mb']:.2f} copies), "
              f"after {c['ct_rss_mb']:.0f} MiB; window {c['ct_limits']}")


if __name__ == "__main__":
    sys.exit(main())
