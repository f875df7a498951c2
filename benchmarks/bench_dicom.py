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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the series and SEGs in this folder")
    args = ap.parse_args()
    if not CASE.is_dir():
        print(f"{CASE} is absent: nothing to measure")
        return 0
    import highdicom as hd
    from dicom_helpers import make_series

    from medmask.convert.dicom_seg import DicomSegWarning, read_dicom_seg, write_dicom_seg
    from medmask.convert.dicom_series import read_dicom_series_header
    from medmask.convert.nifti_folder import read_nifti_folder

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dicom-"))
    work.mkdir(parents=True, exist_ok=True)
    space, items = read_nifti_folder(CASE)
    items = list(items)
    nonempty = sum(1 for _, m in items if m.bbox is not None)
    print(f"case: {CASE.name}, {len(items)} masks ({nonempty} non-empty), grid {tuple(space.shape)}, "
          f"spacing {tuple(round(float(s), 3) for s in space.spacing)}")
    folder = work / "ct"
    if not folder.is_dir():
        make_series(folder, space, shuffle=False)
    series = read_dicom_series_header(folder)
    print(f"series: {len(series.files)} files written with pydicom on the case's grid")
    rows = []

    seg_path = work / "s0000.seg.dcm"

    def export():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DicomSegWarning)
            write_dicom_seg(items, space, seg_path, series=series, algorithm="TotalSegmentator:2")
    t_export, _ = timed(export, args.runs)
    size = seg_path.stat().st_size
    rows.append(("export", "medmask write_dicom_seg (highdicom)", t_export, f"{size / 1e6:.1f} MB"))

    itk2seg = tool("itkimage2segimage")
    if itk2seg:
        files = sorted(CASE.glob("*.nii.gz"))
        meta = {"ContentCreatorName": "bench", "ClinicalTrialSeriesID": "1", "ClinicalTrialTimePointID": "1",
                "SeriesDescription": "dcmqi", "SeriesNumber": "300", "InstanceNumber": "1",
                "segmentAttributes": [[{"labelID": 1, "SegmentLabel": f.name[:-7][:64],
                                        "SegmentAlgorithmType": "MANUAL",
                                        "SegmentedPropertyCategoryCodeSequence": {"CodingSchemeDesignator": "SCT",
                                                                                  "CodeValue": "85756007",
                                                                                  "CodeMeaning": "Tissue"},
                                        "SegmentedPropertyTypeCodeSequence": {"CodingSchemeDesignator": "SCT",
                                                                              "CodeValue": "85756007",
                                                                              "CodeMeaning": "Tissue"}}]
                                      for f in files]}
        (work / "dcmqi_meta.json").write_text(json.dumps(meta))
        cmd = [itk2seg, "--inputImageList", ",".join(map(str, files)), "--inputDICOMDirectory", str(folder),
               "--outputDICOM", str(work / "dcmqi.seg.dcm"), "--inputMetadata", str(work / "dcmqi_meta.json"),
               "--skip", "1"]

        def dcmqi_export():
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
        try:
            t, _ = timed(dcmqi_export, args.runs)
            rows.append(("export", "dcmqi itkimage2segimage (117 NIfTI)", t,
                         f"{(work / 'dcmqi.seg.dcm').stat().st_size / 1e6:.1f} MB"))
        except RuntimeError as exc:
            rows.append(("export", "dcmqi itkimage2segimage", float("nan"), f"failed: {str(exc)[-200:]}"))

    t_import, (back_space, back) = timed(lambda: read_dicom_seg(seg_path), args.runs)
    same = all(np.array_equal(a.data, b.data) for (_, a), (_, b) in zip(items, back)) and len(back) == len(items)
    rows.append(("import", "medmask read_dicom_seg (all entries)", t_import, f"exact round trip: {same}"))

    def hd_labelmap():
        seg = hd.seg.segread(seg_path)
        return seg.get_volume(combine_segments=True, skip_overlap_checks=True, allow_missing_positions=True)
    t, vol = timed(hd_labelmap, args.runs)
    rows.append(("import", "highdicom segread + get_volume (one label volume, overlaps not checked)", t, f"shape {vol.array.shape}"))

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
        t, _ = timed(dcmqi_import, args.runs)
        rows.append(("import", "dcmqi segimage2itkimage (NRRD per segment)", t, ""))

    print(f"\n{'':7}{'tool':52}{'median s':>9}  notes   (median of {args.runs} runs; shared 2-core machine)")
    for kind, name, t, note in rows:
        print(f"{kind:7}{name:52}{t:9.2f}  {note}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
