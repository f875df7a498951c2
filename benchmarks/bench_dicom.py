"""DICOM-SEG export and import of the 117 TotalSegmentator masks of s0000, side by side.

The case has no DICOM series of its own, so a series is written first on exactly its grid
(179 oblique slices of 192 x 294, 1.5 mm, about 18 deg rotated), as a scanner would have
produced it; every tool then references that series.

Export:  medmask (``write_dicom_seg``: highdicom underneath, label-map input when nothing
         overlaps) vs dcmqi ``itkimage2segimage`` (117 NIfTI files + a metadata JSON).
Import:  medmask (``read_dicom_seg``: all segments, as archive entries) vs highdicom's own read
         path (``segread`` + ``get_volume``: one label volume, and segment by segment) vs dcmqi
         ``segimage2itkimage`` (one NRRD per segment).

Median of --runs runs (default 3), each tool in the same process run, on a shared machine.
Run: PYTHONPATH=. python benchmarks/bench_dicom.py [--runs 3] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
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


def timed(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def tool(name: str) -> str | None:
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else shutil.which(name)


def blobs(space, names: list[str]):
    """117 non-empty masks on the case's grid: ellipsoids of 8-60 slices, a few overlapping."""
    from medmask import SegmentationMask

    rng = np.random.default_rng(0)
    shape = np.asarray(space.shape)
    out = []
    zz, yy, xx = np.ogrid[: shape[0], : shape[1], : shape[2]]
    for name in names:
        r = rng.uniform((4, 6, 6), (30, 25, 25))
        c = rng.uniform(r, shape - r)
        lo = np.maximum(np.floor(c - r).astype(int), 0)
        hi = np.minimum(np.ceil(c + r).astype(int) + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        inside = (((zz[box[0]] - c[0]) / r[0]) ** 2 + ((yy[:, box[1]] - c[1]) / r[1]) ** 2
                  + ((xx[:, :, box[2]] - c[2]) / r[2]) ** 2) <= 1
        m = np.zeros(tuple(shape), np.uint8)
        m[box][inside] = 1
        out.append((name, SegmentationMask(m, {name: 1}, space=space)))
    return out


def measure(label, items, space, series, work: Path, runs: int) -> list:
    import highdicom as hd
    import nrrd

    from medmask.convert._geometry import nrrd_geometry_from_space
    from medmask.convert.dicom_seg import DicomSegWarning, read_dicom_seg, write_dicom_seg

    work.mkdir(parents=True, exist_ok=True)
    rows = []
    seg_path = work / "case.seg.dcm"

    def export():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DicomSegWarning)
            write_dicom_seg(items, space, seg_path, series=series, algorithm="TotalSegmentator:2")
    t_export, _ = timed(export, runs)
    import pydicom

    ds = pydicom.dcmread(seg_path, stop_before_pixels=True)
    rows.append(("export", "medmask write_dicom_seg (highdicom)", t_export,
                 f"{seg_path.stat().st_size / 1e6:.1f} MB, {len(ds.SegmentSequence)} segments, "
                 f"{ds.NumberOfFrames} frames"))

    itk2seg = tool("itkimage2segimage")
    if itk2seg:
        # dcmqi's input: one NRRD per non-empty mask with medmask's exact (orthonormal) geometry; ITK
        # refuses the case's own float32 NIfTI headers as non-orthonormal
        directions, origin = nrrd_geometry_from_space(space)
        files, attrs = [], []
        for name, mask in items:
            if mask.bbox is None:
                continue
            f = work / f"{name}.nrrd"
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
        (work / "dcmqi_meta.json").write_text(json.dumps(meta))
        cmd = [itk2seg, "--inputImageList", ",".join(map(str, files)), "--inputDICOMDirectory", str(series.folder),
               "--outputDICOM", str(work / "dcmqi.seg.dcm"), "--inputMetadata", str(work / "dcmqi_meta.json"),
               "--skip", "1"]

        def dcmqi_export():
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(proc.stdout[-300:] + proc.stderr[-300:])
        try:
            t, _ = timed(dcmqi_export, runs)
            rows.append(("export", f"dcmqi itkimage2segimage ({len(files)} NRRD)", t,
                         f"{(work / 'dcmqi.seg.dcm').stat().st_size / 1e6:.1f} MB"))
        except RuntimeError as exc:
            rows.append(("export", "dcmqi itkimage2segimage", float("nan"), f"failed: {str(exc)[-160:]!r}"))

    t_import, (back_space, back) = timed(lambda: read_dicom_seg(seg_path), runs)
    same = len(back) == len(items) and all(np.array_equal(a.data, b.data) for (_, a), (_, b) in zip(items, back))
    rows.append(("import", "medmask read_dicom_seg (all entries)", t_import, f"exact round trip: {same}"))

    def hd_labelmap():
        seg = hd.seg.segread(seg_path)
        return seg.get_volume(combine_segments=True, skip_overlap_checks=True, allow_missing_positions=True)
    t, vol = timed(hd_labelmap, runs)
    rows.append(("import", "highdicom segread + get_volume (one label volume)", t,
                 f"shape {vol.array.shape}; overlaps not checked"))

    def hd_each():
        seg = hd.seg.segread(seg_path)
        return [seg.get_volume(segment_numbers=[n], combine_segments=True, allow_missing_positions=True)
                for n in seg.segment_numbers]
    t, vols = timed(hd_each, 1)
    rows.append(("import", "highdicom get_volume segment by segment", t, f"{len(vols)} volumes (1 run)"))

    seg2itk = tool("segimage2itkimage")
    if seg2itk:
        def dcmqi_import():
            out = work / "dcmqi_out"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            proc = subprocess.run([seg2itk, "--inputDICOM", str(seg_path), "--outputDirectory", str(out),
                                   "-t", "nrrd"], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-500:])
        t, _ = timed(dcmqi_import, runs)
        rows.append(("import", "dcmqi segimage2itkimage (NRRD per segment)", t, ""))
    return rows


TISSUE = {"CodingSchemeDesignator": "SCT", "CodeValue": "85756007", "CodeMeaning": "Tissue"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the series and SEGs in this folder")
    args = ap.parse_args()
    if not CASE.is_dir():
        print(f"{CASE} is absent: nothing to measure")
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
          f"spacing {tuple(round(float(s), 3) for s in space.spacing)}, 18 deg oblique")
    rows = []
    cases = [("s0000", items), ("117 blobs", blobs(space, [n for n, _ in items]))]
    for label, case_items in cases:
        nonempty = sum(1 for _, m in case_items if m.bbox is not None)
        rows.append((f"-- {label}: {len(case_items)} masks, {nonempty} non-empty", "", None, ""))
        rows += measure(label, case_items, space, series, work / label.replace(" ", "_"), args.runs)
    print(f"\n{'':7}{'tool':60}{'median s':>9}  notes   (median of {args.runs} runs; shared 2-core machine)")
    for kind, name, t, note in rows:
        if t is None:
            print(kind)
        else:
            print(f"{kind:7}{name:60}{t:9.2f}  {note}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
