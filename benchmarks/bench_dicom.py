"""DICOM-SEG export and import of the 117 TotalSegmentator masks of s0000, side by side.

The case has no DICOM series of its own, so a series is written first on exactly its grid
(179 oblique slices of 192 x 294, 1.5 mm, about 18 deg rotated), as a scanner would have
produced it; every tool then references that series. Two cases: s0000 itself (21 non-empty
masks) and 117 non-empty, overlapping ellipsoids of 8-60 slices on the same grid.

Export:  medmask ``write_dicom_seg`` vs highdicom's ``Segmentation`` given what it asks for when
         segments overlap (the stacked slices x rows x columns x segments array; one run) vs
         dcmqi ``itkimage2segimage`` (one NRRD per mask + a metadata JSON).
Import:  medmask ``read_dicom_seg`` (all segments, as archive entries) vs highdicom's own read
         path (``segread`` + ``get_volume``: one label volume; and segment by segment, one run)
         vs dcmqi ``segimage2itkimage`` (one NRRD per segment).

Times: median of --runs runs (default 3), every tool in the same run. Memory: each Python step
runs in a fresh process that first loads its input (the masks to export, or nothing) and the
libraries; "peak MB" is how much its resident memory then grew at most (Linux VmHWM). For dcmqi
it is the peak of its whole process. The machine may be shared: say so.
Run: PYTHONPATH=. python benchmarks/bench_dicom.py [--runs 3] [--keep DIR] [--no-stacked]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CASE = REPO.parent / "shared" / "data" / "totalseg_s0000"
sys.path.insert(0, str(REPO / "tests" / "dicom"))
TISSUE = {"CodingSchemeDesignator": "SCT", "CodeValue": "85756007", "CodeMeaning": "Tissue"}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def measured(fn) -> tuple[float, object, float]:
    """(seconds, result, MB of resident memory the call added at its peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM (peak RSS) to the current RSS
    except OSError:
        pass
    before = _status_kb("VmRSS")
    t = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t
    return elapsed, out, max(0, _status_kb("VmHWM") - before) / 1024


def timed(fn, runs: int) -> tuple[float, object, float]:
    """Median seconds, last result, largest added peak memory (MB) over ``runs`` runs."""
    times, peaks, out = [], [], None
    for _ in range(runs):
        t, out, mb = measured(fn)
        times.append(t)
        peaks.append(mb)
    return statistics.median(times), out, max(peaks)


def run_tool(cmd: list[str]) -> tuple[float, float]:
    """(seconds, MB peak resident memory of the tool's process)."""
    t = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - t
        if proc.returncode != 0:
            log.seek(0)
            raise RuntimeError(log.read()[-400:].decode(errors="replace"))
    return elapsed, usage.ru_maxrss / 1024


def timed_tool(cmd: list[str], runs: int, before=None) -> tuple[float, float]:
    times, peaks = [], []
    for _ in range(runs):
        if before:
            before()
        t, mb = run_tool(cmd)
        times.append(t)
        peaks.append(mb)
    return statistics.median(times), max(peaks)


def tool(name: str) -> str | None:
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else shutil.which(name)


def blobs(space, names: list[str]):
    """117 non-empty masks on the case's grid: ellipsoids of 8-60 slices, many overlapping (kept as crops)."""
    from medmask import SegmentationMask
    from medmask.core.geometry import bbox_slices, compute_bbox

    rng = np.random.default_rng(0)
    shape = np.asarray(space.shape)
    out = []
    for name in names:
        r = rng.uniform((4, 6, 6), (30, 25, 25))
        c = rng.uniform(r, shape - r)
        lo = np.maximum(np.floor(c - r).astype(int), 0)
        hi = np.minimum(np.ceil(c + r).astype(int) + 1, shape)
        zz, yy, xx = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        inside = (((zz - c[0]) / r[0]) ** 2 + ((yy - c[1]) / r[1]) ** 2 + ((xx - c[2]) / r[2]) ** 2) <= 1
        sub = compute_bbox(inside)
        box = tuple((int(a + o), int(b + o)) for (a, b), o in zip(sub, lo))
        crop = np.ascontiguousarray(inside[bbox_slices(sub)]).astype(np.uint8)
        out.append((name, SegmentationMask.from_crop(crop, box, {name: 1}, space, np.uint8)))
    return out


def highdicom_stacked_export(items, space, series, path: Path) -> None:
    """highdicom's Segmentation the documented way for overlapping segments: a stacked bool array."""
    import highdicom as hd

    from medmask.convert import dicom_seg
    from medmask.core.geometry import bbox_slices

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        segments, _ = dicom_seg._segment_plan(items, space, path)
        descriptions = [dicom_seg._segment_description(hd, s, ("TotalSegmentator", "2"), False) for s in segments]
        options = dicom_seg._segmentation_options(hd, "binary", descriptions, 300, None, "bench", {})
        shape = tuple(int(v) for v in space.shape)
        stacked = np.zeros((*shape, len(segments)), dtype=bool)
        for i, s in enumerate(segments):
            stacked[(*bbox_slices(s["box"]), i)] = s["region"]
        seg = hd.seg.Segmentation(source_images=series.datasets, pixel_array=stacked, **options)
        del stacked
        seg.save_as(path, enforce_file_format=True)


def python_step(step: str, label: str, work: Path, runs: int) -> dict:
    """Run one step of this script in a fresh process: {"seconds", "mb", "note"}."""
    proc = subprocess.run([sys.executable, __file__, "--step", step, "--case", label, "--keep", str(work),
                           "--runs", str(runs)], capture_output=True, text=True, env={**os.environ,
                           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"seconds": float("nan"), "mb": float("nan"), "note": f"failed: {proc.stderr[-300:]!r}"}
    return json.loads(lines[-1])


def load_case(label: str):
    """(space, items, series) of a case; the series folder is written once into ``work``."""
    from medmask.convert.nifti_folder import read_nifti_folder

    space, items = read_nifti_folder(CASE)
    items = list(items)
    if label != "s0000":
        items = blobs(space, [n for n, _ in items])
    return space, items


def run_step(step: str, label: str, work: Path, runs: int) -> dict:
    """One measured step, in this (fresh) process."""
    import highdicom as hd
    import pydicom

    from medmask.convert.dicom_seg import DicomSegWarning, read_dicom_seg, write_dicom_seg
    from medmask.convert.dicom_series import read_dicom_series_header

    case_dir = work / label.replace(" ", "_")
    seg_path = case_dir / "case.seg.dcm"
    if step.startswith("export"):
        space, items = load_case(label)
        for _, mask in items:
            mask.bbox  # noqa: B018 - boxes known before timing, as for masks read from an archive
        series = read_dicom_series_header(work / "ct")
    if step == "export-medmask":
        def fn():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DicomSegWarning)
                write_dicom_seg(items, space, seg_path, series=series, algorithm="TotalSegmentator:2")
        t, _, mb = timed(fn, runs)
        ds = pydicom.dcmread(seg_path, stop_before_pixels=True)
        note = (f"{seg_path.stat().st_size / 1e6:.1f} MB, {len(ds.SegmentSequence)} segments, "
                f"{ds.NumberOfFrames} frames")
    elif step == "export-highdicom":
        t, _, mb = timed(lambda: highdicom_stacked_export(items, space, series, case_dir / "hd.seg.dcm"), runs)
        note = f"{(case_dir / 'hd.seg.dcm').stat().st_size / 1e6:.1f} MB"
    elif step == "import-medmask":
        t, (_, back), mb = timed(lambda: read_dicom_seg(seg_path), runs)
        _, items = load_case(label)
        same = len(back) == len(items) and all(
            a.mapping == b.mapping and a.bbox == b.bbox and np.array_equal(a.crop_data, b.crop_data)
            for (_, a), (_, b) in zip(items, back))
        note = f"exact round trip: {same}"
    elif step == "import-highdicom":
        def fn():
            seg = hd.seg.segread(seg_path)
            return seg.get_volume(combine_segments=True, skip_overlap_checks=True,
                                  allow_missing_positions=True).shape
        t, shape, mb = timed(fn, runs)
        note = f"shape {shape}; overlaps not checked, so overlapping voxels keep one segment"
    elif step == "import-highdicom-each":
        def fn():
            seg = hd.seg.segread(seg_path)
            return len([seg.get_volume(segment_numbers=[n], combine_segments=True,
                                       allow_missing_positions=True).shape for n in seg.segment_numbers])
        t, count, mb = timed(fn, runs)
        note = f"{count} volumes"
    else:
        raise SystemExit(f"unknown step {step!r}")
    return {"seconds": t, "mb": mb, "note": note}


def measure(items, space, series, label: str, work: Path, runs: int, stacked: bool) -> list:
    import nrrd

    from medmask.convert._geometry import nrrd_geometry_from_space

    case_dir = work / label.replace(" ", "_")
    case_dir.mkdir(parents=True, exist_ok=True)
    seg_path = case_dir / "case.seg.dcm"
    rows = []

    def add(kind: str, name: str, step: str, step_runs: int) -> None:
        r = python_step(step, label, work, step_runs)
        rows.append((kind, name, r["seconds"], r["mb"], r["note"]))

    add("export", "medmask write_dicom_seg", "export-medmask", runs)
    if stacked:
        add("export", "highdicom Segmentation, stacked array (1 run)", "export-highdicom", 1)

    itk2seg = tool("itkimage2segimage")
    if itk2seg:
        # dcmqi's input: one NRRD per non-empty mask with medmask's exact (orthonormal) geometry; ITK
        # refuses the case's own float32 NIfTI headers as non-orthonormal
        directions, origin = nrrd_geometry_from_space(space)
        files, attrs = [], []
        for name, mask in items:
            if mask.bbox is None:
                continue
            f = case_dir / f"{name}.nrrd"
            if not f.exists():
                nrrd.write(str(f), np.asarray(mask.data, np.uint8), {"space": "left-posterior-superior",
                           "space directions": directions, "space origin": origin, "kinds": ["domain"] * 3,
                           "encoding": "gzip"}, index_order="C")
            files.append(f)
            attrs.append([{"labelID": 1, "SegmentLabel": name[:64], "SegmentAlgorithmType": "MANUAL",
                           "SegmentedPropertyCategoryCodeSequence": TISSUE, "SegmentedPropertyTypeCodeSequence": TISSUE}])
        meta = {"ContentCreatorName": "bench", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
                "SeriesDescription": "dcmqi", "SeriesNumber": "300", "InstanceNumber": "1",
                "segmentAttributes": attrs}
        (case_dir / "dcmqi_meta.json").write_text(json.dumps(meta))
        cmd = [itk2seg, "--inputImageList", ",".join(map(str, files)), "--inputDICOMDirectory", str(series.folder),
               "--outputDICOM", str(case_dir / "dcmqi.seg.dcm"), "--inputMetadata", str(case_dir / "dcmqi_meta.json"),
               "--skip", "1"]
        try:
            t, mb = timed_tool(cmd, runs)
            rows.append(("export", f"dcmqi itkimage2segimage ({len(files)} NRRD in)", t, mb,
                         f"{(case_dir / 'dcmqi.seg.dcm').stat().st_size / 1e6:.1f} MB; memory: whole process"))
        except RuntimeError as exc:
            rows.append(("export", "dcmqi itkimage2segimage", float("nan"), float("nan"),
                         f"failed: {str(exc)[-160:]!r}"))

    add("import", "medmask read_dicom_seg (all entries)", "import-medmask", runs)
    add("import", "highdicom segread + get_volume (one label volume)", "import-highdicom", runs)
    add("import", "highdicom get_volume segment by segment (1 run)", "import-highdicom-each", 1)

    seg2itk = tool("segimage2itkimage")
    if seg2itk:
        out = case_dir / "dcmqi_out"

        def fresh():
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
        t, mb = timed_tool([seg2itk, "--inputDICOM", str(seg_path), "--outputDirectory", str(out), "-t", "nrrd"],
                           runs, before=fresh)
        meta = json.loads((out / "meta.json").read_text())
        theirs = {}
        for i, group in enumerate(meta["segmentAttributes"], start=1):
            data, _ = nrrd.read(str(out / f"{i}.nrrd"), index_order="C")
            for attrs in group:
                theirs[attrs["SegmentLabel"]] = int(np.count_nonzero(data == attrs["labelID"]))
        ours = {name[:64]: int(np.count_nonzero(mask.crop_data)) for name, mask in items if mask.bbox is not None}
        rows.append(("import", "dcmqi segimage2itkimage (NRRD per segment)", t, mb,
                     f"memory: whole process; same voxel counts as ours: {theirs == ours}"))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the series and SEGs in this folder")
    ap.add_argument("--no-stacked", action="store_true", help="skip highdicom's stacked-array export (slow, GBs)")
    ap.add_argument("--step", help=argparse.SUPPRESS)  # one measured step, in a fresh process
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not CASE.is_dir():
        print(f"{CASE} is absent: nothing to measure")
        return 0
    if args.step:
        print(json.dumps(run_step(args.step, args.case, args.keep, args.runs)))
        return 0
    from dicom_helpers import make_series

    from medmask.convert.dicom_series import read_dicom_series_header
    from medmask.convert.nifti_folder import read_nifti_folder

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dicom-"))
    work.mkdir(parents=True, exist_ok=True)
    space, items = read_nifti_folder(CASE)
    items = list(items)
    folder = work / "ct"
    if not folder.is_dir():
        make_series(folder, space, shuffle=False)
    series = read_dicom_series_header(folder)
    print(f"series: {len(series.files)} files written with pydicom on the grid of {CASE.name} {tuple(space.shape)}, "
          f"spacing {tuple(round(float(s), 3) for s in space.spacing)}, 18 deg oblique; cpus: {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    rows = []
    cases = [("s0000", items), ("117 blobs", blobs(space, [n for n, _ in items]))]
    for label, case_items in cases:
        nonempty = sum(1 for _, m in case_items if m.bbox is not None)
        rows.append((f"-- {label}: {len(case_items)} masks, {nonempty} non-empty", "", None, None, ""))
        rows += measure(case_items, space, series, label, work, args.runs, not args.no_stacked)
    print(f"\n{'':7}{'tool':52}{'median s':>9}{'peak MB':>9}  notes   (median of {args.runs} runs; "
          f"load average now {os.getloadavg()[0]:.1f})")
    for kind, name, t, mb, note in rows:
        if t is None:
            print(kind)
        else:
            print(f"{kind:7}{name:52}{t:9.2f}{mb:9.0f}  {note}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
